//! Finding the premature end of an encoded image from its structure.
//!
//! Decoders are lenient on purpose: zune-jpeg paints the rows a cut JPEG no
//! longer holds in grey and reports success, so a half-grey picture would be
//! detected, embedded and enrolled. Rather than rely on each decoder's
//! warnings, every container is walked to the place its format says it ends
//! (JPEG's end-of-image marker, PNG's `IEND` chunk, the RIFF size of WebP,
//! GIF's trailer). Bytes *after* that end are allowed (cameras append data to
//! JPEGs); data that stops *before* it is a truncated file.
//!
//! Only truncation is judged here: a stream that is malformed in another way
//! is left to the decoder, which names the fault itself.

use image::ImageFormat;

/// `Err` with what the file lacks (for the error message) when `bytes` end
/// before `format` says they should; `Ok` for complete files and for
/// formats without a checker.
pub(super) fn check_complete(bytes: &[u8], format: ImageFormat) -> Result<(), &'static str> {
    match format {
        ImageFormat::Jpeg => jpeg(bytes),
        ImageFormat::Png => png(bytes),
        ImageFormat::WebP => webp(bytes),
        ImageFormat::Gif => gif(bytes),
        ImageFormat::Bmp => bmp(bytes),
        _ => Ok(()),
    }
}

/// The format's usual name, for messages.
pub(super) fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::Png => "PNG",
        ImageFormat::WebP => "WebP",
        ImageFormat::Gif => "GIF",
        ImageFormat::Bmp => "BMP",
        _ => "image",
    }
}

type Walk = Result<(), &'static str>;

fn be16(bytes: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(u16::from_be_bytes([
        *bytes.get(at)?,
        *bytes.get(at + 1)?,
    ])))
}

fn be32(bytes: &[u8], at: usize) -> Option<usize> {
    let b = bytes.get(at..at + 4)?;
    usize::try_from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])).ok()
}

fn le32(bytes: &[u8], at: usize) -> Option<usize> {
    let b = bytes.get(at..at + 4)?;
    usize::try_from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])).ok()
}

const JPEG_END: &str = "its end-of-image marker (FFD9)";

/// Segments are skipped by their length; after each start-of-scan the
/// entropy-coded data runs to the next marker (in it, 0xFF is followed only
/// by a stuffed 0x00 or a restart marker). Progressive files repeat scans,
/// so the walk continues until EOI. An EXIF thumbnail's own EOI sits inside
/// an APP1 segment and is skipped with it.
fn jpeg(b: &[u8]) -> Walk {
    if !b.starts_with(&[0xFF, 0xD8]) {
        return Ok(());
    }
    let mut i = 2;
    loop {
        // Tolerate stray bytes and fill bytes (0xFF runs) before a marker.
        while i < b.len() && b[i] != 0xFF {
            i += 1;
        }
        while i < b.len() && b[i] == 0xFF {
            i += 1;
        }
        let Some(&marker) = b.get(i) else {
            return Err(JPEG_END);
        };
        i += 1;
        match marker {
            0xD9 => return Ok(()),
            // Standalone markers: SOI, RST0–7, TEM; a stuffed 0x00 out of a
            // scan is garbage that the decoder judges.
            0xD8 | 0xD0..=0xD7 | 0x01 | 0x00 => {}
            _ => {
                let length = be16(b, i).ok_or(JPEG_END)?;
                if length < 2 {
                    return Ok(());
                }
                i += length;
                if i > b.len() {
                    return Err(JPEG_END);
                }
                if marker == 0xDA {
                    i = end_of_entropy_coded_data(b, i).ok_or(JPEG_END)?;
                }
            }
        }
    }
}

/// Index of the 0xFF that starts the marker ending the scan data at `from`.
fn end_of_entropy_coded_data(b: &[u8], mut i: usize) -> Option<usize> {
    loop {
        i += b.get(i..)?.iter().position(|&x| x == 0xFF)?;
        let mut next = i + 1;
        while b.get(next) == Some(&0xFF) {
            next += 1;
        }
        match *b.get(next)? {
            0x00 | 0xD0..=0xD7 => i = next + 1,
            _ => return Some(next - 1),
        }
    }
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Chunks (length, type, data, CRC) up to `IEND`.
fn png(b: &[u8]) -> Walk {
    const END: &str = "its IEND chunk";
    if !b.starts_with(PNG_SIGNATURE) {
        return Ok(());
    }
    let mut i = PNG_SIGNATURE.len();
    loop {
        let length = be32(b, i).ok_or(END)?;
        let kind = b.get(i + 4..i + 8).ok_or(END)?;
        let end = (i + 12).checked_add(length).ok_or(END)?;
        if end > b.len() {
            return Err(END);
        }
        if kind == b"IEND" {
            return Ok(());
        }
        i = end;
    }
}

/// `RIFF <size> WEBP`: the RIFF size covers everything after its first 8
/// bytes, and each chunk inside must fit in it.
fn webp(b: &[u8]) -> Walk {
    const END: &str = "the end its RIFF header announces";
    if b.len() < 12 || &b[..4] != b"RIFF" || &b[8..12] != b"WEBP" {
        return Ok(());
    }
    let riff_end = le32(b, 4).ok_or(END)?.checked_add(8).ok_or(END)?;
    if riff_end > b.len() {
        return Err(END);
    }
    let mut i = 12;
    while i + 8 <= riff_end {
        let size = le32(b, i + 4).ok_or(END)?;
        let data_end = (i + 8).checked_add(size).ok_or(END)?;
        if data_end > b.len() {
            return Err(END);
        }
        // Chunks are padded to an even size.
        i = data_end + (size & 1);
    }
    Ok(())
}

/// Header, optional global colour table, then blocks (extensions and
/// images, each a chain of length-prefixed sub-blocks) up to the trailer.
fn gif(b: &[u8]) -> Walk {
    const END: &str = "its trailer (3B)";
    if !(b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a")) {
        return Ok(());
    }
    let colour_table = |flags: u8| {
        if flags & 0x80 != 0 {
            3 << ((flags & 0x07) + 1)
        } else {
            0
        }
    };
    let flags = *b.get(10).ok_or(END)?;
    let mut i = 13 + colour_table(flags);
    loop {
        match *b.get(i).ok_or(END)? {
            0x3B => return Ok(()),
            0x21 => i = skip_sub_blocks(b, i + 2).ok_or(END)?,
            0x2C => {
                let flags = *b.get(i + 9).ok_or(END)?;
                // Descriptor, local colour table, LZW minimum code size.
                i = skip_sub_blocks(b, i + 10 + colour_table(flags) + 1).ok_or(END)?;
            }
            // Not a block introducer: malformed, which the decoder reports.
            _ => return Ok(()),
        }
    }
}

/// Index after the zero-length block ending the sub-block chain at `i`.
fn skip_sub_blocks(b: &[u8], mut i: usize) -> Option<usize> {
    loop {
        let size = usize::from(*b.get(i)?);
        i += 1 + size;
        if size == 0 {
            return Some(i);
        }
        if i > b.len() {
            return None;
        }
    }
}

/// The file header's size field, when a writer filled it in.
fn bmp(b: &[u8]) -> Walk {
    if !b.starts_with(b"BM") {
        return Ok(());
    }
    match le32(b, 2) {
        Some(size) if size > b.len() => Err("the file size its header announces"),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_needs_its_end_marker_but_not_only_at_the_very_end() {
        // SOI, a comment, SOS with a 2-byte header... then data with a stuffed
        // FF00 and a restart marker, then EOI.
        let mut data = vec![0xFF, 0xD8, 0xFF, 0xFE, 0x00, 0x04, b'h', b'i'];
        data.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x02, 0x12, 0xFF, 0x00, 0x34]);
        data.extend_from_slice(&[0xFF, 0xD0, 0x56, 0xFF, 0xFF, 0xD9]);
        assert_eq!(jpeg(&data), Ok(()));
        let mut trailing = data.clone();
        trailing.extend_from_slice(b"camera maker notes");
        assert_eq!(jpeg(&trailing), Ok(()), "bytes after EOI are fine");
        for cut in 2..data.len() {
            assert_eq!(jpeg(&data[..cut]), Err(JPEG_END), "cut at {cut}");
        }
    }

    #[test]
    fn a_segment_longer_than_the_file_is_a_cut() {
        let data = [0xFF, 0xD8, 0xFF, 0xE1, 0x40, 0x00, 1, 2, 3];
        assert_eq!(jpeg(&data), Err(JPEG_END));
    }

    #[test]
    fn gif_sub_blocks_are_followed_to_the_trailer() {
        let mut data = b"GIF89a".to_vec();
        data.extend_from_slice(&[1, 0, 1, 0, 0x80, 0, 0]); // 1×1, 2-colour table
        data.extend_from_slice(&[0, 0, 0, 255, 255, 255]);
        data.extend_from_slice(&[0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0]); // descriptor
        data.extend_from_slice(&[2, 2, 0x44, 0x01, 0]); // LZW size, one sub-block
        data.push(0x3B);
        assert_eq!(gif(&data), Ok(()));
        for cut in 6..data.len() {
            assert!(gif(&data[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn other_signatures_are_left_to_the_decoder() {
        for format in [
            ImageFormat::Jpeg,
            ImageFormat::Png,
            ImageFormat::WebP,
            ImageFormat::Gif,
            ImageFormat::Bmp,
        ] {
            assert_eq!(check_complete(b"not an image at all", format), Ok(()));
        }
    }
}
