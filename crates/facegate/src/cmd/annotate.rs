//! Drawing detections onto an image for `detect --annotate`.
//!
//! Hand-written rather than pulling in `imageproc`: a hollow rectangle and
//! filled dots are a few lines, and the CLI should stay small to build.

use facegate_core::DetectedFace;
use image::{Rgb, RgbImage};

const BOX: Rgb<u8> = Rgb([0, 255, 0]);
const POINTS: [Rgb<u8>; 5] = [
    Rgb([255, 0, 0]),
    Rgb([0, 0, 255]),
    Rgb([255, 255, 0]),
    Rgb([255, 0, 255]),
    Rgb([0, 255, 255]),
];

pub fn draw_faces(mut image: RgbImage, faces: &[DetectedFace]) -> RgbImage {
    let thickness = ((image.width().max(image.height()) as f32 / 400.0).ceil() as i64).max(1);
    for face in faces {
        let b = face.bbox;
        let (l, t, r, btm) = (b.left as i64, b.top as i64, b.right as i64, b.bottom as i64);
        for k in 0..thickness {
            for x in l..=r {
                put(&mut image, x, t + k, BOX);
                put(&mut image, x, btm - k, BOX);
            }
            for y in t..=btm {
                put(&mut image, l + k, y, BOX);
                put(&mut image, r - k, y, BOX);
            }
        }
        let radius = (thickness * 2).max(2);
        for (p, colour) in face.landmarks.0.iter().zip(POINTS) {
            for dy in -radius..=radius {
                for dx in -radius..=radius {
                    if dx * dx + dy * dy <= radius * radius {
                        put(&mut image, p.x as i64 + dx, p.y as i64 + dy, colour);
                    }
                }
            }
        }
    }
    image
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
