//! Image resizing for detector inputs and pyramids, on `fast_image_resize`
//! (SIMD convolution; several times faster than `image::imageops`).

use std::cell::RefCell;

use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::RgbImage;

thread_local! {
    // A resizer keeps its scratch buffers between calls; MTCNN resizes a
    // pyramid and a hundred patches per image, so one per thread saves
    // that many allocations.
    static RESIZER: RefCell<Resizer> = RefCell::new(Resizer::new());
}

fn bilinear() -> ResizeOptions {
    ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear))
}

/// Resize with a bilinear filter (area-averaging when shrinking), which is
/// what detectors were trained with (OpenCV's INTER_LINEAR / INTER_AREA).
pub fn resize_rgb(source: &RgbImage, width: u32, height: u32) -> RgbImage {
    let width = width.max(1);
    let height = height.max(1);
    if source.width() == width && source.height() == height {
        return source.clone();
    }
    let mut out = RgbImage::new(width, height);
    // Both images are RGB8 and non-empty, so the only failure modes
    // (pixel-type mismatch, empty buffers) cannot happen; fall back to the
    // slower resize rather than panic if the library ever disagrees.
    let resized = RESIZER.with_borrow_mut(|r| r.resize(source, &mut out, &bilinear()));
    if resized.is_err() {
        out = image::imageops::resize(source, width, height, image::imageops::FilterType::Triangle);
    }
    out
}

/// Crop `[left, top, width, height]` (may reach outside the image, which
/// reads as black) and resize to `out_w × out_h`.
pub fn crop_resize_rgb(
    source: &RgbImage,
    left: i64,
    top: i64,
    width: u32,
    height: u32,
    out_w: u32,
    out_h: u32,
) -> RgbImage {
    let (sw, sh) = (i64::from(source.width()), i64::from(source.height()));
    let inside =
        left >= 0 && top >= 0 && left + i64::from(width) <= sw && top + i64::from(height) <= sh;
    let patch = if inside {
        image::imageops::crop_imm(source, left as u32, top as u32, width, height).to_image()
    } else {
        let mut patch = RgbImage::new(width.max(1), height.max(1));
        for (x, y, p) in patch.enumerate_pixels_mut() {
            let (sx, sy) = (left + i64::from(x), top + i64::from(y));
            if sx >= 0 && sy >= 0 && sx < sw && sy < sh {
                *p = *source.get_pixel(sx as u32, sy as u32);
            }
        }
        patch
    };
    resize_rgb(&patch, out_w, out_h)
}
