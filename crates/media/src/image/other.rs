//! PNG, GIF and WebP through the `image` crate's decoders, with the size checked from the header
//! before any pixel buffer exists, and the PNG encoder.

use std::io::Cursor;

use image::codecs::gif::GifDecoder;
use image::codecs::png::{CompressionType, FilterType, PngDecoder, PngEncoder};
use image::codecs::webp::WebPDecoder;
use image::metadata::Orientation;
use image::{DynamicImage, ExtendedColorType, ImageDecoder, ImageEncoder};

use super::raster::{Layout, Raster};
use super::{ImageError, Limits};
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
        MediaType::Png => decode_with(PngDecoder::new(cursor).map_err(|e| decode_error(&e))?, limits),
        MediaType::Gif => decode_with(GifDecoder::new(cursor).map_err(|e| decode_error(&e))?, limits),
        MediaType::Webp => decode_with(WebPDecoder::new(cursor).map_err(|e| decode_error(&e))?, limits),
        _ => Err(ImageError::NotAnImage),
    }
}

/// `DynamicImage::from_decoder` does not apply `image::Limits` by itself, and the limits' width
/// and height are off by default: the size is checked here, from the header, and the decoder is
/// also given the limits so that its own allocations stay bounded.
fn decode_with(mut decoder: impl ImageDecoder, limits: &Limits) -> Result<Decoded, ImageError> {
    let (width, height) = decoder.dimensions();
    limits.check(width, height)?;
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_image_width = Some(limits.max_side);
    decoder_limits.max_image_height = Some(limits.max_side);
    decoder.set_limits(decoder_limits).map_err(|e| limit_error(e, width, height, limits))?;
    // A broken EXIF block should not cost the image: it is shown as stored.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let image = DynamicImage::from_decoder(decoder).map_err(|e| limit_error(e, width, height, limits))?;
    Ok(Decoded { raster: to_raster(image), orientation })
}

/// Brings every colour type to 8-bit grey, grey+alpha, RGB or RGBA.
fn to_raster(image: DynamicImage) -> Raster {
    let (width, height) = (image.width(), image.height());
    let (layout, pixels) = match image {
        DynamicImage::ImageLuma8(buffer) => (Layout::Gray, buffer.into_raw()),
        DynamicImage::ImageLumaA8(buffer) => (Layout::GrayAlpha, buffer.into_raw()),
        DynamicImage::ImageRgb8(buffer) => (Layout::Rgb, buffer.into_raw()),
        DynamicImage::ImageRgba8(buffer) => (Layout::Rgba, buffer.into_raw()),
        DynamicImage::ImageLuma16(_) => (Layout::Gray, image.to_luma8().into_raw()),
        DynamicImage::ImageLumaA16(_) => (Layout::GrayAlpha, image.to_luma_alpha8().into_raw()),
        DynamicImage::ImageRgb16(_) | DynamicImage::ImageRgb32F(_) => (Layout::Rgb, image.to_rgb8().into_raw()),
        _ => (Layout::Rgba, image.to_rgba8().into_raw()),
    };
    Raster { width, height, layout, pixels }
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

fn limit_error(error: image::ImageError, width: u32, height: u32, limits: &Limits) -> ImageError {
    match error {
        image::ImageError::Limits(_) => {
            ImageError::TooLarge { width, height, max_side: limits.max_side, max_pixels: limits.max_pixels }
        }
        other => decode_error(&other),
    }
}
