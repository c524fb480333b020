//! Running dlib's MMOD CNN face detector (`mmod_human_face_detector.dat`,
//! converted by `facegate_models::dlib::mmod_to_onnx`) the way dlib does.
//!
//! dlib feeds the network a *tiled pyramid*: the image, then copies scaled
//! by 5/6, 25/36, … (`pyramid_down<6>`, bilinear, until a level is under 5
//! rows) packed into one canvas — a first column of levels, the rest filled
//! in bottom-up along the right edge — with 10 px between levels and 11 px
//! around, the gaps at the mean colour. [`tiled_pyramid`] builds that canvas
//! (raw RGB; the ONNX graph subtracts the mean itself). [`decode_mmod`] takes
//! the score map: every position scoring above the threshold is mapped back
//! through the layers (`p·stride − padding + kernel/2`) to the canvas, made
//! into a detector-window box, mapped to the level it falls in and up to the
//! image, and the boxes go through dlib's greedy non-max suppression.
//! Only `upsample_num_times = 0` is covered (face_recognition's default of 1
//! first doubles the image with `pyramid_up`).

use facegate_core::BoundingBox;
use facegate_models::dlib::MmodModel;
use image::RgbImage;

use super::geometry::{DRect, round_half_up};

/// The tiled-pyramid canvas: planar raw RGB (`3 × height × width`, `f32`).
#[derive(Debug, Clone)]
pub struct TiledPyramid {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
    /// Each level's rectangle in the canvas (`[l, t, r, b]`, inclusive),
    /// level 0 being the image itself.
    pub levels: Vec<[i64; 4]>,
    /// The pyramid factor `N` (each level `(N−1)/N` of the previous).
    pub pyramid_down: u32,
}

/// One detection, in image pixels (facegate's box convention).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MmodDetection {
    pub bbox: BoundingBox,
    /// The raw detector score (dlib's `confidence`; > 0 means a face).
    pub score: f32,
    /// Index of the detector window that fired.
    pub window: usize,
}

/// `compute_tiled_image_pyramid_details`: level rectangles and canvas size.
fn tiled_layout(nr: i64, nc: i64, n: u32, padding: i64, outer: i64) -> (Vec<[i64; 4]>, i64, i64) {
    if nr * nc == 0 || n < 2 {
        return (Vec::new(), 0, 0);
    }
    let rate = (f64::from(n) - 1.0) / f64::from(n);
    let mut sizes = vec![(nc, nr)];
    let (mut r, mut c) = (nr, nc);
    loop {
        r = (rate * r as f64).floor() as i64;
        c = (rate * c as f64).floor() as i64;
        if r * c == 0 || r < 5 || sizes.len() > 1000 {
            break;
        }
        sizes.push((c, r));
    }
    let total_height = sizes.iter().map(|s| s.1 + padding).sum::<i64>() - padding * 2;
    let (w0, h0) = sizes[0];
    let (mut height, mut prev_width) = (0i64, 0i64);
    for &(w, h) in &sizes {
        if w <= w0 - prev_width - padding && (height - h0) * 2 >= total_height - h0 {
            break;
        }
        height += h + padding;
        prev_width = w;
    }
    height -= padding;
    let width = w0;
    let (canvas_h, canvas_w) = (height + outer * 2, width + outer * 2);
    let mut rects: Vec<[i64; 4]> = Vec::with_capacity(sizes.len());
    let mut y = outer;
    let mut i = 0;
    while y < height + outer && i < sizes.len() {
        let (w, h) = sizes[i];
        rects.push([outer, y, outer + w - 1, y + h - 1]);
        y += h + padding;
        i += 1;
    }
    y -= padding;
    while i < sizes.len() {
        let (w, h) = sizes[i];
        // rectangle(p1, p2) with p1 = bottom-right corner, p2 = p1 − (w−1, h−1)
        let (x1, y1) = (outer + width - 1, y - 1);
        let rect = [x1 - (w - 1), y1 - (h - 1), x1, y1];
        let r0 = rects[0];
        let overlaps =
            rect[0].max(r0[0]) <= rect[2].min(r0[2]) && rect[1].max(r0[1]) <= rect[3].min(r0[3]);
        if overlaps {
            break;
        }
        rects.push(rect);
        y -= h + padding;
        i += 1;
    }
    (rects, canvas_h, canvas_w)
}

/// Build dlib's tiled pyramid of `image` for `model` (`pyramid_down` is
/// [`facegate_models::dlib::MMOD_FACE_PYRAMID_DOWN`] for dlib's face model).
pub fn tiled_pyramid(image: &RgbImage, model: &MmodModel, pyramid_down: u32) -> TiledPyramid {
    let (w, h) = image.dimensions();
    let (levels, ch, cw) = tiled_layout(
        i64::from(h),
        i64::from(w),
        pyramid_down,
        model.pyramid_padding as i64,
        model.pyramid_outer_padding as i64,
    );
    let (width, height) = (cw.max(0) as usize, ch.max(0) as usize);
    let plane = width * height;
    let mut data = vec![0f32; 3 * plane];
    for (c, mean) in model.mean_rgb.iter().enumerate() {
        data[c * plane..(c + 1) * plane].fill(*mean);
    }
    if let Some(r0) = levels.first() {
        let (l, t) = (r0[0] as usize, r0[1] as usize);
        for (x, y, p) in image.enumerate_pixels() {
            let at = (t + y as usize) * width + l + x as usize;
            for c in 0..3 {
                data[c * plane + at] = f32::from(p.0[c]);
            }
        }
    }
    for i in 1..levels.len() {
        for c in 0..3 {
            resize_bilinear(
                &mut data[c * plane..(c + 1) * plane],
                width,
                levels[i - 1],
                levels[i],
            );
        }
    }
    TiledPyramid {
        width,
        height,
        data,
        levels,
        pyramid_down,
    }
}

/// dlib's `resize_image` (bilinear) from one canvas rectangle into another.
fn resize_bilinear(plane: &mut [f32], stride: usize, src: [i64; 4], dst: [i64; 4]) {
    let (snc, snr) = (
        (src[2] - src[0] + 1) as usize,
        (src[3] - src[1] + 1) as usize,
    );
    let (dnc, dnr) = (
        (dst[2] - dst[0] + 1) as usize,
        (dst[3] - dst[1] + 1) as usize,
    );
    let x_scale = (snc as f64 - 1.0) / (dnc.max(2) - 1) as f64;
    let y_scale = (snr as f64 - 1.0) / (dnr.max(2) - 1) as f64;
    let at = |x: usize, y: usize, r: [i64; 4]| (r[1] as usize + y) * stride + r[0] as usize + x;
    for r in 0..dnr {
        let y = r as f64 * y_scale;
        let top = (y.floor() as usize).min(snr - 1);
        let bottom = (top + 1).min(snr - 1);
        let tb = y - top as f64;
        for c in 0..dnc {
            let x = c as f64 * x_scale;
            let left = (x.floor() as usize).min(snc - 1);
            let right = (left + 1).min(snc - 1);
            let lr = x - left as f64;
            let v = |xx: usize, yy: usize| f64::from(plane[at(xx, yy, src)]);
            let value = (1.0 - tb) * ((1.0 - lr) * v(left, top) + lr * v(right, top))
                + tb * ((1.0 - lr) * v(left, bottom) + lr * v(right, bottom));
            plane[at(c, r, dst)] = value as f32;
        }
    }
}

/// `nearest_rect`: the level containing `p`, else the closest one.
fn nearest_level(levels: &[[i64; 4]], p: [f64; 2]) -> usize {
    let (px, py) = (round_half_up(p[0]), round_half_up(p[1]));
    let mut best = (f64::INFINITY, 0);
    for (i, r) in levels.iter().enumerate() {
        if px >= r[0] && px <= r[2] && py >= r[1] && py <= r[3] {
            return i;
        }
        let (nx, ny) = (px.clamp(r[0], r[2]), py.clamp(r[1], r[3]));
        let d = (((nx - px).pow(2) + (ny - py).pow(2)) as f64).sqrt();
        if d < best.0 {
            best = (d, i);
        }
    }
    best.1
}

/// dlib integer rectangle `[l, t, r, b]` and its area.
fn area(r: [i64; 4]) -> f64 {
    if r[0] > r[2] || r[1] > r[3] {
        0.0
    } else {
        ((r[2] - r[0] + 1) * (r[3] - r[1] + 1)) as f64
    }
}

/// `test_box_overlap` (dlib's "IoU" uses the bounding box of the pair).
fn overlaps(a: [i64; 4], b: [i64; 4], iou: f64, covered: f64) -> bool {
    let inner = area([
        a[0].max(b[0]),
        a[1].max(b[1]),
        a[2].min(b[2]),
        a[3].min(b[3]),
    ]);
    if inner == 0.0 {
        return false;
    }
    let outer = area([
        a[0].min(b[0]),
        a[1].min(b[1]),
        a[2].max(b[2]),
        a[3].max(b[3]),
    ]);
    inner / outer > iou || inner / area(a) > covered || inner / area(b) > covered
}

/// Turn the network's score map (`[windows, rows, cols]`, row-major) for
/// `pyramid` into detections, as dlib's `loss_mmod_::to_label` does.
/// `threshold` is dlib's `adjust_threshold` (0 by default).
pub fn decode_mmod(
    model: &MmodModel,
    pyramid: &TiledPyramid,
    scores: &[f32],
    dims: [usize; 3],
    threshold: f32,
) -> Vec<MmodDetection> {
    let [k, rows, cols] = dims;
    if pyramid.levels.is_empty() || scores.len() < k * rows * cols {
        return Vec::new();
    }
    let rate_up = f64::from(pyramid.pyramid_down) / (f64::from(pyramid.pyramid_down) - 1.0);
    let mut cands: Vec<(f32, [i64; 4], usize)> = Vec::new();
    for (window, win) in model.options.detector_windows.iter().enumerate().take(k) {
        for r in 0..rows {
            for c in 0..cols {
                let score = scores[(window * rows + r) * cols + c];
                if score <= threshold {
                    continue;
                }
                let p = model.output_to_input([c as f64, r as f64]);
                let rect = DRect::centered(p, win.width as f64, win.height as f64);
                let level = nearest_level(&pyramid.levels, rect.center());
                let origin = pyramid.levels[level];
                let up = |v: f64, o: i64| {
                    let mut v = v - o as f64;
                    for _ in 0..level {
                        v = v * rate_up + 0.3;
                    }
                    v
                };
                let img = DRect {
                    l: up(rect.l, origin[0]),
                    t: up(rect.t, origin[1]),
                    r: up(rect.r, origin[0]),
                    b: up(rect.b, origin[1]),
                };
                cands.push((score, img.round(), window));
            }
        }
    }
    cands.sort_by(|a, b| b.0.total_cmp(&a.0));
    let nms = model.options.overlaps_nms;
    let mut kept: Vec<(f32, [i64; 4], usize)> = Vec::new();
    for cand in cands {
        if kept
            .iter()
            .any(|k| overlaps(k.1, cand.1, nms.iou_thresh, nms.percent_covered_thresh))
        {
            continue;
        }
        kept.push(cand);
    }
    kept.into_iter()
        .map(|(score, r, window)| MmodDetection {
            bbox: BoundingBox::new(
                r[0] as f32,
                r[1] as f32,
                (r[2] + 1) as f32,
                (r[3] + 1) as f32,
            ),
            score,
            window,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_stacks_levels_then_climbs_the_right_edge() {
        let (rects, h, w) = tiled_layout(600, 800, 6, 10, 11);
        assert_eq!(w, 800 + 22);
        assert_eq!(rects[0], [11, 11, 810, 610]);
        assert_eq!(rects[1], [11, 621, 676, 1120]);
        assert!(
            rects
                .iter()
                .all(|r| r[0] >= 0 && r[1] >= 0 && r[2] < w && r[3] < h)
        );
        // Later levels never overlap the full-size image.
        for r in &rects[1..] {
            assert!(r[1] > rects[0][3] || r[0] > rects[0][2]);
        }
    }

    #[test]
    fn overlap_test_uses_the_bounding_box_of_the_pair() {
        let a = [0, 0, 9, 9];
        assert!(overlaps(a, a, 0.5, 1.0));
        assert!(!overlaps(a, [20, 20, 29, 29], 0.5, 1.0));
        // 5×10 overlap, bounding box 15×10: 0.33 > 0.3
        assert!(overlaps(a, [5, 0, 14, 9], 0.3, 1.0));
        assert!(!overlaps(a, [5, 0, 14, 9], 0.4, 1.0));
    }
}
