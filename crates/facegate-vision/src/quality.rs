//! Face quality: size, sharpness and pose, from the detection and its crop.

use facegate_core::DetectedFace;
use image::RgbImage;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// Distance between the eyes, in source pixels.
    pub inter_eye_px: f32,
    /// Variance of the Laplacian of the aligned crop's luma (higher = sharper).
    pub sharpness: f32,
    /// Yaw estimate in degrees from landmark asymmetry (positive = turned to image right).
    pub yaw_deg: f32,
    /// Roll in degrees: the angle of the eye line.
    pub roll_deg: f32,
}

pub fn assess(face: &DetectedFace, aligned: &RgbImage) -> Quality {
    let lm = &face.landmarks;
    let (le, re, nose) = (lm.left_eye(), lm.right_eye(), lm.nose());
    let inter_eye = le.distance(re);
    let roll = (re.y - le.y).atan2(re.x - le.x).to_degrees();
    // Where the nose sits between the eyes, projected on the eye line: 0.5 is
    // frontal, 0 or 1 is a profile. Map to degrees with asin, the projection of
    // a point on a rotating circle.
    let eye_dx = re.x - le.x;
    let eye_dy = re.y - le.y;
    let t = if inter_eye > f32::EPSILON {
        ((nose.x - le.x) * eye_dx + (nose.y - le.y) * eye_dy) / (inter_eye * inter_eye)
    } else {
        0.5
    };
    let yaw = ((t - 0.5) * 2.0).clamp(-1.0, 1.0).asin().to_degrees();
    Quality {
        inter_eye_px: inter_eye,
        sharpness: laplacian_variance(aligned),
        yaw_deg: yaw,
        roll_deg: roll,
    }
}

/// Variance of the 4-neighbour Laplacian over the luma channel.
pub fn laplacian_variance(image: &RgbImage) -> f32 {
    let (w, h) = (image.width() as usize, image.height() as usize);
    if w < 3 || h < 3 {
        return 0.0;
    }
    let luma: Vec<f32> = image
        .pixels()
        .map(|p| 0.299 * f32::from(p.0[0]) + 0.587 * f32::from(p.0[1]) + 0.114 * f32::from(p.0[2]))
        .collect();
    let (mut sum, mut sum_sq, mut n) = (0.0f64, 0.0f64, 0.0f64);
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let i = y * w + x;
            let lap =
                f64::from(luma[i - 1] + luma[i + 1] + luma[i - w] + luma[i + w] - 4.0 * luma[i]);
            sum += lap;
            sum_sq += lap * lap;
            n += 1.0;
        }
    }
    let mean = sum / n;
    (sum_sq / n - mean * mean) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_image_has_no_sharpness_and_edges_do() {
        let flat = RgbImage::from_pixel(16, 16, image::Rgb([90, 90, 90]));
        assert_eq!(laplacian_variance(&flat), 0.0);
        let checker = RgbImage::from_fn(16, 16, |x, y| {
            if (x + y) % 2 == 0 {
                image::Rgb([255; 3])
            } else {
                image::Rgb([0; 3])
            }
        });
        assert!(laplacian_variance(&checker) > 1000.0);
    }
}
