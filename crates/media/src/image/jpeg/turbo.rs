//! The libjpeg-turbo codec (feature `turbojpeg`): the system library through the TurboJPEG API,
//! with DCT-domain downscaling while decoding.

use turbojpeg::{Colorspace, Compressor, Decompressor, Image, PixelFormat, Subsamp};

use super::{Frame, ImageError, JpegHeader, Samples, cmyk_to_rgbx};
use crate::image::raster::{Layout, Raster};

pub(super) fn read_frame(input: &[u8]) -> Result<Frame, ImageError> {
    let mut decompressor = Decompressor::new().map_err(|e| codec_error(&e))?;
    let header = decompressor.read_header(input).map_err(|e| malformed(&e))?;
    let samples = match header.colorspace {
        Colorspace::Gray => Samples::Grey,
        Colorspace::CMYK => Samples::Cmyk,
        Colorspace::YCCK => Samples::Ycck,
        Colorspace::RGB | Colorspace::YCbCr => Samples::Colour,
    };
    Ok(Frame { width: header.width, height: header.height, samples })
}

pub(super) fn decode(input: &[u8], header: &JpegHeader, shrink: u32) -> Result<Raster, ImageError> {
    let width = header.width.div_ceil(shrink) as usize;
    let height = header.height.div_ceil(shrink) as usize;
    let (format, layout) = match header.samples {
        Samples::Grey => (PixelFormat::GRAY, Layout::Gray),
        // libjpeg-turbo turns YCCK into CMYK itself; CMYK is converted to RGBX below.
        Samples::Cmyk | Samples::Ycck => (PixelFormat::CMYK, Layout::Rgbx),
        Samples::Colour => (PixelFormat::RGBX, Layout::Rgbx),
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

fn malformed(error: &turbojpeg::Error) -> ImageError {
    ImageError::Malformed(error.to_string())
}

fn codec_error(error: &turbojpeg::Error) -> ImageError {
    ImageError::Codec(error.to_string())
}
