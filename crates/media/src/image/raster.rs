//! Decoded pixels in one shape for every format: 8 bits per sample, interleaved, rows packed —
//! and the EXIF orientation applied to them.

use image::metadata::Orientation;

/// How a pixel's bytes are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    Gray,
    GrayAlpha,
    Rgb,
    /// RGB padded to four bytes: what JPEGs decode to, because four-byte pixels resize about a
    /// third faster than three-byte ones (`fast_image_resize`'s AVX2 kernels) and move as one word.
    Rgbx,
    Rgba,
}

impl Layout {
    pub(crate) fn bytes_per_pixel(self) -> usize {
        match self {
            Self::Gray => 1,
            Self::GrayAlpha => 2,
            Self::Rgb => 3,
            Self::Rgbx | Self::Rgba => 4,
        }
    }

    pub(crate) fn has_alpha(self) -> bool {
        matches!(self, Self::GrayAlpha | Self::Rgba)
    }
}

/// An 8-bit image in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Raster {
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) layout: Layout,
    pub(crate) pixels: Vec<u8>,
}

impl Raster {
    pub(crate) fn has_alpha(&self) -> bool {
        self.layout.has_alpha()
    }

    /// Drops an alpha channel in which every pixel is opaque: such a PNG is stored as RGB, and
    /// its thumbnail can be a JPEG. RGBA becomes RGBX without copying.
    pub(crate) fn without_opaque_alpha(self) -> Self {
        let size = self.layout.bytes_per_pixel();
        if !self.has_alpha() || !self.pixels.chunks_exact(size).all(|px| px[size - 1] == u8::MAX) {
            return self;
        }
        match self.layout {
            Layout::Rgba => Self { layout: Layout::Rgbx, ..self },
            _ => {
                let pixels = self.pixels.chunks_exact(2).map(|px| px[0]).collect();
                Self { layout: Layout::Gray, pixels, ..self }
            }
        }
    }

    /// The raster turned upright: `orientation` is the EXIF value the pixels were stored with.
    /// `spare` is a buffer no longer needed (the decoded image, once resized): written over
    /// instead of allocating and zeroing a new one.
    pub(crate) fn oriented(self, orientation: Orientation, spare: Option<Vec<u8>>) -> Self {
        if orientation == Orientation::NoTransforms {
            return self;
        }
        let mut out = spare.unwrap_or_default();
        // Shortening keeps the old bytes (all overwritten below); only growth writes zeros.
        out.resize(self.pixels.len(), 0);
        let (width, height) = (self.width as usize, self.height as usize);
        match self.layout.bytes_per_pixel() {
            1 => remap::<1>(&self.pixels, width, height, orientation, &mut out),
            2 => remap::<2>(&self.pixels, width, height, orientation, &mut out),
            3 => remap::<3>(&self.pixels, width, height, orientation, &mut out),
            _ => remap::<4>(&self.pixels, width, height, orientation, &mut out),
        }
        let (width, height) =
            if swaps_axes(orientation) { (self.height, self.width) } else { (self.width, self.height) };
        Self { width, height, layout: self.layout, pixels: out }
    }
}

/// Whether an orientation turns the image by a quarter, exchanging width and height.
pub(crate) fn swaps_axes(orientation: Orientation) -> bool {
    matches!(
        orientation,
        Orientation::Rotate90 | Orientation::Rotate270 | Orientation::Rotate90FlipH | Orientation::Rotate270FlipH
    )
}

/// The copy walks the output in blocks of 8×8 pixels, and the blocks in tiles of 256×256. In a
/// quarter turn one side is read or written a column at a time: 8 rows keep those accesses within
/// the ways of one L1 cache set even when the row stride is a power of two, and the tiles keep the
/// pages touched together few enough for the TLB.
const BLOCK: usize = 8;
const TILE: usize = 256;

/// Copies `src` (`width`×`height`, `N` bytes a pixel) into `out` in the upright layout. Each
/// orientation is an affine map from destination to source coordinates: the source pixel of
/// destination (0, 0), and the source steps for one destination pixel right and one down.
fn remap<const N: usize>(src: &[u8], width: usize, height: usize, orientation: Orientation, out: &mut [u8]) {
    let (w, h) = (width as isize, height as isize);
    // (origin x, origin y), (right: step x, step y), (down: step x, step y), in source pixels.
    let ((ox, oy), (rx, ry), (dx, dy)) = match orientation {
        Orientation::NoTransforms => ((0, 0), (1, 0), (0, 1)),
        // EXIF 2: mirrored left to right.
        Orientation::FlipHorizontal => ((w - 1, 0), (-1, 0), (0, 1)),
        // EXIF 3: upside down.
        Orientation::Rotate180 => ((w - 1, h - 1), (-1, 0), (0, -1)),
        // EXIF 4: mirrored top to bottom.
        Orientation::FlipVertical => ((0, h - 1), (1, 0), (0, -1)),
        // EXIF 5: transposed.
        Orientation::Rotate90FlipH => ((0, 0), (0, 1), (1, 0)),
        // EXIF 6: needs a quarter turn clockwise.
        Orientation::Rotate90 => ((0, h - 1), (0, -1), (1, 0)),
        // EXIF 7: transversed.
        Orientation::Rotate270FlipH => ((w - 1, h - 1), (0, -1), (-1, 0)),
        // EXIF 8: needs a quarter turn counter-clockwise.
        Orientation::Rotate270 => ((w - 1, 0), (0, 1), (-1, 0)),
    };
    let (out_w, out_h) = if swaps_axes(orientation) { (height, width) } else { (width, height) };
    let n = N as isize;
    let origin = (oy * w + ox) * n;
    let step_right = (ry * w + rx) * n;
    let step_down = (dy * w + dx) * n;

    for tile_y in (0..out_h).step_by(TILE) {
        let tile_y_end = (tile_y + TILE).min(out_h);
        for tile_x in (0..out_w).step_by(TILE) {
            let tile_x_end = (tile_x + TILE).min(out_w);
            for block_y in (tile_y..tile_y_end).step_by(BLOCK) {
                for block_x in (tile_x..tile_x_end).step_by(BLOCK) {
                    let x_end = (block_x + BLOCK).min(tile_x_end);
                    for y in block_y..(block_y + BLOCK).min(tile_y_end) {
                        let row = &mut out[(y * out_w + block_x) * N..(y * out_w + x_end) * N];
                        // Every source offset lies in 0..src.len(): the map is a bijection of the grid.
                        let mut at = origin + y as isize * step_down + block_x as isize * step_right;
                        for px in row.chunks_exact_mut(N) {
                            let from = at as usize;
                            px.copy_from_slice(&src[from..from + N]);
                            at += step_right;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3×2 grey image whose pixels are their own labels:
    /// ```text
    /// 1 2 3
    /// 4 5 6
    /// ```
    fn labelled() -> Raster {
        Raster { width: 3, height: 2, layout: Layout::Gray, pixels: vec![1, 2, 3, 4, 5, 6] }
    }

    fn upright(exif: u8) -> (u32, u32, Vec<u8>) {
        let orientation = Orientation::from_exif(exif).unwrap_or(Orientation::NoTransforms);
        let r = labelled().oriented(orientation, None);
        (r.width, r.height, r.pixels)
    }

    #[test]
    fn every_exif_orientation_is_undone() {
        // What a camera stores for each orientation of the upright image "1 2 3 / 4 5 6" is the
        // inverse transform; here the stored image is fixed and the expected upright results
        // follow the EXIF definitions (the row/column the 0th row/column shows).
        assert_eq!(upright(1), (3, 2, vec![1, 2, 3, 4, 5, 6]));
        assert_eq!(upright(2), (3, 2, vec![3, 2, 1, 6, 5, 4]));
        assert_eq!(upright(3), (3, 2, vec![6, 5, 4, 3, 2, 1]));
        assert_eq!(upright(4), (3, 2, vec![4, 5, 6, 1, 2, 3]));
        assert_eq!(upright(5), (2, 3, vec![1, 4, 2, 5, 3, 6]));
        assert_eq!(upright(6), (2, 3, vec![4, 1, 5, 2, 6, 3]));
        assert_eq!(upright(7), (2, 3, vec![6, 3, 5, 2, 4, 1]));
        assert_eq!(upright(8), (2, 3, vec![3, 6, 2, 5, 1, 4]));
    }

    #[test]
    fn a_quarter_turn_of_a_large_image_crosses_tiles_correctly() {
        let (w, h) = (531usize, 270usize);
        let pixels: Vec<u8> = (0..w * h * 3).map(|i| (i % 251) as u8).collect();
        let raster = Raster { width: w as u32, height: h as u32, layout: Layout::Rgb, pixels: pixels.clone() };
        let turned = raster.oriented(Orientation::Rotate90, Some(vec![9; 5]));
        assert_eq!((turned.width, turned.height), (h as u32, w as u32));
        // Stored (x, y) lands at upright (h - 1 - y, x).
        for (x, y) in [(0, 0), (530, 0), (0, 269), (530, 269), (265, 133), (257, 7)] {
            let from = (y * w + x) * 3;
            let to = (x * h + (h - 1 - y)) * 3;
            assert_eq!(&turned.pixels[to..to + 3], &pixels[from..from + 3], "pixel ({x}, {y})");
        }
        let back = turned.oriented(Orientation::Rotate270, Some(vec![9; 200_000]));
        assert_eq!(back.pixels, pixels);
    }

    #[test]
    fn an_opaque_alpha_channel_is_dropped_and_a_real_one_kept() {
        let opaque = Raster { width: 2, height: 1, layout: Layout::Rgba, pixels: vec![1, 2, 3, 255, 4, 5, 6, 255] };
        let dropped = opaque.clone().without_opaque_alpha();
        assert_eq!(dropped.layout, Layout::Rgbx);
        assert_eq!(dropped.pixels, opaque.pixels);
        let grey = Raster { width: 2, height: 1, layout: Layout::GrayAlpha, pixels: vec![7, 255, 9, 255] };
        let grey = grey.without_opaque_alpha();
        assert_eq!((grey.layout, grey.pixels), (Layout::Gray, vec![7, 9]));
        let translucent = Raster { width: 2, height: 1, layout: Layout::GrayAlpha, pixels: vec![9, 255, 9, 128] };
        assert_eq!(translucent.clone().without_opaque_alpha(), translucent);
    }
}
