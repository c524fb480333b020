//! Turning untrusted bytes into an upright RGB image.
//!
//! Every limit is checked before pixels are allocated: the header's
//! dimensions against [`DecodeLimits::max_pixels`] (a 50000×50000 PNG is
//! refused from its header alone) and the decoder's allocations against
//! `max_alloc_bytes`. EXIF orientation is applied so geometry is always
//! reported in the upright image; gray, RGBA and 16-bit inputs become 8-bit RGB.
//! A file that ends before its format says it should is refused as
//! [`DecodeError::Truncated`] (see `truncation`), since decoders would fill
//! the missing part with grey and report success.

mod truncation;

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};

/// Limits on what we agree to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest encoded input in bytes.
    pub max_bytes: usize,
    /// Largest width × height.
    pub max_pixels: u64,
    /// Largest single side.
    pub max_side: u32,
    /// Largest allocation the decoder may make.
    pub max_alloc_bytes: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_bytes: 32 * 1024 * 1024,
            max_pixels: 40_000_000,
            max_side: 16_384,
            max_alloc_bytes: 512 * 1024 * 1024,
        }
    }
}

/// Why an input is not an image we can use. Every variant is the caller's
/// input being wrong, never an internal failure.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("the image is empty (0 bytes)")]
    Empty,
    #[error("the image is {size} bytes, over the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("the data is not a supported image (JPEG, PNG, WebP, BMP or GIF)")]
    UnknownFormat,
    #[error(
        "the image is {width}×{height} pixels, over the limit of {limit} pixels or {max_side} per side"
    )]
    TooManyPixels {
        width: u32,
        height: u32,
        limit: u64,
        max_side: u32,
    },
    #[error("the image has a zero dimension")]
    ZeroSize,
    /// The file ends before its format says it should (a JPEG without its
    /// end-of-image marker, a PNG without `IEND`, a WebP shorter than its
    /// RIFF size, a GIF without its trailer, or a decoder meeting the end of
    /// the data): an interrupted upload or copy. Bytes after the end are fine.
    #[error(
        "the image could not be decoded: the {format} file is truncated (it ends before {missing})"
    )]
    Truncated {
        format: &'static str,
        missing: &'static str,
    },
    #[error("the image could not be decoded: {0}")]
    Corrupt(String),
}

/// Decode an image with EXIF orientation applied, as 8-bit RGB.
pub fn decode_rgb(bytes: &[u8], limits: &DecodeLimits) -> Result<RgbImage, DecodeError> {
    Ok(decode_dynamic(bytes, limits)?.into_rgb8())
}

/// Decode an image with EXIF orientation applied, keeping its pixel format.
pub fn decode_dynamic(bytes: &[u8], limits: &DecodeLimits) -> Result<DynamicImage, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    if bytes.len() > limits.max_bytes {
        return Err(DecodeError::TooLarge {
            size: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    // Probe the header alone first: some decoders read ahead (PNG up to the
    // first data chunk) before they report dimensions, and a bomb should be
    // named as one rather than as a truncated file.
    if let Ok(size) = imagesize::blob_size(bytes) {
        let (width, height) = (
            u32::try_from(size.width).unwrap_or(u32::MAX),
            u32::try_from(size.height).unwrap_or(u32::MAX),
        );
        check_dimensions(width, height, limits)?;
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    let Some(format) = reader.format() else {
        return Err(DecodeError::UnknownFormat);
    };
    truncation::check_complete(bytes, format).map_err(|missing| DecodeError::Truncated {
        format: truncation::format_name(format),
        missing,
    })?;
    let classify = |error| classify(error, format);
    let mut decoder = reader.into_decoder().map_err(classify)?;
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height, limits)?;
    let mut image_limits = image::Limits::default();
    image_limits.max_image_width = Some(limits.max_side);
    image_limits.max_image_height = Some(limits.max_side);
    image_limits.max_alloc = Some(limits.max_alloc_bytes);
    decoder.set_limits(image_limits).map_err(classify)?;
    // A broken EXIF block should not make a good image unusable.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(classify)?;
    image.apply_orientation(orientation);
    Ok(image)
}

fn check_dimensions(width: u32, height: u32, limits: &DecodeLimits) -> Result<(), DecodeError> {
    if width == 0 || height == 0 {
        return Err(DecodeError::ZeroSize);
    }
    if u64::from(width) * u64::from(height) > limits.max_pixels
        || width > limits.max_side
        || height > limits.max_side
    {
        return Err(DecodeError::TooManyPixels {
            width,
            height,
            limit: limits.max_pixels,
            max_side: limits.max_side,
        });
    }
    Ok(())
}

fn classify(error: image::ImageError, format: image::ImageFormat) -> DecodeError {
    match error {
        image::ImageError::Unsupported(_) => DecodeError::UnknownFormat,
        // The structural check passed but the decoder still ran out of data
        // (e.g. a chunk that is complete but holds too few rows).
        image::ImageError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            DecodeError::Truncated {
                format: truncation::format_name(format),
                missing: "the end of its image data",
            }
        }
        other => DecodeError::Corrupt(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode_png(image: &DynamicImage) -> Vec<u8> {
        let mut out = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn empty_and_text_inputs_are_clear_errors() {
        let limits = DecodeLimits::default();
        assert_eq!(decode_rgb(&[], &limits), Err(DecodeError::Empty));
        assert_eq!(
            decode_rgb(b"hello, this is not an image", &limits),
            Err(DecodeError::UnknownFormat)
        );
    }

    fn encode(image: &DynamicImage, format: image::ImageFormat) -> Vec<u8> {
        let mut out = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut out), format)
            .unwrap_or_else(|e| panic!("encoding {format:?}: {e}"));
        out
    }

    /// A picture with detail everywhere, so every part of the stream carries
    /// pixels (a flat image compresses to almost nothing).
    fn textured(width: u32, height: u32) -> DynamicImage {
        DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
            let v = (x * 7 + y * 13) ^ (x * y);
            image::Rgb([v as u8, (v >> 3) as u8, (x + y) as u8])
        }))
    }

    /// Every format, cut at 40%, at 75% and one byte short, is refused as
    /// truncated instead of decoding with its missing part filled in.
    #[test]
    fn truncated_files_of_every_format_are_refused() {
        let image = textured(96, 64);
        let limits = DecodeLimits::default();
        for (format, name) in [
            (image::ImageFormat::Jpeg, "JPEG"),
            (image::ImageFormat::Png, "PNG"),
            (image::ImageFormat::WebP, "WebP"),
            (image::ImageFormat::Gif, "GIF"),
            (image::ImageFormat::Bmp, "BMP"),
        ] {
            let whole = encode(&image, format);
            let decoded = decode_rgb(&whole, &limits)
                .unwrap_or_else(|e| panic!("the whole {name} file decodes: {e}"));
            assert_eq!(decoded.dimensions(), (96, 64));
            for cut in [whole.len() * 2 / 5, whole.len() * 3 / 4, whole.len() - 1] {
                let err = decode_rgb(&whole[..cut], &limits)
                    .expect_err(&format!("{name} cut at {cut} of {} decoded", whole.len()));
                assert!(
                    matches!(err, DecodeError::Truncated { format, .. } if format == name),
                    "{name} cut at {cut}: {err:?}"
                );
                let message = err.to_string();
                assert!(message.contains("truncated"), "{message}");
                assert!(message.contains("could not be decoded"), "{message}");
            }
        }
    }

    /// Cameras and editors append data after a JPEG's end marker (maker
    /// notes, a second picture); that is a complete image.
    #[test]
    fn bytes_after_the_end_of_a_complete_file_are_accepted() {
        let limits = DecodeLimits::default();
        for format in [image::ImageFormat::Jpeg, image::ImageFormat::Png] {
            let mut bytes = encode(&textured(40, 30), format);
            bytes.extend_from_slice(b"\xff\xd8 trailing vendor data \x00\x01");
            let decoded = decode_rgb(&bytes, &limits)
                .unwrap_or_else(|e| panic!("{format:?} with trailing bytes: {e}"));
            assert_eq!(decoded.dimensions(), (40, 30));
        }
    }

    #[test]
    fn decompression_bomb_header_is_refused_before_allocation() {
        // A valid PNG signature and IHDR chunk claiming 50000×50000 RGB, and no data.
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&50_000u32.to_be_bytes());
        ihdr.extend_from_slice(&50_000u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        png.extend_from_slice(&(ihdr.len() as u32).to_be_bytes());
        let mut chunk = b"IHDR".to_vec();
        chunk.extend_from_slice(&ihdr);
        let crc = crc32(&chunk);
        png.extend_from_slice(&chunk);
        png.extend_from_slice(&crc.to_be_bytes());
        let err = decode_rgb(&png, &DecodeLimits::default()).unwrap_err();
        assert!(
            matches!(
                err,
                DecodeError::TooManyPixels {
                    width: 50_000,
                    height: 50_000,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn gray_rgba_and_16_bit_become_rgb() {
        let limits = DecodeLimits::default();
        let gray = DynamicImage::ImageLuma8(image::GrayImage::from_pixel(5, 4, image::Luma([200])));
        let rgb = decode_rgb(&encode_png(&gray), &limits).unwrap();
        assert_eq!(rgb.get_pixel(0, 0).0, [200, 200, 200]);
        let rgba = DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
            3,
            2,
            image::Rgba([1, 2, 3, 0]),
        ));
        assert_eq!(
            decode_rgb(&encode_png(&rgba), &limits)
                .unwrap()
                .get_pixel(2, 1)
                .0,
            [1, 2, 3]
        );
        let deep = DynamicImage::ImageRgb16(image::ImageBuffer::from_pixel(
            2,
            2,
            image::Rgb([65535u16, 0, 32896]),
        ));
        assert_eq!(
            decode_rgb(&encode_png(&deep), &limits)
                .unwrap()
                .get_pixel(1, 1)
                .0,
            [255, 0, 128]
        );
    }

    #[test]
    fn oversized_input_is_refused_by_byte_count() {
        let limits = DecodeLimits {
            max_bytes: 10,
            ..Default::default()
        };
        assert_eq!(
            decode_rgb(&[0u8; 11], &limits),
            Err(DecodeError::TooLarge {
                size: 11,
                limit: 10
            })
        );
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &byte in data {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
}
