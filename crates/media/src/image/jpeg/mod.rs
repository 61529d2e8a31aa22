//! JPEG: the header (size, sample layout), the EXIF orientation and Adobe marker read from the
//! segments before the image data, decoding, and encoding without any metadata segment.
//!
//! Two codecs stand behind this one interface, chosen when the crate is built:
//!
//! - with the `turbojpeg` feature, libjpeg-turbo's TurboJPEG API (the system library, found with
//!   pkg-config): SIMD decoding with DCT-domain downscaling ("shrink-on-load") and a fast
//!   encoder; the one that keeps the image paths ahead of sharp (README.md);
//! - without it, pure Rust: `zune-jpeg` decodes (SIMD chosen at run time), `jpeg-encoder` with its
//!   AVX2 path encodes. Nothing beyond a Rust toolchain is needed to build it; it decodes every
//!   JPEG at its stored size (it cannot shrink on load), so a thumbnail of a large photo costs a
//!   few times more.
//!
//! Both refuse a damaged file (even one libjpeg-turbo would only warn about, such as a
//! truncated one) as malformed, and both write a JFIF header and nothing else.

#[cfg(not(feature = "turbojpeg"))]
mod pure;
#[cfg(feature = "turbojpeg")]
mod turbo;

#[cfg(not(feature = "turbojpeg"))]
use pure as codec;
#[cfg(feature = "turbojpeg")]
use turbo as codec;

use image::metadata::Orientation;

use super::limits::ImageError;
use super::raster::Raster;

/// What a JPEG's samples are, as its frame header and Adobe marker declare them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Samples {
    Grey,
    /// YCbCr (or RGB): decoded to RGBX.
    Colour,
    /// Four-component CMYK: decoded as CMYK, then converted to RGBX.
    Cmyk,
    /// Adobe's YCCK (transform 2): decoded as CMYK, then converted to RGBX.
    Ycck,
}

/// What is known of a JPEG before its pixels are decoded.
#[derive(Debug, Clone, Copy)]
pub(super) struct JpegHeader {
    pub(super) width: u32,
    pub(super) height: u32,
    pub(super) orientation: Orientation,
    samples: Samples,
    /// An Adobe APP14 segment: CMYK samples are then stored inverted (Photoshop's convention).
    adobe: bool,
}

/// The frame's size and samples as the codec reads them.
struct Frame {
    width: usize,
    height: usize,
    samples: Samples,
}

pub(super) fn read_header(input: &[u8]) -> Result<JpegHeader, ImageError> {
    let frame = codec::read_frame(input)?;
    let markers = scan_markers(input);
    let side = |value: usize, what: &str| {
        u32::try_from(value).map_err(|_| ImageError::Malformed(format!("{what} out of range")))
    };
    Ok(JpegHeader {
        width: side(frame.width, "width")?,
        height: side(frame.height, "height")?,
        orientation: markers.orientation,
        samples: frame.samples,
        adobe: markers.adobe,
    })
}

impl JpegHeader {
    /// The size of one pixel as [`decode`] writes it: grey stays one byte, anything else is
    /// four (RGBX, or CMYK converted in place).
    pub(super) fn bytes_per_pixel(&self) -> u8 {
        match self.samples {
            Samples::Grey => 1,
            _ => 4,
        }
    }
}

/// Decodes at 1/`shrink` of the stored size (`shrink` is 1, 2, 4 or 8) where the codec can
/// (libjpeg-turbo then runs a smaller inverse DCT per block instead of decoding every pixel
/// and throwing most away); the pure-Rust codec decodes at the stored size, and the resize
/// that follows does the rest.
pub(super) fn decode(input: &[u8], header: &JpegHeader, shrink: u32) -> Result<Raster, ImageError> {
    codec::decode(input, header, shrink)
}

/// Encodes a grey or RGB(X) raster at `quality` (1–100), 4:2:0 chroma for colour. A JFIF header
/// is written and nothing else: no EXIF, ICC or XMP.
pub(super) fn encode(raster: &Raster, quality: u8) -> Result<Vec<u8>, ImageError> {
    codec::encode(raster, quality)
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
