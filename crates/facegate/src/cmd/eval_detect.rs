//! `eval detect --dlib-xml FILE`: recall and precision against dlib's
//! hand-labelled boxes (imglab XML), matching at an IoU threshold.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use facegate_core::BoundingBox;
use facegate_vision::session::Threading;
use quick_xml::events::Event;
use serde::Serialize;

use super::Ctx;
use crate::cli::EvalDetectArgs;
use crate::output::print_json;

#[derive(Debug, Clone, PartialEq)]
pub struct LabelledImage {
    pub file: PathBuf,
    pub boxes: Vec<BoundingBox>,
}

/// Parse an imglab dataset; boxes marked `ignore='1'` are dropped.
pub fn parse_imglab(xml: &str) -> anyhow::Result<Vec<LabelledImage>> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut images: Vec<LabelledImage> = Vec::new();
    loop {
        match reader.read_event().context("malformed XML")? {
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == b"image" => {
                let file = attr(&e, b"file")?.context("<image> without file")?;
                images.push(LabelledImage {
                    file: PathBuf::from(file),
                    boxes: Vec::new(),
                });
            }
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == b"box" => {
                if attr(&e, b"ignore")?.as_deref() == Some("1") {
                    continue;
                }
                let num = |name: &[u8]| -> anyhow::Result<f32> {
                    attr(&e, name)?
                        .context("box attribute missing")?
                        .parse::<f32>()
                        .context("box attribute not a number")
                };
                let b = BoundingBox::from_xywh(
                    num(b"left")?,
                    num(b"top")?,
                    num(b"width")?,
                    num(b"height")?,
                );
                images
                    .last_mut()
                    .context("<box> outside <image>")?
                    .boxes
                    .push(b);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(images)
}

fn attr(e: &quick_xml::events::BytesStart, name: &[u8]) -> anyhow::Result<Option<String>> {
    for a in e.attributes() {
        let a = a.context("malformed attribute")?;
        if a.key.as_ref() == name {
            return Ok(Some(String::from_utf8_lossy(&a.value).into_owned()));
        }
    }
    Ok(None)
}

#[derive(Debug, Serialize, Default)]
pub struct DetectReport {
    pub images: usize,
    pub labelled_faces: usize,
    pub detections: usize,
    pub matched: usize,
    pub recall: f64,
    pub precision: f64,
    pub iou: f32,
    pub mean_ms_per_image: f64,
}

/// Greedy matching: detections (best score first) take the unmatched label with the highest IoU ≥ `iou`.
pub fn count_matches(labels: &[BoundingBox], detections: &[(BoundingBox, f32)], iou: f32) -> usize {
    let mut order: Vec<usize> = (0..detections.len()).collect();
    order.sort_by(|&a, &b| detections[b].1.total_cmp(&detections[a].1));
    let mut used = vec![false; labels.len()];
    let mut matched = 0;
    for d in order {
        let best = labels
            .iter()
            .enumerate()
            .filter(|(i, _)| !used[*i])
            .map(|(i, l)| (i, l.iou(&detections[d].0)))
            .filter(|(_, v)| *v >= iou)
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((i, _)) = best {
            used[i] = true;
            matched += 1;
        }
    }
    matched
}

pub fn run(ctx: &Ctx, args: EvalDetectArgs) -> anyhow::Result<ExitCode> {
    let xml = std::fs::read_to_string(&args.dlib_xml)
        .with_context(|| format!("reading {}", args.dlib_xml.display()))?;
    let labelled = parse_imglab(&xml)?;
    let base = args.dlib_xml.parent().unwrap_or(Path::new("."));
    let engine = ctx.engine(Threading::single_caller())?;
    let mut report = DetectReport {
        iou: args.iou,
        ..Default::default()
    };
    let start = std::time::Instant::now();
    for item in &labelled {
        let path = base.join(&item.file);
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let image = engine.decode(&bytes)?;
        let faces = engine.detect(&image)?;
        let detections: Vec<(BoundingBox, f32)> = faces.iter().map(|f| (f.bbox, f.score)).collect();
        report.images += 1;
        report.labelled_faces += item.boxes.len();
        report.detections += detections.len();
        report.matched += count_matches(&item.boxes, &detections, args.iou);
    }
    report.mean_ms_per_image = start.elapsed().as_secs_f64() * 1000.0 / report.images.max(1) as f64;
    report.recall = report.matched as f64 / report.labelled_faces.max(1) as f64;
    report.precision = report.matched as f64 / report.detections.max(1) as f64;
    if ctx.json {
        print_json(&report)?;
    } else {
        println!(
            "{} images, {} labelled faces, {} detections: recall {:.1}%, precision {:.1}% at IoU {} ({:.1} ms/image)",
            report.images,
            report.labelled_faces,
            report.detections,
            100.0 * report.recall,
            100.0 * report.precision,
            report.iou,
            report.mean_ms_per_image
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_imglab_and_skips_ignored_boxes() {
        let xml = "<dataset><images><image file='a.jpg'><box top='1' left='2' width='3' height='4'/>\
                   <box top='0' left='0' width='9' height='9' ignore='1'/></image><image file='b.jpg'/></images></dataset>";
        let images = parse_imglab(xml).unwrap();
        assert_eq!(images.len(), 2);
        assert_eq!(images[0].boxes, vec![BoundingBox::new(2.0, 1.0, 5.0, 5.0)]);
        assert!(images[1].boxes.is_empty());
    }

    #[test]
    fn greedy_matching_counts_each_label_once() {
        let labels = [BoundingBox::new(0.0, 0.0, 10.0, 10.0)];
        let dets = [
            (BoundingBox::new(0.0, 0.0, 10.0, 10.0), 0.9),
            (BoundingBox::new(1.0, 0.0, 11.0, 10.0), 0.8),
        ];
        assert_eq!(count_matches(&labels, &dets, 0.5), 1);
    }
}
