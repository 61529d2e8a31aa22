//! Image re-encoding: what an uploaded image is stored as, and its thumbnail.
//!
//! [`process`] is the upload path: the image is turned upright from its EXIF orientation, fitted
//! inside a box (2048×2048 by default, never enlarged), re-encoded without any metadata (EXIF,
//! ICC, XMP are all dropped), and given a thumbnail (256×256, scaled to cover and centre-cropped).
//! [`transform`] is the general operation underneath, one output per call.
//!
//! Safety first: the size is read from the header and checked against [`Limits`] (10 000 px a
//! side, 40 megapixels, 512 MiB of decoded pixels) before a single pixel buffer is allocated, so
//! a decompression bomb — a small file declaring 100 000 × 100 000 pixels, or 16-bit samples
//! that make each pixel eight bytes — is an [`ImageError::TooLarge`] or
//! [`ImageError::TooManyBytes`], never an out-of-memory. The `image` crate's decoders are given
//! the same byte budget for their own allocations.
//!
//! Stored formats (the contract lets `content_type` name the stored format):
//!
//! | uploaded | stored | thumbnail |
//! |---|---|---|
//! | JPEG | JPEG (quality 80, 4:2:0) | JPEG |
//! | PNG | PNG (lossless; an alpha channel kept unless fully opaque) | JPEG, or PNG with alpha |
//! | GIF | PNG of the first frame (animation is not kept) | JPEG, or PNG with alpha |
//! | WebP, lossy, no alpha | JPEG: the `image` crate can only write lossless WebP, several times larger for a photo | JPEG |
//! | WebP, lossless or with alpha | PNG | JPEG, or PNG with alpha |
//!
//! In short: lossy stays lossy (JPEG), lossless stays lossless (PNG), and transparency is kept.
//! Samples deeper than 8 bits are reduced to 8. Colour profiles are dropped without converting
//! the pixels, so a wide-gamut (Display P3) photo shows slightly less saturated.
//!
//! Speed: with the `turbojpeg` feature JPEG is decoded and encoded by libjpeg-turbo, with
//! shrink-on-load (a JPEG that must shrink by 2, 4 or 8 or more is decoded at 1/2, 1/4 or 1/8 of
//! its size in the DCT domain, as libvips does); the default pure-Rust codec decodes at the stored
//! size. Resizing is `fast_image_resize`'s SIMD Lanczos3 convolution, and the
//! orientation is applied after resizing, to the smaller image.

mod jpeg;
mod limits;
mod other;
mod raster;

use std::cell::RefCell;

use fast_image_resize as fir;
use image::metadata::Orientation;

use crate::MediaType;
pub use limits::{ImageError, Limits};
use raster::{Layout, Raster, swaps_axes};

/// What the upload path makes of an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImagePolicy {
    /// What may be decoded at all.
    pub limits: Limits,
    /// The stored image fits inside `max_width`×`max_height` (default 2048×2048), never enlarged.
    pub max_width: u32,
    /// See `max_width`.
    pub max_height: u32,
    /// The thumbnail is `thumbnail_size` pixels square (default 256).
    pub thumbnail_size: u32,
    /// JPEG quality, 1–100 (default 80, as sharp's).
    pub jpeg_quality: u8,
}

impl Default for ImagePolicy {
    fn default() -> Self {
        Self { limits: Limits::default(), max_width: 2048, max_height: 2048, thumbnail_size: 256, jpeg_quality: 80 }
    }
}

/// How a [`transform`] resizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resize {
    /// Scale to fit inside the box, keeping the aspect ratio; an image already inside is left
    /// as it is (never enlarged).
    Inside {
        /// The box's width.
        max_width: u32,
        /// The box's height.
        max_height: u32,
    },
    /// Exactly `width`×`height`: scaled (up or down) to cover the box, then the centre cropped.
    Cover {
        /// The output's width.
        width: u32,
        /// The output's height.
        height: u32,
    },
}

/// One image operation: decode, optionally turn upright, optionally resize, re-encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transform {
    /// What may be decoded at all.
    pub limits: Limits,
    /// Apply the EXIF orientation to the pixels (the output never carries one either way).
    pub auto_orient: bool,
    /// The output size, relative to the upright image when `auto_orient` is set.
    pub resize: Option<Resize>,
    /// JPEG quality, 1–100.
    pub jpeg_quality: u8,
}

/// An encoded image and what it is.
#[derive(Clone, PartialEq, Eq)]
pub struct EncodedImage {
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// JPEG or PNG.
    pub media_type: MediaType,
    /// In pixels, as displayed (upright).
    pub width: u32,
    /// In pixels, as displayed (upright).
    pub height: u32,
}

impl std::fmt::Debug for EncodedImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncodedImage")
            .field("bytes", &format_args!("{} bytes", self.bytes.len()))
            .field("media_type", &self.media_type)
            .field("width", &self.width)
            .field("height", &self.height)
            .finish()
    }
}

/// The stored image and its thumbnail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessedImage {
    /// Upright, bounded, stripped.
    pub image: EncodedImage,
    /// Upright, exactly the policy's thumbnail size.
    pub thumbnail: EncodedImage,
}

/// Re-encodes an uploaded image as [`ImagePolicy`] says: upright, bounded, stripped, with a
/// thumbnail. The image is decoded once; the thumbnail is made from the bounded image.
pub fn process(input: &[u8], policy: &ImagePolicy) -> Result<ProcessedImage, ImageError> {
    if policy.max_width == 0 || policy.max_height == 0 || policy.thumbnail_size == 0 {
        return Err(ImageError::InvalidRequest("the bounding box and the thumbnail need a size"));
    }
    let quality = checked_quality(policy.jpeg_quality)?;
    let source = Source::open(input, &policy.limits)?;
    let orientation = source.orientation();
    let lossy = source.is_lossy();
    let (width, height) = source.dimensions();

    let bounded = Target::new(
        width,
        height,
        orientation,
        Resize::Inside { max_width: policy.max_width, max_height: policy.max_height },
    );
    let decoded = source.decode(bounded.shrink_on_load(width, height))?.without_opaque_alpha();
    let (image, spare) = resized(decoded, bounded)?;
    let size = policy.thumbnail_size;
    let thumb = Target::new(image.width, image.height, orientation, Resize::Cover { width: size, height: size });
    let thumbnail = resize(&image, thumb)?;

    let image = image.oriented(orientation, spare);
    let thumbnail = thumbnail.oriented(orientation, None);
    Ok(ProcessedImage {
        image: encode(&image, stored_type(&image, lossy), quality)?,
        // A thumbnail is small and only looked at: JPEG unless transparency must be kept.
        thumbnail: encode(&thumbnail, stored_type(&thumbnail, true), quality)?,
    })
}

/// Decodes, optionally turns upright and resizes, and re-encodes without metadata, in the
/// stored format [`process`] would choose.
pub fn transform(input: &[u8], request: &Transform) -> Result<EncodedImage, ImageError> {
    let quality = checked_quality(request.jpeg_quality)?;
    let zero_size = match request.resize {
        Some(Resize::Inside { max_width: w, max_height: h } | Resize::Cover { width: w, height: h }) => {
            w == 0 || h == 0
        }
        None => false,
    };
    if zero_size {
        return Err(ImageError::InvalidRequest("a resize needs a width and a height"));
    }
    let source = Source::open(input, &request.limits)?;
    let orientation = if request.auto_orient { source.orientation() } else { Orientation::NoTransforms };
    let lossy = source.is_lossy();
    let (width, height) = source.dimensions();
    let target = request.resize.map(|resize| Target::new(width, height, orientation, resize));
    let shrink = target.map_or(1, |t| t.shrink_on_load(width, height));
    let decoded = source.decode(shrink)?.without_opaque_alpha();
    let (raster, spare) = match target {
        Some(target) => resized(decoded, target)?,
        None => (decoded, None),
    };
    let raster = raster.oriented(orientation, spare);
    encode(&raster, stored_type(&raster, lossy), quality)
}

/// Lossy stays lossy (JPEG), lossless stays lossless (PNG), and transparency is kept (PNG).
fn stored_type(raster: &Raster, lossy_source: bool) -> MediaType {
    if raster.has_alpha() || !lossy_source { MediaType::Png } else { MediaType::Jpeg }
}

fn checked_quality(quality: u8) -> Result<u8, ImageError> {
    if (1..=100).contains(&quality) { Ok(quality) } else { Err(ImageError::InvalidRequest("JPEG quality is 1 to 100")) }
}

/// An opened image: a JPEG whose header is read (pixels decoded later, possibly shrunk), or
/// another format already decoded (their decoders cannot shrink on load).
enum Source<'a> {
    Jpeg { input: &'a [u8], header: jpeg::JpegHeader },
    Decoded { decoded: other::Decoded, lossy: bool },
}

impl<'a> Source<'a> {
    fn open(input: &'a [u8], limits: &Limits) -> Result<Self, ImageError> {
        match MediaType::of_image(input) {
            Some(MediaType::Jpeg) => {
                let header = jpeg::read_header(input)?;
                limits.check(header.width, header.height, header.bytes_per_pixel())?;
                Ok(Self::Jpeg { input, header })
            }
            Some(media_type) => {
                let lossy = media_type == MediaType::Webp && other::webp_is_lossy(input);
                Ok(Self::Decoded { decoded: other::decode(input, media_type, limits)?, lossy })
            }
            None => Err(ImageError::NotAnImage),
        }
    }

    fn dimensions(&self) -> (u32, u32) {
        match self {
            Self::Jpeg { header, .. } => (header.width, header.height),
            Self::Decoded { decoded, .. } => (decoded.raster.width, decoded.raster.height),
        }
    }

    fn orientation(&self) -> Orientation {
        match self {
            Self::Jpeg { header, .. } => header.orientation,
            Self::Decoded { decoded, .. } => decoded.orientation,
        }
    }

    fn is_lossy(&self) -> bool {
        match self {
            Self::Jpeg { .. } => true,
            Self::Decoded { lossy, .. } => *lossy,
        }
    }

    /// The pixels, decoded at 1/`shrink` of the stored size where the format allows it.
    fn decode(self, shrink: u32) -> Result<Raster, ImageError> {
        match self {
            Self::Jpeg { input, header } => jpeg::decode(input, &header, shrink),
            Self::Decoded { decoded, .. } => Ok(decoded.raster),
        }
    }
}

/// A resize target in the stored (not yet upright) orientation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Target {
    width: u32,
    height: u32,
    /// Crop the source's centre to the target's aspect ratio first.
    crop: bool,
}

impl Target {
    /// Where an image stored as `width`×`height` with `orientation` must be resized to, so that
    /// once turned upright it meets `resize`.
    fn new(width: u32, height: u32, orientation: Orientation, resize: Resize) -> Self {
        let swap = swaps_axes(orientation);
        let (upright_w, upright_h) = if swap { (height, width) } else { (width, height) };
        let (w, h, crop) = match resize {
            Resize::Inside { max_width, max_height } => {
                let (w, h) = fit_inside(upright_w, upright_h, max_width, max_height);
                (w, h, false)
            }
            Resize::Cover { width, height } => (width, height, true),
        };
        if swap { Self { width: h, height: w, crop } } else { Self { width: w, height: h, crop } }
    }

    /// The JPEG shrink-on-load factor: the largest of 8, 4, 2 that the required reduction
    /// reaches on both axes (sharp's `fastShrinkOnLoad` rule), else 1. The Lanczos3 resize
    /// does the rest, from a decoded image never smaller than the target.
    fn shrink_on_load(&self, width: u32, height: u32) -> u32 {
        let reduction = (f64::from(width) / f64::from(self.width)).min(f64::from(height) / f64::from(self.height));
        [8, 4, 2].into_iter().find(|&factor| reduction >= f64::from(factor)).unwrap_or(1)
    }
}

/// `width`×`height` scaled to fit inside `max_width`×`max_height`, never enlarged, at least 1×1.
fn fit_inside(width: u32, height: u32, max_width: u32, max_height: u32) -> (u32, u32) {
    if width <= max_width && height <= max_height {
        return (width, height);
    }
    let scaled = |side: u32, numerator: u32, denominator: u32| {
        let rounded = (u64::from(side) * u64::from(numerator) + u64::from(denominator) / 2) / u64::from(denominator);
        // At most `side` (numerator < denominator here), so it fits in u32.
        u32::try_from(rounded).unwrap_or(side).max(1)
    };
    // Compare the aspect ratios exactly: which side reaches the box first?
    if u64::from(width) * u64::from(max_height) >= u64::from(height) * u64::from(max_width) {
        (max_width, scaled(height, max_width, width))
    } else {
        (scaled(width, max_height, height), max_height)
    }
}

/// `raster` at the target size (itself when it already is), and the buffer it no longer needs.
fn resized(raster: Raster, target: Target) -> Result<(Raster, Option<Vec<u8>>), ImageError> {
    if raster.width == target.width && raster.height == target.height {
        Ok((raster, None))
    } else {
        Ok((resize(&raster, target)?, Some(raster.pixels)))
    }
}

thread_local! {
    /// One resizer per worker thread: it keeps its scratch buffers between jobs.
    static RESIZER: RefCell<fir::Resizer> = RefCell::new(fir::Resizer::new());
}

/// Lanczos3 resize with `fast_image_resize` (SIMD chosen at run time), the alpha channel
/// premultiplied during the convolution so that transparent pixels do not bleed colour.
fn resize(raster: &Raster, target: Target) -> Result<Raster, ImageError> {
    // RGBX's fourth byte is padding, not alpha: it must not be premultiplied.
    let (pixel_type, alpha) = match raster.layout {
        Layout::Gray => (fir::PixelType::U8, false),
        Layout::GrayAlpha => (fir::PixelType::U8x2, true),
        Layout::Rgb => (fir::PixelType::U8x3, false),
        Layout::Rgbx => (fir::PixelType::U8x4, false),
        Layout::Rgba => (fir::PixelType::U8x4, true),
    };
    let resize_error = |e: &dyn std::fmt::Display| ImageError::Codec(format!("resize: {e}"));
    let src = fir::images::ImageRef::new(raster.width, raster.height, &raster.pixels, pixel_type)
        .map_err(|e| resize_error(&e))?;
    let mut dst = fir::images::Image::new(target.width, target.height, pixel_type);
    let mut options =
        fir::ResizeOptions::new().resize_alg(fir::ResizeAlg::Convolution(fir::FilterType::Lanczos3)).use_alpha(alpha);
    if target.crop {
        options = options.fit_into_destination(Some((0.5, 0.5)));
    }
    RESIZER.with_borrow_mut(|resizer| resizer.resize(&src, &mut dst, &options)).map_err(|e| resize_error(&e))?;
    Ok(Raster { width: target.width, height: target.height, layout: raster.layout, pixels: dst.into_vec() })
}

fn encode(raster: &Raster, media_type: MediaType, quality: u8) -> Result<EncodedImage, ImageError> {
    let bytes = match media_type {
        MediaType::Jpeg => jpeg::encode(raster, quality)?,
        _ => other::encode_png(raster)?,
    };
    Ok(EncodedImage { bytes, media_type, width: raster.width, height: raster.height })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitting_inside_keeps_the_aspect_ratio_and_never_enlarges() {
        assert_eq!(fit_inside(2225, 2725, 2048, 2048), (1672, 2048));
        assert_eq!(fit_inside(2725, 2225, 2048, 2048), (2048, 1672));
        assert_eq!(fit_inside(100, 50, 2048, 2048), (100, 50));
        assert_eq!(fit_inside(10_000, 1, 2048, 2048), (2048, 1));
    }

    #[test]
    fn a_quarter_turn_swaps_the_box_into_stored_coordinates() {
        let target =
            Target::new(2725, 2225, Orientation::Rotate90, Resize::Inside { max_width: 2048, max_height: 2048 });
        assert_eq!((target.width, target.height), (2048, 1672));
        let wide_box = Target::new(400, 200, Orientation::Rotate270, Resize::Cover { width: 300, height: 100 });
        assert_eq!((wide_box.width, wide_box.height), (100, 300));
    }

    #[test]
    fn shrink_on_load_leaves_the_target_reachable() {
        let bench = Target { width: 720, height: 588, crop: true };
        assert_eq!(bench.shrink_on_load(2725, 2225), 2);
        let thumb = Target { width: 256, height: 256, crop: true };
        assert_eq!(thumb.shrink_on_load(2725, 2225), 8);
        let fit = Target { width: 2048, height: 1672, crop: false };
        assert_eq!(fit.shrink_on_load(2725, 2225), 1);
        let exact = Target { width: 100, height: 100, crop: true };
        assert_eq!(exact.shrink_on_load(400, 400), 4);
    }
}
