//! dlib's face chips: `get_face_chip_details` + `extract_image_chip`, as
//! `face_recognition` / `dlib.get_face_chip(img, shape, size, padding)` does.
//!
//! The 5 landmarks are matched (least-squares similarity) to dlib's template
//! scaled into a `size × size` chip with `padding` around it. dlib then
//! expresses the transform as a rotated rectangle in the image and, when
//! that rectangle is much larger than the chip, first shrinks the region
//! around it with its `pyramid_down<2>` (5-tap binomial filter, integer
//! arithmetic) so bilinear sampling does not alias; finally it samples the
//! chip bilinearly, truncating to `u8`, black outside the image. Every step
//! here follows dlib's arithmetic, so chips match dlib's to the pixel.

use facegate_core::Point;
use image::{Rgb, RgbImage};

use super::geometry::{Affine, DRect, rotate_point, similarity};

/// dlib's 5-point chip template (`get_face_chip_details`), in `[0, 1]`
/// coordinates of an unpadded chip, in the 5-point predictor's order.
pub const DLIB_TEMPLATE_5: [[f64; 2]; 5] = [
    [0.8595674595992, 0.2134981538014],
    [0.6460604764104, 0.2289674387677],
    [0.1205750620789, 0.2137274526848],
    [0.3340850613712, 0.2290642403242],
    [0.4901123135679, 0.6277975316475],
];

/// dlib's 68-point chip template: the mean positions of points 17–67
/// (`get_face_chip_details` for 68-part shapes), in `[0, 1]` coordinates of
/// an unpadded chip. Published constants of dlib (Boost licence).
const DLIB_TEMPLATE_68_X: [f64; 51] = [
    0.000213256,
    0.0752622,
    0.18113,
    0.29077,
    0.393397,
    0.586856,
    0.689483,
    0.799124,
    0.904991,
    0.98004,
    0.490127,
    0.490127,
    0.490127,
    0.490127,
    0.36688,
    0.426036,
    0.490127,
    0.554217,
    0.613373,
    0.121737,
    0.187122,
    0.265825,
    0.334606,
    0.260918,
    0.182743,
    0.645647,
    0.714428,
    0.793132,
    0.858516,
    0.79751,
    0.719335,
    0.254149,
    0.340985,
    0.428858,
    0.490127,
    0.551395,
    0.639268,
    0.726104,
    0.642159,
    0.556721,
    0.490127,
    0.423532,
    0.338094,
    0.290379,
    0.428096,
    0.490127,
    0.552157,
    0.689874,
    0.553364,
    0.490127,
    0.42689,
];
const DLIB_TEMPLATE_68_Y: [f64; 51] = [
    0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891, 0.0187482, 0.038915,
    0.106454, 0.203352, 0.307009, 0.409805, 0.515625, 0.587326, 0.609345, 0.628106, 0.609345,
    0.587326, 0.216423, 0.178758, 0.179852, 0.231733, 0.245099, 0.244077, 0.231733, 0.179852,
    0.178758, 0.216423, 0.244077, 0.245099, 0.780233, 0.745405, 0.727388, 0.742578, 0.727388,
    0.745405, 0.780233, 0.864805, 0.902192, 0.909281, 0.902192, 0.864805, 0.784792, 0.778746,
    0.785343, 0.778746, 0.784792, 0.824182, 0.831803, 0.824182,
];

/// The 68-point indices dlib aligns on: nose, eyes, outer lips and the upper
/// inner lip (it skips the jaw, the eyebrows and the lower lip, which move
/// with expression).
fn uses_68_point(i: usize) -> bool {
    (27..=54).contains(&i) || (60..=64).contains(&i)
}

/// The aligned face chip dlib's `get_face_chip(image, shape, size, padding)`
/// returns for the 5-point predictor's `points` (dlib order). face_recognition
/// uses `size = 150`, `padding = 0.25`. `size` below 2 is raised to 2.
pub fn face_chip(image: &RgbImage, points: &[Point; 5], size: u32, padding: f32) -> RgbImage {
    face_chip_from(image, &DLIB_TEMPLATE_5, points, size, padding)
}

/// The chip dlib cuts for a 68-point shape (`shape_predictor_68_face_landmarks`,
/// face_recognition's `model="large"`): the similarity is fitted on 33 of
/// the points rather than 5. `None` unless `points` has 68 entries.
pub fn face_chip_68(
    image: &RgbImage,
    points: &[Point],
    size: u32,
    padding: f32,
) -> Option<RgbImage> {
    if points.len() != 68 {
        return None;
    }
    let (template, used): (Vec<[f64; 2]>, Vec<Point>) = (17..68)
        .filter(|&i| uses_68_point(i))
        .map(|i| {
            (
                [DLIB_TEMPLATE_68_X[i - 17], DLIB_TEMPLATE_68_Y[i - 17]],
                points[i],
            )
        })
        .unzip();
    Some(face_chip_from(image, &template, &used, size, padding))
}

fn face_chip_from(
    image: &RgbImage,
    template: &[[f64; 2]],
    points: &[Point],
    size: u32,
    padding: f32,
) -> RgbImage {
    let size = size.max(2);
    let (rect, angle) = chip_details(template, points, size, padding);
    extract_chip(image, rect, angle, size)
}

/// `get_face_chip_details`: the chip's rectangle in the image and its angle.
fn chip_details(template: &[[f64; 2]], points: &[Point], size: u32, padding: f32) -> (DRect, f64) {
    let pad = f64::from(padding);
    let s = f64::from(size);
    let from: Vec<[f64; 2]> = template
        .iter()
        .map(|p| {
            [
                (pad + p[0]) / (2.0 * pad + 1.0) * s,
                (pad + p[1]) / (2.0 * pad + 1.0) * s,
            ]
        })
        .collect();
    let to: Vec<[f64; 2]> = points
        .iter()
        .map(|p| [f64::from(p.x), f64::from(p.y)])
        .collect();
    let tform = similarity(&from, &to);
    // dlib's chip_details(chip_points, img_points, dims) constructor.
    let p = [tform.m[0][0], tform.m[1][0]];
    let angle = p[1].atan2(p[0]);
    let scale = p[0].hypot(p[1]);
    let centre = tform.apply([s / 2.0, s / 2.0]);
    (DRect::centered(centre, s * scale, s * scale), angle)
}

/// Bound on pyramid levels: guards against non-finite landmark input.
const MAX_PYRAMID_DEPTH: usize = 40;

/// `pyramid_down<2>::rect_down`.
fn rect_down(r: &DRect) -> DRect {
    let down = |p: [f64; 2]| [p[0] / 2.0 - 1.25, p[1] / 2.0 - 0.75];
    let (a, b) = (down(r.tl()), down(r.br()));
    DRect::EMPTY.add_point(a).add_point(b)
}

/// `extract_image_chips` for one chip of `size × size`.
fn extract_chip(image: &RgbImage, rect: DRect, angle: f64, size: u32) -> RgbImage {
    let (w, h) = image.dimensions();
    let chip_area = f64::from(size) * f64::from(size);
    let mut out = RgbImage::new(size, size);
    if w == 0 || h == 0 {
        return out;
    }
    // Fast path: no rotation or scaling — a plain copy.
    if angle == 0.0 && rect.width() == f64::from(size) && rect.height() == f64::from(size) {
        let [l, t, _, _] = rect.round();
        for y in 0..size {
            for x in 0..size {
                let (sx, sy) = (l + i64::from(x), t + i64::from(y));
                if sx >= 0 && sy >= 0 && sx < i64::from(w) && sy < i64::from(h) {
                    out.put_pixel(x, y, *image.get_pixel(sx as u32, sy as u32));
                }
            }
        }
        return out;
    }

    // Pyramid depth and the image region the chip needs (with a margin).
    let mut depth = 0usize;
    let mut grow = 2.0;
    let mut r = rect_down(&rect);
    while r.area() > chip_area && depth < MAX_PYRAMID_DEPTH {
        r = rect_down(&r);
        depth += 1;
        grow = grow * 2.0 + 2.0;
    }
    let c = rect.center();
    let rot = [rect.tl(), rect.tr(), rect.bl(), rect.br()]
        .iter()
        .fold(DRect::EMPTY, |acc, p| {
            acc.add_point(rotate_point(c, *p, angle))
        });
    let img_rect = DRect {
        l: 0.0,
        t: 0.0,
        r: f64::from(w) - 1.0,
        b: f64::from(h) - 1.0,
    };
    let region = rot.grow(grow).intersect(&img_rect);
    if region.is_empty() {
        return out;
    }
    let [bl, bt, br, bb] = region.round();
    let base = crop(image, bl, bt, br, bb);

    let mut levels: Vec<RgbImage> = Vec::with_capacity(depth);
    for i in 0..depth {
        let next = pyramid_down(if i == 0 { &base } else { &levels[i - 1] });
        levels.push(next);
    }

    // Which level to sample, and the chip → level mapping.
    let mut level: Option<usize> = None;
    let mut r = rect.translate([-(bl as f64), -(bt as f64)]);
    while rect_down(&r).area() > chip_area && level.unwrap_or(0) < MAX_PYRAMID_DEPTH {
        level = Some(level.map_or(0, |l| l + 1));
        r = rect_down(&r);
    }
    let src = match level {
        None => &base,
        Some(l) => match levels.get(l).or(levels.last()) {
            Some(img) => img,
            None => &base,
        },
    };
    let c = r.center();
    let (tl, tr, blc) = (
        rotate_point(c, r.tl(), angle),
        rotate_point(c, r.tr(), angle),
        rotate_point(c, r.bl(), angle),
    );
    let n = f64::from(size - 1);
    let map = Affine {
        m: [
            [(tr[0] - tl[0]) / n, (blc[0] - tl[0]) / n],
            [(tr[1] - tl[1]) / n, (blc[1] - tl[1]) / n],
        ],
        t: tl,
    };
    for y in 0..size {
        for x in 0..size {
            let p = map.apply([f64::from(x), f64::from(y)]);
            if let Some(px) = bilinear(src, p) {
                out.put_pixel(x, y, px);
            }
        }
    }
    out
}

/// Copy of the inclusive rectangle `[l, t, r, b]` (already inside `image`).
fn crop(image: &RgbImage, l: i64, t: i64, r: i64, b: i64) -> RgbImage {
    let (w, h) = image.dimensions();
    let clamp_x = |v: i64| v.clamp(0, i64::from(w) - 1) as u32;
    let clamp_y = |v: i64| v.clamp(0, i64::from(h) - 1) as u32;
    let (l, r, t, b) = (clamp_x(l), clamp_x(r), clamp_y(t), clamp_y(b));
    if l > r || t > b {
        return RgbImage::new(0, 0);
    }
    image::imageops::crop_imm(image, l, t, r - l + 1, b - t + 1).to_image()
}

/// dlib's `pyramid_down<2>` for RGB images: a separable [1 4 6 4 1] filter
/// keeping every other row and column, sums in 16 bits, divided by 256.
/// Output is `(rows − 3) / 2 × (cols − 3) / 2`; images of 8 or fewer rows or
/// columns give an empty image.
fn pyramid_down(img: &RgbImage) -> RgbImage {
    let (w, h) = img.dimensions();
    if w <= 8 || h <= 8 {
        return RgbImage::new(0, 0);
    }
    let (ow, oh) = ((w - 3) / 2, (h - 3) / 2);
    let raw = img.as_raw();
    let (w, h, ow) = (w as usize, h as usize, ow as usize);
    // Row filter: h × ow × 3 sums.
    let mut tmp = vec![0u16; h * ow * 3];
    for y in 0..h {
        let row = &raw[y * w * 3..(y + 1) * w * 3];
        for x in 0..ow {
            let oc = 2 * x;
            for ch in 0..3 {
                let px = |i: usize| u16::from(row[(oc + i) * 3 + ch]);
                tmp[(y * ow + x) * 3 + ch] = px(0) + px(1) * 4 + px(2) * 6 + px(3) * 4 + px(4);
            }
        }
    }
    // Column filter on rows 2, 4, … < h − 2.
    let mut out = RgbImage::new(ow as u32, oh);
    let mut dr = 0u32;
    let mut y = 2;
    while y + 2 < h && dr < oh {
        for x in 0..ow {
            let mut px = [0u8; 3];
            for (ch, v) in px.iter_mut().enumerate() {
                let t = |r: usize| u32::from(tmp[(r * ow + x) * 3 + ch]);
                let sum = t(y - 2) + t(y - 1) * 4 + t(y) * 6 + t(y + 1) * 4 + t(y + 2);
                *v = ((sum & 0xffff) / 256) as u8;
            }
            out.put_pixel(x as u32, dr, Rgb(px));
        }
        dr += 1;
        y += 2;
    }
    out
}

/// dlib's `interpolate_bilinear` on RGB: `None` unless all four neighbours
/// are inside; each channel truncated to `u8` as dlib's `assign_pixel` does.
fn bilinear(img: &RgbImage, p: [f64; 2]) -> Option<Rgb<u8>> {
    let (w, h) = img.dimensions();
    let (fl, ft) = (p[0].floor(), p[1].floor());
    if !(fl >= 0.0 && ft >= 0.0 && fl + 1.0 < f64::from(w) && ft + 1.0 < f64::from(h)) {
        return None;
    }
    let (left, top) = (fl as u32, ft as u32);
    let (lr, tb) = (p[0] - fl, p[1] - ft);
    let tl = img.get_pixel(left, top).0;
    let tr = img.get_pixel(left + 1, top).0;
    let bl = img.get_pixel(left, top + 1).0;
    let br = img.get_pixel(left + 1, top + 1).0;
    let mut px = [0u8; 3];
    for c in 0..3 {
        let v = (1.0 - tb) * ((1.0 - lr) * f64::from(tl[c]) + lr * f64::from(tr[c]))
            + tb * ((1.0 - lr) * f64::from(bl[c]) + lr * f64::from(br[c]));
        px[c] = v.clamp(0.0, 255.0) as u8;
    }
    Some(Rgb(px))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pyramid_of_a_flat_image_stays_flat_and_has_dlib_size() {
        let img = RgbImage::from_pixel(21, 12, Rgb([200, 100, 7]));
        let d = pyramid_down(&img);
        assert_eq!(d.dimensions(), (9, 4));
        assert!(d.pixels().all(|p| p.0 == [200, 100, 7]));
        assert_eq!(pyramid_down(&RgbImage::new(8, 100)).dimensions(), (0, 0));
    }

    #[test]
    fn bilinear_truncates_and_rejects_the_border() {
        let mut img = RgbImage::new(2, 2);
        img.put_pixel(1, 0, Rgb([255, 255, 255]));
        assert_eq!(bilinear(&img, [0.5, 0.0]), Some(Rgb([127, 127, 127])));
        assert_eq!(bilinear(&img, [1.0, 0.0]), None);
        assert_eq!(bilinear(&img, [-0.1, 0.0]), None);
    }

    #[test]
    fn chip_of_template_points_is_the_identity_crop() {
        // Points exactly on the template of a 150-px chip with no padding: the
        // chip is the image itself.
        let mut img = RgbImage::new(150, 150);
        for (x, y, p) in img.enumerate_pixels_mut() {
            *p = Rgb([x as u8, y as u8, 0]);
        }
        let pts = DLIB_TEMPLATE_5.map(|p| Point::new((p[0] * 150.0) as f32, (p[1] * 150.0) as f32));
        let chip = face_chip(&img, &pts, 150, 0.0);
        // The last row and column have no right/bottom neighbour: black in dlib too.
        let mut worst = 0u8;
        for y in 0..149 {
            for x in 0..149 {
                let (a, b) = (chip.get_pixel(x, y).0, img.get_pixel(x, y).0);
                worst = worst.max(a[0].abs_diff(b[0])).max(a[1].abs_diff(b[1]));
            }
        }
        assert!(worst <= 1, "max diff {worst}");
    }

    #[test]
    fn faces_outside_the_image_give_a_black_chip() {
        let img = RgbImage::from_pixel(50, 50, Rgb([9, 9, 9]));
        let pts = DLIB_TEMPLATE_5
            .map(|p| Point::new(p[0] as f32 * 40.0 + 5000.0, p[1] as f32 * 40.0 + 5000.0));
        let chip = face_chip(&img, &pts, 150, 0.25);
        assert_eq!(chip.dimensions(), (150, 150));
        assert!(chip.pixels().all(|p| p.0 == [0, 0, 0]));
        assert_eq!(
            face_chip(&RgbImage::new(0, 0), &pts, 10, 0.25).dimensions(),
            (10, 10)
        );
    }

    /// 68 points placed on dlib's template by a known rotation, scale and
    /// shift (the jaw and eyebrows, which dlib ignores, scattered at random):
    /// the chip's rectangle and angle must be exactly that transform's.
    #[test]
    fn sixty_eight_point_chip_fits_the_template_points_only() {
        let (angle, scale, shift) = (0.3f64, 1.7f64, [40.0f64, 25.0f64]);
        let (size, pad) = (150u32, 0.25f32);
        let place = |x: f64, y: f64| {
            let (c, s) = (angle.cos(), angle.sin());
            let (px, py) = (x * scale, y * scale);
            Point::new(
                (c * px - s * py + shift[0]) as f32,
                (s * px + c * py + shift[1]) as f32,
            )
        };
        let chip_coord = |v: f64| (0.25 + v) / 1.5 * f64::from(size);
        let points: Vec<Point> = (0..68)
            .map(|i| {
                if i >= 17 && uses_68_point(i) {
                    place(
                        chip_coord(DLIB_TEMPLATE_68_X[i - 17]),
                        chip_coord(DLIB_TEMPLATE_68_Y[i - 17]),
                    )
                } else {
                    Point::new((i * 37 % 200) as f32, (i * 91 % 170) as f32)
                }
            })
            .collect();
        let template: Vec<[f64; 2]> = (17..68)
            .filter(|&i| uses_68_point(i))
            .map(|i| [DLIB_TEMPLATE_68_X[i - 17], DLIB_TEMPLATE_68_Y[i - 17]])
            .collect();
        assert_eq!(template.len(), 33);
        let used: Vec<Point> = (17..68)
            .filter(|&i| uses_68_point(i))
            .map(|i| points[i])
            .collect();
        let (rect, got_angle) = chip_details(&template, &used, size, pad);
        assert!((got_angle - angle).abs() < 1e-5, "angle {got_angle}");
        assert!(
            (rect.width() - 150.0 * scale).abs() < 1e-2,
            "width {}",
            rect.width()
        );
        let centre = place(75.0, 75.0);
        let [cx, cy] = rect.center();
        assert!((cx - f64::from(centre.x)).abs() < 1e-2 && (cy - f64::from(centre.y)).abs() < 1e-2);

        let img = RgbImage::from_pixel(300, 300, Rgb([50, 60, 70]));
        assert_eq!(
            face_chip_68(&img, &points, size, pad).map(|c| c.dimensions()),
            Some((150, 150))
        );
        assert!(face_chip_68(&img, &points[..5], size, pad).is_none());
    }
}
