//! The bench's "detector safeguards" section: what the landmark plausibility
//! check, the close-up pass and `auto_rotate` cost (issue #10, items 3–4).

use std::time::Instant;

use anyhow::Context;
use facegate_core::plausibility;
use facegate_vision::rotate::Rotation;
use facegate_vision::{AnalyzeOptions, Engine};
use serde::Serialize;

use super::main_face;

#[derive(Debug, Serialize)]
pub struct SafeguardBench {
    /// The image the figures are measured on.
    pub image: String,
    /// Median detection time of the detector alone (no safeguards).
    pub detector_only_ms: f32,
    /// Median of `Engine::detect`: the detector plus the close-up test,
    /// nested-box suppression and the plausibility check.
    pub detect_ms: f32,
    /// One plausibility check, nanoseconds (averaged over many calls).
    pub plausibility_ns_per_face: f32,
    /// The image's face cropped and scaled to 800×800: a close-up that
    /// takes the second, padded detection pass.
    pub close_up: Option<CloseUpBench>,
    /// The image turned 90° clockwise (no EXIF tag).
    pub turned: TurnedBench,
}

#[derive(Debug, Serialize)]
pub struct CloseUpBench {
    pub detector_only_ms: f32,
    pub detect_ms: f32,
    pub faces: usize,
}

#[derive(Debug, Serialize)]
pub struct TurnedBench {
    /// Median analysis (decode to embeddings) with `auto_rotate` off.
    pub upright_only_ms: f32,
    pub upright_only_faces: usize,
    /// Median analysis with `auto_rotate` on.
    pub auto_rotate_ms: f32,
    pub auto_rotate_faces: usize,
    /// The turn `auto_rotate` applied (clockwise degrees).
    pub rotation: u16,
}

fn median_ms(iterations: usize, mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<f32> {
    let mut v = Vec::with_capacity(iterations.max(1));
    for _ in 0..iterations.max(1) {
        let start = Instant::now();
        f()?;
        v.push(start.elapsed().as_secs_f32() * 1000.0);
    }
    v.sort_by(f32::total_cmp);
    Ok(v[v.len() / 2])
}

/// Measure the safeguards on `bytes` (an image with one upright face).
pub fn run(
    engine: &Engine,
    name: &str,
    bytes: &[u8],
    iterations: usize,
) -> anyhow::Result<SafeguardBench> {
    let image = engine
        .decode(bytes)
        .with_context(|| format!("decoding {name}"))?;
    let settings = *engine.detector_settings();
    let detector_only_ms = median_ms(iterations, || {
        engine.detect_raw(&image, &settings)?;
        Ok(())
    })?;
    let detect_ms = median_ms(iterations, || {
        engine.detect(&image)?;
        Ok(())
    })?;
    let raw = engine.detect_raw(&image, &settings)?;
    let plausibility_ns_per_face = if raw.is_empty() {
        0.0
    } else {
        const CALLS: usize = 100_000;
        let start = Instant::now();
        let mut passed = 0usize;
        for i in 0..CALLS {
            passed += usize::from(plausibility::is_plausible(std::hint::black_box(
                &raw[i % raw.len()],
            )));
        }
        std::hint::black_box(passed);
        start.elapsed().as_secs_f32() * 1e9 / CALLS as f32
    };

    let close_up = match main_face(&engine.detect(&image)?, |f| f.bbox.area()) {
        Some(face) => {
            let b = face.bbox;
            let crop = image::imageops::crop_imm(
                &image,
                b.left as u32,
                b.top as u32,
                (b.width() as u32).max(1),
                (b.height() as u32).max(1),
            )
            .to_image();
            let close =
                image::imageops::resize(&crop, 800, 800, image::imageops::FilterType::Triangle);
            Some(CloseUpBench {
                detector_only_ms: median_ms(iterations, || {
                    engine.detect_raw(&close, &settings)?;
                    Ok(())
                })?,
                detect_ms: median_ms(iterations, || {
                    engine.detect(&close)?;
                    Ok(())
                })?,
                faces: engine.detect(&close)?.len(),
            })
        }
        None => None,
    };

    let turned = Rotation::Cw90.apply(&image);
    let mut turned_jpeg = Vec::new();
    image::DynamicImage::ImageRgb8(turned).write_to(
        &mut std::io::Cursor::new(&mut turned_jpeg),
        image::ImageFormat::Jpeg,
    )?;
    let off = AnalyzeOptions { auto_rotate: false };
    let on = AnalyzeOptions { auto_rotate: true };
    let plain = engine.analyze_with(&turned_jpeg, &off)?;
    let fixed = engine.analyze_with(&turned_jpeg, &on)?;
    let turned = TurnedBench {
        upright_only_ms: median_ms(iterations, || {
            engine.analyze_with(&turned_jpeg, &off)?;
            Ok(())
        })?,
        upright_only_faces: plain.faces.len(),
        auto_rotate_ms: median_ms(iterations, || {
            engine.analyze_with(&turned_jpeg, &on)?;
            Ok(())
        })?,
        auto_rotate_faces: fixed.faces.len(),
        rotation: fixed.rotation.degrees(),
    };
    Ok(SafeguardBench {
        image: name.to_owned(),
        detector_only_ms,
        detect_ms,
        plausibility_ns_per_face,
        close_up,
        turned,
    })
}

/// The section as text.
pub fn print(s: &SafeguardBench) {
    println!(
        "detector safeguards on {}: detector alone {:.1}ms, with safeguards {:.1}ms; plausibility check {:.0}ns/face",
        s.image, s.detector_only_ms, s.detect_ms, s.plausibility_ns_per_face
    );
    if let Some(c) = &s.close_up {
        println!(
            "  800×800 close-up of its face: detector alone {:.1}ms, with the padded pass {:.1}ms ({} face(s))",
            c.detector_only_ms, c.detect_ms, c.faces
        );
    }
    let t = &s.turned;
    println!(
        "  turned 90°, no EXIF: upright only {:.1}ms ({} face(s)), auto_rotate {:.1}ms ({} face(s), turned {}°)",
        t.upright_only_ms, t.upright_only_faces, t.auto_rotate_ms, t.auto_rotate_faces, t.rotation
    );
}
