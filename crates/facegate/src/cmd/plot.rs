//! SVG charts for `eval lfw --plot`: the ROC curve and the score
//! distributions of both classes. Plain SVG text, readable in any browser.

use std::fmt::Write;

use super::eval_lfw::LfwReport;

const W: f64 = 420.0;
const H: f64 = 320.0;
const M: f64 = 45.0;

pub fn roc_svg(scores: &[(f32, bool)], report: &LfwReport) -> String {
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" font-size="12">"#,
        2.0 * W,
        H + 30.0
    );
    let _ = write!(
        svg,
        r#"<text x="10" y="18">{} — accuracy {:.2}%, TAR@FAR=1e-3 {:.2}%, threshold {:.3}</text>"#,
        report.model,
        100.0 * report.accuracy,
        100.0 * report.tar_at_far_1e3,
        report.threshold
    );
    svg.push_str(&roc_panel(scores));
    svg.push_str(&histogram_panel(scores, report.threshold));
    svg.push_str("</svg>");
    svg
}

fn axes(svg: &mut String, x0: f64, x_label: &str, y_label: &str) {
    let _ = write!(
        svg,
        r#"<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="black"/>"#,
        x0 + M,
        30.0 + 10.0,
        W - 2.0 * M,
        H - M - 10.0
    );
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">{x_label}</text>"#,
        x0 + W / 2.0,
        H + 20.0
    );
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" transform="rotate(-90 {} {})" text-anchor="middle">{y_label}</text>"#,
        x0 + 14.0,
        H / 2.0,
        x0 + 14.0,
        H / 2.0
    );
}

fn roc_panel(scores: &[(f32, bool)]) -> String {
    let mut svg = String::new();
    axes(&mut svg, 0.0, "false accept rate (log)", "true accept rate");
    let mut sorted: Vec<(f32, bool)> = scores.to_vec();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let positives = sorted.iter().filter(|s| s.1).count().max(1) as f64;
    let negatives = sorted.iter().filter(|s| !s.1).count().max(1) as f64;
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut points = Vec::new();
    let floor = (1.0 / negatives).log10().min(-3.0);
    for (_, same) in sorted {
        if same {
            tp += 1.0
        } else {
            fp += 1.0
        }
        let far = (fp / negatives).max(10f64.powf(floor));
        let x = M + (far.log10() - floor) / -floor * (W - 2.0 * M);
        let y = 40.0 + (1.0 - tp / positives) * (H - M - 10.0);
        points.push(format!("{x:.1},{y:.1}"));
    }
    let _ = write!(
        svg,
        r#"<polyline fill="none" stroke="steelblue" stroke-width="2" points="{}"/>"#,
        points.join(" ")
    );
    svg
}

fn histogram_panel(scores: &[(f32, bool)], threshold: f32) -> String {
    let mut svg = String::new();
    axes(&mut svg, W, "cosine similarity", "pairs");
    const BINS: usize = 40;
    let (lo, hi) = (-0.2f32, 1.0f32);
    let bin = |s: f32| (((s - lo) / (hi - lo) * BINS as f32) as usize).min(BINS - 1);
    let mut same = [0usize; BINS];
    let mut different = [0usize; BINS];
    for &(s, is_same) in scores {
        if is_same {
            same[bin(s)] += 1
        } else {
            different[bin(s)] += 1
        }
    }
    let max = same
        .iter()
        .chain(&different)
        .copied()
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let bw = (W - 2.0 * M) / BINS as f64;
    for (counts, colour) in [
        (&same, "rgba(0,128,0,0.5)"),
        (&different, "rgba(200,0,0,0.5)"),
    ] {
        for (i, &c) in counts.iter().enumerate() {
            let h = c as f64 / max * (H - M - 10.0);
            let _ = write!(
                svg,
                r#"<rect x="{:.1}" y="{:.1}" width="{bw:.1}" height="{h:.1}" fill="{colour}"/>"#,
                W + M + i as f64 * bw,
                H - M + 30.0 - h
            );
        }
    }
    let tx = W + M + f64::from((threshold - lo) / (hi - lo)) * (W - 2.0 * M);
    let _ = write!(
        svg,
        r#"<line x1="{tx:.1}" x2="{tx:.1}" y1="40" y2="{}" stroke="black" stroke-dasharray="4"/>"#,
        H - M + 30.0
    );
    let _ = write!(
        svg,
        r#"<text x="{}" y="56" fill="green">same</text><text x="{}" y="72" fill="darkred">different</text>"#,
        W + M + 8.0,
        W + M + 8.0
    );
    svg
}
