//! The pure-Rust codec (the default build): `zune-jpeg` decodes, `jpeg-encoder` encodes. Neither
//! needs a system library; neither can decode at a fraction of the stored size.

use std::io::Cursor;

use jpeg_encoder::{ColorType, Encoder, SamplingFactor};
use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

use super::{Frame, ImageError, JpegHeader, Samples, cmyk_to_rgbx};
use crate::image::raster::{Layout, Raster};

/// Strict: a truncated or damaged stream is an error, not grey blocks (libjpeg-turbo's warnings
/// are refused the same way). The decoder's own size cap is lifted to what a JPEG can declare,
/// so that an oversized image reaches `Limits` and is refused as too large, not as malformed.
fn options(output: ColorSpace) -> DecoderOptions {
    DecoderOptions::default()
        .set_strict_mode(true)
        .set_max_width(usize::from(u16::MAX))
        .set_max_height(usize::from(u16::MAX))
        .jpeg_set_out_colorspace(output)
}

pub(super) fn read_frame(input: &[u8]) -> Result<Frame, ImageError> {
    let mut decoder = JpegDecoder::new_with_options(Cursor::new(input), options(ColorSpace::RGB));
    decoder.decode_headers().map_err(|e| malformed(&e))?;
    let info = decoder.info().ok_or_else(|| ImageError::Malformed("no frame header".into()))?;
    let samples = match decoder.input_colorspace() {
        Some(ColorSpace::Luma) => Samples::Grey,
        Some(ColorSpace::YCbCr | ColorSpace::RGB) => Samples::Colour,
        Some(ColorSpace::CMYK) => Samples::Cmyk,
        Some(ColorSpace::YCCK) => Samples::Ycck,
        other => return Err(ImageError::Malformed(format!("unsupported JPEG colour space {other:?}"))),
    };
    Ok(Frame { width: usize::from(info.width), height: usize::from(info.height), samples })
}

/// Decodes at the stored size whatever `shrink` asks: the resize that follows does it all.
pub(super) fn decode(input: &[u8], header: &JpegHeader, _shrink: u32) -> Result<Raster, ImageError> {
    // CMYK is asked for as stored and converted by `cmyk_to_rgbx`, which honours the Adobe
    // marker; YCCK only converts to RGB in zune-jpeg, expanded to RGBX here.
    let (output, layout) = match header.samples {
        Samples::Grey => (ColorSpace::Luma, Layout::Gray),
        Samples::Colour => (ColorSpace::RGBA, Layout::Rgbx),
        Samples::Cmyk => (ColorSpace::CMYK, Layout::Rgbx),
        Samples::Ycck => (ColorSpace::RGB, Layout::Rgbx),
    };
    let mut decoder = JpegDecoder::new_with_options(Cursor::new(input), options(output));
    let mut pixels = decoder.decode().map_err(|e| malformed(&e))?;
    match header.samples {
        Samples::Cmyk => cmyk_to_rgbx(&mut pixels, header.adobe),
        Samples::Ycck => pixels = rgb_to_rgbx(&pixels),
        Samples::Grey | Samples::Colour => {}
    }
    let expected = header.width as usize * header.height as usize * layout.bytes_per_pixel();
    if pixels.len() != expected {
        return Err(ImageError::Malformed("the decoded size differs from the frame header's".into()));
    }
    Ok(Raster { width: header.width, height: header.height, layout, pixels })
}

pub(super) fn encode(raster: &Raster, quality: u8) -> Result<Vec<u8>, ImageError> {
    let colour = match raster.layout {
        Layout::Gray => ColorType::Luma,
        Layout::Rgb => ColorType::Rgb,
        // The fourth byte is padding: the encoder reads RGBA and ignores the alpha.
        Layout::Rgbx => ColorType::Rgba,
        Layout::GrayAlpha | Layout::Rgba => return Err(ImageError::Encode("JPEG has no alpha channel".into())),
    };
    let side = |value: u32| {
        u16::try_from(value).map_err(|_| ImageError::Encode(format!("{value} px is more than a JPEG side holds")))
    };
    let (width, height) = (side(raster.width)?, side(raster.height)?);
    let mut output = Vec::with_capacity(raster.pixels.len() / 8);
    let mut encoder = Encoder::new(&mut output, quality);
    encoder.set_sampling_factor(SamplingFactor::R_4_2_0);
    encoder.encode(&raster.pixels, width, height, colour).map_err(|e| ImageError::Encode(e.to_string()))?;
    Ok(output)
}

fn rgb_to_rgbx(rgb: &[u8]) -> Vec<u8> {
    rgb.chunks_exact(3).flat_map(|px| [px[0], px[1], px[2], 255]).collect()
}

fn malformed(error: &zune_jpeg::errors::DecodeErrors) -> ImageError {
    ImageError::Malformed(error.to_string())
}
