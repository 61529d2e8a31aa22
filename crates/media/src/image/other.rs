//! PNG, GIF and WebP through the `image` crate's decoders, with the size checked from the header
//! before any pixel buffer exists and the decoders held to the same budget, and the PNG encoder.

use std::io::Cursor;

use image::codecs::gif::GifDecoder;
use image::codecs::png::{CompressionType, FilterType, PngDecoder, PngEncoder};
use image::codecs::webp::WebPDecoder;
use image::metadata::Orientation;
use image::{ColorType, ExtendedColorType, ImageDecoder, ImageEncoder};

use super::limits::{ImageError, Limits, MIB};
use super::raster::{Layout, Raster};
use crate::MediaType;

/// A decoded PNG, GIF (first frame) or WebP, and the orientation its metadata states.
#[derive(Debug)]
pub(super) struct Decoded {
    pub(super) raster: Raster,
    pub(super) orientation: Orientation,
}

pub(super) fn decode(input: &[u8], media_type: MediaType, limits: &Limits) -> Result<Decoded, ImageError> {
    let cursor = Cursor::new(input);
    match media_type {
        // The PNG decoder hands the byte budget to the `png` crate only when it is built with it
        // (`set_limits` later does not reach the crate's own buffers: ancillary chunks, an ICC
        // profile inflated from a few bytes). The size is left to `decode_with`, which can say
        // what the header declared.
        MediaType::Png => {
            decode_with(PngDecoder::with_limits(cursor, byte_budget(limits)).map_err(|e| decode_error(&e))?, limits)
        }
        MediaType::Gif => decode_with(GifDecoder::new(cursor).map_err(|e| decode_error(&e))?, limits),
        MediaType::Webp => decode_with(WebPDecoder::new(cursor).map_err(|e| decode_error(&e))?, limits),
        _ => Err(ImageError::NotAnImage),
    }
}

/// Checks the size the header declares, in pixels and in decoded bytes, before any pixel buffer
/// exists; then decodes into one buffer of exactly that size. `DynamicImage::from_decoder` is
/// not used: it applies no limit by itself, and its 8-bit conversion of a 16-bit image would
/// hold a second copy of the pixels beside the first.
fn decode_with(mut decoder: impl ImageDecoder, limits: &Limits) -> Result<Decoded, ImageError> {
    let (width, height) = decoder.dimensions();
    let color = decoder.color_type();
    limits.check(width, height, color.bytes_per_pixel())?;
    let layout = layout_of(color)?;
    // The decoders that take limits (GIF, PNG) count their own allocations against the same
    // budget, so no decoding path allocates past it whatever the file says further on; WebP's
    // decoder ignores them, but its buffers follow the dimensions checked above.
    let mut decoder_limits = byte_budget(limits);
    decoder_limits.max_image_width = Some(limits.max_side);
    decoder_limits.max_image_height = Some(limits.max_side);
    decoder.set_limits(decoder_limits).map_err(|e| limit_error(e, width, height, limits))?;
    // A broken EXIF block should not cost the image: it is shown as stored.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    // Within `max_decoded_bytes` (checked above), so it fits in memory's address space.
    let len = usize::try_from(decoder.total_bytes()).map_err(|_| ImageError::TooManyBytes {
        width,
        height,
        bytes_per_pixel: color.bytes_per_pixel(),
        max_decoded_bytes: limits.max_decoded_bytes,
    })?;
    let mut pixels = vec![0_u8; len];
    decoder.read_image(&mut pixels).map_err(|e| limit_error(e, width, height, limits))?;
    if color.bytes_per_pixel() / color.channel_count() == 2 {
        narrow_to_8_bits(&mut pixels);
    }
    Ok(Decoded { raster: Raster { width, height, layout, pixels }, orientation })
}

/// `image::Limits` allowing the decoder `max_decoded_bytes` of allocations and nothing more.
fn byte_budget(limits: &Limits) -> image::Limits {
    let mut budget = image::Limits::no_limits();
    budget.max_alloc = Some(limits.max_decoded_bytes);
    budget
}

/// The 8-bit layout of what a PNG, GIF or WebP decoder produces.
fn layout_of(color: ColorType) -> Result<Layout, ImageError> {
    Ok(match color {
        ColorType::L8 | ColorType::L16 => Layout::Gray,
        ColorType::La8 | ColorType::La16 => Layout::GrayAlpha,
        ColorType::Rgb8 | ColorType::Rgb16 => Layout::Rgb,
        ColorType::Rgba8 | ColorType::Rgba16 => Layout::Rgba,
        other => return Err(ImageError::Malformed(format!("samples of type {other:?} are not supported"))),
    })
}

/// Native-endian 16-bit samples to 8 bits, rounded as the `image` crate rounds, written over
/// the first half of the same buffer: no second buffer of the image's size is allocated.
fn narrow_to_8_bits(pixels: &mut Vec<u8>) {
    let samples = pixels.len() / 2;
    for i in 0..samples {
        let wide = u32::from(u16::from_ne_bytes([pixels[2 * i], pixels[2 * i + 1]]));
        // Sample `i` is written after samples `0..=i` were read: nothing unread is overwritten.
        pixels[i] = u8::try_from((wide + 128) / 257).unwrap_or(u8::MAX);
    }
    pixels.truncate(samples);
    // Gives the unused half back where the allocator can shrink a block in place.
    pixels.shrink_to_fit();
}

/// Whether a WebP's image data is lossy (a `VP8 ` chunk) rather than lossless (`VP8L`).
pub(super) fn webp_is_lossy(input: &[u8]) -> bool {
    // RIFF header (12 bytes), then chunks: FourCC, little-endian size, data padded to even length.
    let mut at = 12;
    while let Some(header) = input.get(at..at + 8) {
        match &header[..4] {
            b"VP8 " => return true,
            b"VP8L" => return false,
            _ => {}
        }
        let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        at += 8 + size + (size & 1);
    }
    false
}

/// PNG with adaptive filtering and the default deflate level: lossless, metadata-free.
pub(super) fn encode_png(raster: &Raster) -> Result<Vec<u8>, ImageError> {
    let unpadded: Vec<u8>;
    let (color, pixels) = match raster.layout {
        Layout::Gray => (ExtendedColorType::L8, &raster.pixels),
        Layout::GrayAlpha => (ExtendedColorType::La8, &raster.pixels),
        Layout::Rgb => (ExtendedColorType::Rgb8, &raster.pixels),
        Layout::Rgba => (ExtendedColorType::Rgba8, &raster.pixels),
        Layout::Rgbx => {
            unpadded = raster.pixels.chunks_exact(4).flat_map(|px| &px[..3]).copied().collect();
            (ExtendedColorType::Rgb8, &unpadded)
        }
    };
    let mut out = Vec::new();
    let encoder = PngEncoder::new_with_quality(&mut out, CompressionType::Default, FilterType::Adaptive);
    encoder.write_image(pixels, raster.width, raster.height, color).map_err(|e| ImageError::Encode(e.to_string()))?;
    Ok(out)
}

fn decode_error(error: &image::ImageError) -> ImageError {
    ImageError::Malformed(error.to_string())
}

/// A limit the decoder itself enforced: the size from the header (checked before, so only in
/// theory), or its own allocations past the byte budget while reading the file.
fn limit_error(error: image::ImageError, width: u32, height: u32, limits: &Limits) -> ImageError {
    match error {
        image::ImageError::Limits(limit) => match limit.kind() {
            image::error::LimitErrorKind::DimensionError => {
                ImageError::TooLarge { width, height, max_side: limits.max_side, max_pixels: limits.max_pixels }
            }
            _ => ImageError::Malformed(format!(
                "decoding it needs more than the {} MiB allowed",
                limits.max_decoded_bytes / MIB
            )),
        },
        other => decode_error(&other),
    }
}
