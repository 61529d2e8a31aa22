//! What may be decoded at all, and why an image could not be processed.

/// A mebibyte, as the limits and their messages count.
pub(super) const MIB: u64 = 1024 * 1024;

/// The largest image accepted for decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest side, in pixels (default 10 000).
    pub max_side: u32,
    /// Width × height (default 40 000 000, `MAX_IMAGE_PIXELS`).
    pub max_pixels: u64,
    /// Width × height × the bytes of one pixel of the colour type the decoder produces
    /// (default 512 MiB): a 16-bit RGBA pixel costs eight times what an 8-bit grey one does.
    pub max_decoded_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_side: 10_000, max_pixels: 40_000_000, max_decoded_bytes: 512 * MIB }
    }
}

impl Limits {
    /// `Ok` when an image of this size, decoded to pixels of `bytes_per_pixel` bytes, may be
    /// decoded.
    pub fn check(&self, width: u32, height: u32, bytes_per_pixel: u8) -> Result<(), ImageError> {
        if width == 0 || height == 0 {
            return Err(ImageError::Malformed(format!("the image declares a size of {width}×{height}")));
        }
        let pixels = u64::from(width) * u64::from(height);
        if width > self.max_side || height > self.max_side || pixels > self.max_pixels {
            return Err(ImageError::TooLarge { width, height, max_side: self.max_side, max_pixels: self.max_pixels });
        }
        if pixels.saturating_mul(u64::from(bytes_per_pixel)) > self.max_decoded_bytes {
            return Err(ImageError::TooManyBytes {
                width,
                height,
                bytes_per_pixel,
                max_decoded_bytes: self.max_decoded_bytes,
            });
        }
        Ok(())
    }
}

/// Why an image could not be processed.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Larger than the limits allow, judged from the header (a client error: 422).
    #[error(
        "the image is {width}×{height} pixels; at most {max_side} pixels a side and {max_pixels} pixels in all are accepted"
    )]
    TooLarge {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// The limit on a side.
        max_side: u32,
        /// The limit on width × height.
        max_pixels: u64,
    },
    /// More bytes once decoded than the limits allow, judged from the header (a client error: 422).
    #[error(
        "the image is {width}×{height} pixels of {bytes_per_pixel} bytes, {} MiB once decoded; at most {} MiB are accepted",
        (u64::from(*.width) * u64::from(*.height) * u64::from(*.bytes_per_pixel)).div_ceil(MIB),
        .max_decoded_bytes / MIB
    )]
    TooManyBytes {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// The size of one decoded pixel (8 for 16-bit RGBA).
        bytes_per_pixel: u8,
        /// The limit on width × height × bytes per pixel.
        max_decoded_bytes: u64,
    },
    /// Not a JPEG, PNG, GIF or WebP (the sniffer should have said so first: 415).
    #[error("the file is not a JPEG, PNG, GIF or WebP image")]
    NotAnImage,
    /// The bytes do not decode (a client error: 422).
    #[error("the image cannot be decoded: {0}")]
    Malformed(String),
    /// A size or quality of zero in the request (a programming error).
    #[error("invalid image request: {0}")]
    InvalidRequest(&'static str),
    /// The codec library failed for reasons of its own (a server error).
    #[error("the image codec failed: {0}")]
    Codec(String),
    /// Encoding the result failed (a server error).
    #[error("the image cannot be encoded: {0}")]
    Encode(String),
    /// The worker running the job stopped before finishing it (a server error).
    #[error("the image worker stopped: {0}")]
    Worker(String),
}
