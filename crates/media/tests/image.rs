//! Uploaded images come out upright, bounded, stripped of metadata, with an exact thumbnail; a
//! decompression bomb is refused from its header.

use std::io::Cursor;
use std::num::NonZeroUsize;

use image::{DynamicImage, GenericImageView, ImageEncoder, Rgb, RgbImage, Rgba, RgbaImage};
use workbench_media::MediaType;
use workbench_media::MediaWorkers;
use workbench_media::image::{EncodedImage, ImageError, ImagePolicy, Limits, Resize, Transform, process, transform};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

const RED: [u8; 3] = [220, 20, 20];
const GREEN: [u8; 3] = [20, 200, 20];
const BLUE: [u8; 3] = [20, 20, 220];
const WHITE: [u8; 3] = [250, 250, 250];

/// A `width`×`height` picture in four solid quadrants — red top-left, green top-right, blue
/// bottom-left, white bottom-right — so that where each corner lands is easy to check.
fn quadrants(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        Rgb(match (x < width / 2, y < height / 2) {
            (true, true) => RED,
            (false, true) => GREEN,
            (true, false) => BLUE,
            (false, false) => WHITE,
        })
    })
}

fn jpeg_of(img: &RgbImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92)
        .write_image(img.as_raw(), img.width(), img.height(), image::ExtendedColorType::Rgb8)
        .expect("encode JPEG");
    out.into_inner()
}

fn png_of(img: &DynamicImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).expect("encode PNG");
    out.into_inner()
}

/// A JPEG segment: marker, big-endian length (which counts itself), body.
fn segment(marker: u8, body: &[u8]) -> Vec<u8> {
    let length = u16::try_from(body.len() + 2).expect("segment fits");
    [&[0xFF, marker][..], &length.to_be_bytes(), body].concat()
}

/// A minimal APP1 Exif body: a big-endian TIFF header and one IFD holding only Orientation
/// (tag 0x0112, type SHORT, count 1).
fn exif_orientation(orientation: u16) -> Vec<u8> {
    let mut body = b"Exif\0\0MM\0\x2A\0\0\0\x08".to_vec();
    body.extend_from_slice(&1u16.to_be_bytes());
    body.extend_from_slice(&[0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01]);
    body.extend_from_slice(&orientation.to_be_bytes());
    body.extend_from_slice(&[0, 0]);
    body.extend_from_slice(&[0, 0, 0, 0]);
    body
}

/// `jpeg` with an EXIF orientation, an XMP packet and an ICC profile inserted after SOI: all
/// three must be gone from the output.
fn with_metadata(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let xmp = b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta xmlns:x='adobe:ns:meta/'>secret location</x:xmpmeta>";
    let icc = [b"ICC_PROFILE\0\x01\x01".as_slice(), &[0u8; 128]].concat();
    [&jpeg[..2], &segment(0xE1, &exif_orientation(orientation)), &segment(0xE1, xmp), &segment(0xE2, &icc), &jpeg[2..]]
        .concat()
}

/// The markers of a JPEG's segments up to the start of scan.
fn jpeg_markers(jpeg: &[u8]) -> Vec<u8> {
    let mut markers = Vec::new();
    let mut at = 2;
    while at + 4 <= jpeg.len() && jpeg[at] == 0xFF {
        let marker = jpeg[at + 1];
        markers.push(marker);
        if marker == 0xDA {
            break;
        }
        at += 2 + usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
    }
    markers
}

fn decoded(encoded: &EncodedImage) -> DynamicImage {
    let img = image::load_from_memory(&encoded.bytes).expect("our output decodes");
    assert_eq!((img.width(), img.height()), (encoded.width, encoded.height), "declared size is the real size");
    img
}

/// The colour near a corner (inset by a tenth of each side, away from edges and JPEG ringing).
fn near(img: &DynamicImage, right: bool, bottom: bool) -> [u8; 3] {
    let (w, h) = img.dimensions();
    let x = if right { w - 1 - w / 10 } else { w / 10 };
    let y = if bottom { h - 1 - h / 10 } else { h / 10 };
    let p = img.get_pixel(x, y).0;
    [p[0], p[1], p[2]]
}

fn assert_colour(actual: [u8; 3], expected: [u8; 3], what: &str) {
    let close = actual.iter().zip(expected).all(|(a, e)| a.abs_diff(e) <= 24);
    assert!(close, "{what}: expected about {expected:?}, got {actual:?}");
}

fn policy() -> ImagePolicy {
    ImagePolicy::default()
}

#[test]
fn orientation_6_is_turned_upright_with_width_and_height_swapped() {
    let stored = with_metadata(&jpeg_of(&quadrants(400, 300)), 6);
    let out = process(&stored, &policy()).expect("process");
    assert_eq!(out.image.media_type, MediaType::Jpeg);
    assert_eq!((out.image.width, out.image.height), (300, 400));
    let img = decoded(&out.image);
    // A quarter turn clockwise: stored top-left (red) is now top-right, and so on round.
    assert_colour(near(&img, true, false), RED, "top-right");
    assert_colour(near(&img, true, true), GREEN, "bottom-right");
    assert_colour(near(&img, false, false), BLUE, "top-left");
    assert_colour(near(&img, false, true), WHITE, "bottom-left");
    let thumb = decoded(&out.thumbnail);
    assert_colour(near(&thumb, true, false), RED, "thumbnail top-right");
}

#[test]
fn orientation_3_is_turned_upright() {
    let stored = with_metadata(&jpeg_of(&quadrants(400, 300)), 3);
    let out = process(&stored, &policy()).expect("process");
    assert_eq!((out.image.width, out.image.height), (400, 300));
    let img = decoded(&out.image);
    assert_colour(near(&img, true, true), RED, "bottom-right");
    assert_colour(near(&img, false, false), WHITE, "top-left");
}

#[test]
fn every_orientation_matches_the_image_crates_own() {
    let picture = quadrants(64, 32);
    for orientation in 1..=8u8 {
        let stored = with_metadata(&jpeg_of(&picture), u16::from(orientation));
        let request = Transform { limits: Limits::default(), auto_orient: true, resize: None, jpeg_quality: 95 };
        let ours = decoded(&transform(&stored, &request).expect("transform"));
        let mut theirs = DynamicImage::ImageRgb8(picture.clone());
        theirs.apply_orientation(image::metadata::Orientation::from_exif(orientation).expect("valid"));
        assert_eq!(ours.dimensions(), theirs.dimensions(), "orientation {orientation}");
        for (right, bottom) in [(false, false), (true, false), (false, true), (true, true)] {
            let t = near(&theirs, right, bottom);
            assert_colour(near(&ours, right, bottom), t, &format!("orientation {orientation} corner {right},{bottom}"));
        }
    }
}

#[test]
fn output_jpegs_carry_no_exif_xmp_or_icc() {
    let stored = with_metadata(&jpeg_of(&quadrants(300, 200)), 6);
    assert!(jpeg_markers(&stored).contains(&0xE1), "the input has APP1 (a test that can fail)");
    let out = process(&stored, &policy()).expect("process");
    for (what, jpeg) in [("image", &out.image.bytes), ("thumbnail", &out.thumbnail.bytes)] {
        let markers = jpeg_markers(jpeg);
        assert!(!markers.contains(&0xE1), "{what} has an APP1 (EXIF/XMP) segment: {markers:x?}");
        assert!(!markers.contains(&0xE2), "{what} has an APP2 (ICC) segment: {markers:x?}");
        assert!(!jpeg.windows(6).any(|w| w == b"secret"), "{what} still holds the XMP text");
    }
}

#[test]
fn the_thumbnail_is_exactly_the_policy_size() {
    for (w, h) in [(400, 300), (300, 1200), (100, 60), (256, 256)] {
        let out = process(&jpeg_of(&quadrants(w, h)), &policy()).expect("process");
        assert_eq!((out.thumbnail.width, out.thumbnail.height), (256, 256), "from {w}×{h}");
        assert_eq!(decoded(&out.thumbnail).dimensions(), (256, 256));
    }
    let custom = ImagePolicy { thumbnail_size: 64, ..policy() };
    let out = process(&jpeg_of(&quadrants(400, 300)), &custom).expect("process");
    assert_eq!((out.thumbnail.width, out.thumbnail.height), (64, 64));
}

#[test]
fn dimensions_are_bounded_and_never_enlarged() {
    let out = process(&jpeg_of(&quadrants(3000, 1000)), &policy()).expect("process");
    assert_eq!((out.image.width, out.image.height), (2048, 683));
    let small = process(&jpeg_of(&quadrants(120, 80)), &policy()).expect("process");
    assert_eq!((small.image.width, small.image.height), (120, 80));
    let boxed = ImagePolicy { max_width: 500, max_height: 100, ..policy() };
    let out = process(&jpeg_of(&quadrants(1000, 1000)), &boxed).expect("process");
    assert_eq!((out.image.width, out.image.height), (100, 100));
    // Cut down by more than 2×: decoded with shrink-on-load, and still the right picture.
    let img = decoded(&out.image);
    assert_colour(near(&img, false, false), RED, "top-left after shrink-on-load");
    assert_colour(near(&img, true, true), WHITE, "bottom-right after shrink-on-load");
}

#[test]
fn a_png_with_alpha_stays_a_png_with_its_transparency() {
    // Left half fully transparent (its colour must not bleed), right half opaque red.
    let rgba = RgbaImage::from_fn(600, 200, |x, _| if x < 300 { Rgba([0, 255, 0, 0]) } else { Rgba([200, 0, 0, 255]) });
    let out = process(&png_of(&DynamicImage::ImageRgba8(rgba)), &policy()).expect("process");
    assert_eq!(out.image.media_type, MediaType::Png);
    assert_eq!(out.thumbnail.media_type, MediaType::Png);
    let img = decoded(&out.image);
    assert!(img.color().has_alpha());
    assert_eq!(img.get_pixel(10, 100).0[3], 0, "transparent stays transparent");
    assert_eq!(img.get_pixel(590, 100).0, [200, 0, 0, 255], "opaque stays opaque");
    let thumb = decoded(&out.thumbnail);
    let edge = thumb.get_pixel(130, 128).0;
    assert!(edge[3] == 0 || edge[1] < 40, "no green bleeds from transparent pixels: {edge:?}");
}

#[test]
fn an_opaque_png_is_stored_as_png_with_a_jpeg_thumbnail() {
    let rgba = DynamicImage::ImageRgba8(RgbaImage::from_pixel(300, 200, Rgba([1, 2, 3, 255])));
    let out = process(&png_of(&rgba), &policy()).expect("process");
    assert_eq!(out.image.media_type, MediaType::Png);
    assert!(!decoded(&out.image).color().has_alpha(), "an all-opaque alpha channel is dropped");
    assert_eq!(out.thumbnail.media_type, MediaType::Jpeg);
}

#[test]
fn gif_and_webp_are_stored_by_the_lossy_rule() {
    let mut gif = Cursor::new(Vec::new());
    image::codecs::gif::GifEncoder::new(&mut gif)
        .encode(RgbaImage::from_pixel(50, 40, Rgba([9, 9, 200, 255])).as_raw(), 50, 40, image::ExtendedColorType::Rgba8)
        .expect("encode GIF");
    let out = process(gif.get_ref(), &policy()).expect("GIF");
    assert_eq!((out.image.media_type, out.image.width, out.image.height), (MediaType::Png, 50, 40));

    let lossy = std::fs::read(format!("{FIXTURES}/lossy-64x48.webp")).expect("fixture");
    let out = process(&lossy, &policy()).expect("lossy WebP");
    assert_eq!((out.image.media_type, out.image.width, out.image.height), (MediaType::Jpeg, 64, 48));

    let mut lossless = Cursor::new(Vec::new());
    image::codecs::webp::WebPEncoder::new_lossless(&mut lossless)
        .write_image(quadrants(40, 20).as_raw(), 40, 20, image::ExtendedColorType::Rgb8)
        .expect("encode WebP");
    let out = process(lossless.get_ref(), &policy()).expect("lossless WebP");
    assert_eq!(out.image.media_type, MediaType::Png);
    assert_colour(near(&decoded(&out.image), true, false), GREEN, "lossless WebP pixels");
}

#[test]
fn a_grey_jpeg_stays_grey() {
    let grey = image::GrayImage::from_fn(200, 100, |x, _| image::Luma([(x % 256) as u8]));
    let mut out = Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new(&mut out)
        .write_image(grey.as_raw(), 200, 100, image::ExtendedColorType::L8)
        .expect("encode grey JPEG");
    let processed = process(out.get_ref(), &policy()).expect("process");
    assert_eq!(decoded(&processed.image).color(), image::ColorType::L8);
}

#[test]
fn a_cmyk_jpeg_is_stored_in_its_colours() {
    // Red, green, blue and white quadrants as CMYK, written by an independent encoder (with
    // Adobe's marker, whose convention stores the samples inverted).
    let rgb = quadrants(200, 100);
    let cmyk: Vec<u8> = rgb
        .pixels()
        .flat_map(|p| {
            let [c, m, y] = p.0.map(|v| 255 - v);
            [c, m, y, 0]
        })
        .collect();
    let mut jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpeg, 95)
        .encode(&cmyk, 200, 100, jpeg_encoder::ColorType::Cmyk)
        .expect("encode CMYK");
    let processed = process(&jpeg, &policy()).expect("process");
    assert_eq!(processed.image.media_type, MediaType::Jpeg);
    let img = decoded(&processed.image);
    assert_colour(near(&img, false, false), RED, "top-left");
    assert_colour(near(&img, true, false), GREEN, "top-right");
    assert_colour(near(&img, false, true), BLUE, "bottom-left");
    assert_colour(near(&img, true, true), WHITE, "bottom-right");
}

/// A PNG whose header declares `width`×`height` of 8-bit RGB, followed by a few bytes of
/// (unusable) data.
fn png_declaring(width: u32, height: u32) -> Vec<u8> {
    png_declaring_depth(width, height, 8, 2)
}

/// [`png_declaring`] with the bit depth and colour type (2 RGB, 6 RGBA) given.
fn png_declaring_depth(width: u32, height: u32, depth: u8, colour: u8) -> Vec<u8> {
    fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let crc = crc32(&[kind.as_slice(), data].concat());
        [&(data.len() as u32).to_be_bytes()[..], kind, data, &crc.to_be_bytes()].concat()
    }
    let ihdr = [&width.to_be_bytes()[..], &height.to_be_bytes(), &[depth, colour, 0, 0, 0]].concat();
    [
        &b"\x89PNG\r\n\x1a\n"[..],
        &chunk(b"IHDR", &ihdr),
        &chunk(b"IDAT", &[0x78, 0x9C, 0x03, 0x00]),
        &chunk(b"IEND", &[]),
    ]
    .concat()
}

fn crc32(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |crc, byte| {
        (0..8).fold(crc ^ u32::from(*byte), |c, _| if c & 1 == 1 { (c >> 1) ^ 0xEDB8_8320 } else { c >> 1 })
    })
}

/// `jpeg` with the size in its SOF0 segment replaced.
fn jpeg_declaring(jpeg: &[u8], width: u16, height: u16) -> Vec<u8> {
    let mut patched = jpeg.to_vec();
    let sof = patched.windows(2).position(|w| w == [0xFF, 0xC0]).expect("baseline JPEG has SOF0");
    patched[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    patched[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    patched
}

#[test]
fn a_decompression_bomb_is_refused_from_its_header() {
    let bomb = png_declaring(100_000, 100_000);
    assert!(bomb.len() < 100, "the bomb is tiny");
    assert!(matches!(process(&bomb, &policy()), Err(ImageError::TooLarge { width: 100_000, height: 100_000, .. })));

    let jpeg = jpeg_of(&quadrants(16, 16));
    let too_wide = jpeg_declaring(&jpeg, 12_000, 10);
    assert!(matches!(process(&too_wide, &policy()), Err(ImageError::TooLarge { width: 12_000, .. })));
    // Each side within 10 000, but 48 megapixels.
    let too_many = jpeg_declaring(&jpeg, 8_000, 6_000);
    assert!(matches!(process(&too_many, &policy()), Err(ImageError::TooLarge { height: 6_000, .. })));
    let too_many_png = png_declaring(9_000, 9_000);
    assert!(matches!(process(&too_many_png, &policy()), Err(ImageError::TooLarge { .. })));
}

#[test]
fn deep_samples_count_in_the_decoded_bytes() {
    // 16-bit RGBA is eight bytes a pixel: 9 000 × 9 000 is 81 megapixels, 618 MiB decoded.
    let limits = Limits { max_pixels: 100_000_000, ..Limits::default() };
    let deep = png_declaring_depth(9_000, 9_000, 16, 6);
    let roomy = ImagePolicy { limits, ..policy() };
    let refused = process(&deep, &roomy);
    assert!(matches!(refused, Err(ImageError::TooManyBytes { width: 9_000, bytes_per_pixel: 8, .. })), "{refused:?}");
    let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("618 MiB") && message.contains("512 MiB"), "{message}");

    // The same bound on real pixels: 20×20 of 16-bit RGBA is 3 200 bytes, of 8-bit grey 400.
    let tight = ImagePolicy { limits: Limits { max_decoded_bytes: 1_000, ..Limits::default() }, ..policy() };
    let rgba16 = DynamicImage::ImageRgba16(image::ImageBuffer::from_pixel(20, 20, Rgba([9_000, 0, 0, 65_535])));
    assert!(matches!(process(&png_of(&rgba16), &tight), Err(ImageError::TooManyBytes { bytes_per_pixel: 8, .. })));
    let grey = DynamicImage::ImageLuma8(image::GrayImage::from_pixel(20, 20, image::Luma([7])));
    assert!(process(&png_of(&grey), &tight).is_ok());
}

#[test]
fn sixteen_bit_samples_are_rounded_to_eight() {
    // 0x8101 is 128.5 × 257, rounded up to 129; 0xFFFF is 255; 0x0101 is exactly 1.
    let wide = image::ImageBuffer::from_fn(64, 32, |x, _| {
        if x < 32 { Rgba([0x8101_u16, 0xFFFF, 0x0101, 0x4000]) } else { Rgba([0, 0x00FF, 0xFF00, 0x4000]) }
    });
    let processed = process(&png_of(&DynamicImage::ImageRgba16(wide)), &policy()).expect("process");
    assert_eq!(processed.image.media_type, MediaType::Png);
    let out = decoded(&processed.image).to_rgba8();
    assert_eq!(out.get_pixel(5, 5).0, [129, 255, 1, 64]);
    assert_eq!(out.get_pixel(60, 5).0, [0, 1, 254, 64]);
    let grey = image::ImageBuffer::from_pixel(16, 16, image::Luma([0x7F7F_u16]));
    let processed = process(&png_of(&DynamicImage::ImageLuma16(grey)), &policy()).expect("process grey");
    assert_eq!(decoded(&processed.image).to_luma8().get_pixel(3, 3).0, [127]);
}

#[test]
fn broken_or_foreign_bytes_are_typed_errors() {
    let jpeg = jpeg_of(&quadrants(64, 64));
    let truncated = &jpeg[..jpeg.len() / 2];
    assert!(matches!(process(truncated, &policy()), Err(ImageError::Malformed(_))));
    assert!(matches!(process(b"%PDF-1.7 not an image", &policy()), Err(ImageError::NotAnImage)));
    let zero = ImagePolicy { thumbnail_size: 0, ..policy() };
    assert!(matches!(process(&jpeg, &zero), Err(ImageError::InvalidRequest(_))));
}

#[test]
fn transform_covers_and_crops_the_centre() {
    // 400×100, cover 100×100: only the middle quarter survives, half green-left... i.e. the
    // centre straddles the red/green boundary at the top and blue/white at the bottom.
    let request = Transform {
        limits: Limits::default(),
        auto_orient: false,
        resize: Some(Resize::Cover { width: 100, height: 100 }),
        jpeg_quality: 90,
    };
    let out = transform(&jpeg_of(&quadrants(400, 100)), &request).expect("transform");
    assert_eq!((out.width, out.height), (100, 100));
    let img = decoded(&out);
    assert_colour(near(&img, false, false), RED, "centre crop, top-left");
    assert_colour(near(&img, true, false), GREEN, "centre crop, top-right");
}

#[tokio::test]
async fn the_workers_run_jobs_off_the_executor() {
    let workers = MediaWorkers::with_concurrency(NonZeroUsize::MIN);
    assert_eq!(workers.concurrency(), 1);
    let inputs: Vec<Vec<u8>> = (0..4).map(|i| jpeg_of(&quadrants(300 + i * 10, 200))).collect();
    let jobs = inputs.into_iter().map(|input| {
        let workers = workers.clone();
        tokio::spawn(async move { workers.process_image(input, ImagePolicy::default()).await })
    });
    for (i, job) in jobs.enumerate() {
        let out = job.await.expect("task").expect("process");
        assert_eq!(out.image.width, 300 + i as u32 * 10);
    }
    assert!(MediaWorkers::new().concurrency() >= 1);
}
