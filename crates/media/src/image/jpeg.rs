//! JPEG through libjpeg-turbo's TurboJPEG API: the header (size, colour space), the EXIF
//! orientation and Adobe marker read from the segments before the image data, decoding with
//! DCT-domain downscaling ("shrink-on-load"), and encoding without any metadata segment.

use image::metadata::Orientation;
use turbojpeg::{Colorspace, Compressor, Decompressor, Image, PixelFormat, Subsamp};

use super::ImageError;
use super::raster::{Layout, Raster};

/// What is known of a JPEG before its pixels are decoded.
#[derive(Debug, Clone, Copy)]
pub(super) struct JpegHeader {
    pub(super) width: u32,
    pub(super) height: u32,
    pub(super) orientation: Orientation,
    colorspace: Colorspace,
    /// An Adobe APP14 segment: CMYK samples are then stored inverted (Photoshop's convention).
    adobe: bool,
}

pub(super) fn read_header(input: &[u8]) -> Result<JpegHeader, ImageError> {
    let mut decompressor = Decompressor::new().map_err(|e| codec_error(&e))?;
    let header = decompressor.read_header(input).map_err(|e| malformed(&e))?;
    let markers = scan_markers(input);
    Ok(JpegHeader {
        width: u32::try_from(header.width).map_err(|_| ImageError::Malformed("width out of range".into()))?,
        height: u32::try_from(header.height).map_err(|_| ImageError::Malformed("height out of range".into()))?,
        orientation: markers.orientation,
        colorspace: header.colorspace,
        adobe: markers.adobe,
    })
}

impl JpegHeader {
    /// The size of one pixel as [`decode`] writes it: grey stays one byte, anything else is
    /// four (RGBX, or CMYK converted in place).
    pub(super) fn bytes_per_pixel(&self) -> u8 {
        match self.colorspace {
            Colorspace::Gray => 1,
            _ => 4,
        }
    }
}

/// Decodes at 1/`shrink` of the stored size (`shrink` is 1, 2, 4 or 8): libjpeg-turbo then runs
/// a smaller inverse DCT per block instead of decoding every pixel and throwing most away.
pub(super) fn decode(input: &[u8], header: &JpegHeader, shrink: u32) -> Result<Raster, ImageError> {
    let width = header.width.div_ceil(shrink) as usize;
    let height = header.height.div_ceil(shrink) as usize;
    let (format, layout) = match header.colorspace {
        Colorspace::Gray => (PixelFormat::GRAY, Layout::Gray),
        // Decoded as CMYK, then converted to RGBX below.
        Colorspace::CMYK | Colorspace::YCCK => (PixelFormat::CMYK, Layout::Rgbx),
        Colorspace::RGB | Colorspace::YCbCr => (PixelFormat::RGBX, Layout::Rgbx),
    };
    let size = layout.bytes_per_pixel();
    let mut pixels = vec![0u8; width * height * size];
    let mut decompressor = Decompressor::new().map_err(|e| codec_error(&e))?;
    // TurboJPEG picks the largest scaling factor whose output fits the buffer's size: asking for
    // ceil(size / shrink) selects exactly 1/shrink.
    let image = Image { pixels: pixels.as_mut_slice(), width, pitch: width * size, height, format };
    decompressor.decompress(input, image).map_err(|e| malformed(&e))?;
    if format == PixelFormat::CMYK {
        cmyk_to_rgbx(&mut pixels, header.adobe);
    }
    Ok(Raster { width: width as u32, height: height as u32, layout, pixels })
}

/// Encodes a grey or RGB raster at `quality` (1–100), 4:2:0 chroma for colour. TurboJPEG writes
/// a JFIF header and nothing else: no EXIF, ICC or XMP.
pub(super) fn encode(raster: &Raster, quality: u8) -> Result<Vec<u8>, ImageError> {
    let (format, subsamp) = match raster.layout {
        Layout::Gray => (PixelFormat::GRAY, Subsamp::Gray),
        Layout::Rgb => (PixelFormat::RGB, Subsamp::Sub2x2),
        Layout::Rgbx => (PixelFormat::RGBX, Subsamp::Sub2x2),
        Layout::GrayAlpha | Layout::Rgba => return Err(ImageError::Encode("JPEG has no alpha channel".into())),
    };
    let mut compressor = Compressor::new().map_err(|e| codec_error(&e))?;
    compressor.set_quality(i32::from(quality));
    compressor.set_subsamp(subsamp);
    let width = raster.width as usize;
    let image = Image {
        pixels: raster.pixels.as_slice(),
        width,
        pitch: width * raster.layout.bytes_per_pixel(),
        height: raster.height as usize,
        format,
    };
    compressor.compress_to_vec(image).map_err(|e| ImageError::Encode(e.to_string()))
}

/// Naive CMYK to RGB, in place (the fourth byte becomes padding): no colour management, but a
/// print-ready JPEG is shown recognisably.
fn cmyk_to_rgbx(pixels: &mut [u8], inverted: bool) {
    for px in pixels.chunks_exact_mut(4) {
        let [c, m, y, k] = [px[0], px[1], px[2], px[3]].map(|v| u16::from(if inverted { v } else { 255 - v }));
        // A product of two bytes divided by 255 fits a byte again.
        let [r, g, b] = [c, m, y].map(|v| ((v * k + 127) / 255) as u8);
        px.copy_from_slice(&[r, g, b, 255]);
    }
}

#[derive(Debug, Clone, Copy)]
struct Markers {
    orientation: Orientation,
    adobe: bool,
}

/// Walks the segments between SOI and the first SOS: the first APP1 `Exif` segment gives the
/// orientation, an APP14 `Adobe` segment the CMYK convention.
fn scan_markers(input: &[u8]) -> Markers {
    let mut markers = Markers { orientation: Orientation::NoTransforms, adobe: false };
    let mut exif_seen = false;
    let mut at = 2;
    while let Some(&[0xFF, marker]) = input.get(at..at + 2) {
        match marker {
            // Fill bytes before a marker.
            0xFF => {
                at += 1;
                continue;
            }
            // Markers without a length.
            0x01 | 0xD0..=0xD7 => {
                at += 2;
                continue;
            }
            // Start of scan or end of image: no more metadata segments.
            0xDA | 0xD9 => break,
            _ => {}
        }
        let Some(&[hi, lo]) = input.get(at + 2..at + 4) else { break };
        let length = usize::from(u16::from_be_bytes([hi, lo]));
        let Some(body) = input.get(at + 4..at + 2 + length.max(2)) else { break };
        if marker == 0xE1 && !exif_seen && body.starts_with(b"Exif\0\0") {
            exif_seen = true;
            markers.orientation = Orientation::from_exif_chunk(&body[6..]).unwrap_or(Orientation::NoTransforms);
        }
        if marker == 0xEE && body.starts_with(b"Adobe") {
            markers.adobe = true;
        }
        at += 2 + length;
    }
    markers
}

fn malformed(error: &turbojpeg::Error) -> ImageError {
    ImageError::Malformed(error.to_string())
}

fn codec_error(error: &turbojpeg::Error) -> ImageError {
    ImageError::Codec(error.to_string())
}
