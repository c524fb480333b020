//! Boxes, names, scores and track ids drawn onto frames (MJPEG view,
//! snapshots, `watch --annotate`).
//!
//! Hand-drawn rectangles and the public-domain 8×8 glyphs of `font8x8`
//! scaled up: a font file and a rasteriser would be more weight than the
//! labels need.

use facegate_core::BoundingBox;
use font8x8::legacy::{BASIC_LEGACY, LATIN_LEGACY};
use image::{Rgb, RgbImage};

use crate::pipeline::{FaceOverlay, OverlayState};

const NAMED: Rgb<u8> = Rgb([40, 200, 60]);
const UNKNOWN: Rgb<u8> = Rgb([230, 40, 40]);
const PENDING: Rgb<u8> = Rgb([240, 200, 30]);
const TEXT: Rgb<u8> = Rgb([255, 255, 255]);

/// Draw every face: a box coloured by state (green named, red unknown,
/// yellow deciding) and a label `#track name score` above it.
pub fn draw(image: &mut RgbImage, faces: &[FaceOverlay]) {
    let thickness = (image.width().max(image.height()) / 400).max(2) as i64;
    let scale = (image.width() / 640).clamp(1, 4) as i64 + 1;
    for face in faces {
        let colour = match face.state {
            OverlayState::Named => NAMED,
            OverlayState::Unknown => UNKNOWN,
            OverlayState::Pending => PENDING,
        };
        rectangle(image, &face.bbox, thickness, colour);
        let label = match face.score {
            Some(s) => format!("#{} {} {:.2}", face.track_id, face.label, s),
            None => format!("#{} {}", face.track_id, face.label),
        };
        let text_h = 8 * scale + 4;
        let width = label.chars().count() as i64 * 8 * scale + 4;
        // Over the box's left edge, moved left as far as it takes to keep
        // the whole label in the frame for a face at its right edge.
        let x = (face.bbox.left as i64)
            .min(i64::from(image.width()) - width)
            .max(0);
        // Above the box, or inside its top edge when the box touches the
        // top of the frame.
        let y = if face.bbox.top as i64 >= text_h {
            face.bbox.top as i64 - text_h
        } else {
            (face.bbox.top as i64).max(0)
        };
        fill(image, x, y, width, text_h, colour);
        text(image, x + 2, y + 2, &label, scale, TEXT);
    }
}

fn rectangle(image: &mut RgbImage, b: &BoundingBox, thickness: i64, colour: Rgb<u8>) {
    let (l, t, r, btm) = (b.left as i64, b.top as i64, b.right as i64, b.bottom as i64);
    for k in 0..thickness {
        for x in l..=r {
            put(image, x, t + k, colour);
            put(image, x, btm - k, colour);
        }
        for y in t..=btm {
            put(image, l + k, y, colour);
            put(image, r - k, y, colour);
        }
    }
}

fn fill(image: &mut RgbImage, x: i64, y: i64, w: i64, h: i64, colour: Rgb<u8>) {
    for yy in y..y + h {
        for xx in x..x + w {
            put(image, xx, yy, colour);
        }
    }
}

/// Text in 8×8 glyphs scaled by `scale`; characters without a glyph draw as `?`.
fn text(image: &mut RgbImage, x: i64, y: i64, s: &str, scale: i64, colour: Rgb<u8>) {
    for (i, ch) in s.chars().enumerate() {
        let code = ch as usize;
        let glyph = match code {
            0x20..0x80 => BASIC_LEGACY[code],
            0xA0..0x100 => LATIN_LEGACY[code - 0xA0],
            _ => BASIC_LEGACY[usize::from(b'?')],
        };
        let gx = x + i as i64 * 8 * scale;
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..8 {
                if bits & (1 << col) != 0 {
                    fill(
                        image,
                        gx + col * scale,
                        y + row as i64 * scale,
                        scale,
                        scale,
                        colour,
                    );
                }
            }
        }
    }
}

fn put(image: &mut RgbImage, x: i64, y: i64, colour: Rgb<u8>) {
    if x >= 0
        && y >= 0
        && (x as u64) < u64::from(image.width())
        && (y as u64) < u64::from(image.height())
    {
        image.put_pixel(x as u32, y as u32, colour);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_inside_the_frame_only() {
        let mut image = RgbImage::new(64, 48);
        let face = FaceOverlay {
            track_id: 7,
            bbox: BoundingBox {
                left: -10.0,
                top: 5.0,
                right: 30.0,
                bottom: 100.0,
            },
            label: "Zoë".into(),
            score: Some(0.81),
            state: OverlayState::Named,
        };
        draw(&mut image, &[face]);
        // The box's right edge is drawn in the named colour.
        assert_eq!(*image.get_pixel(30, 20), NAMED);
        // Label text pixels exist (white) and nothing panicked off-frame.
        assert!(image.pixels().any(|p| *p == TEXT));
    }

    #[test]
    fn a_label_at_the_right_edge_is_moved_in_whole() {
        let text_pixels = |left: f32| {
            let mut image = RgbImage::new(400, 200);
            let face = FaceOverlay {
                track_id: 3,
                bbox: BoundingBox {
                    left,
                    top: 60.0,
                    right: left + 30.0,
                    bottom: 100.0,
                },
                label: "Somebody".into(),
                score: Some(0.9),
                state: OverlayState::Named,
            };
            draw(&mut image, &[face]);
            image.pixels().filter(|p| **p == TEXT).count()
        };
        assert_eq!(text_pixels(369.0), text_pixels(10.0));
    }
}
