//! The sniffer names every allowed type from realistic bytes, whatever the chunking, and refuses
//! the rest.

use std::io::Cursor;

use image::{ImageEncoder, RgbImage, RgbaImage};
use workbench_media::{MediaClass, MediaType, Refused, Sniffer};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}")).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// Feeds `bytes` in chunks of `size` bytes (0 = all at once).
fn sniff_chunked(bytes: &[u8], size: usize) -> Result<MediaType, Refused> {
    let mut sniffer = Sniffer::new();
    if size == 0 {
        sniffer.feed(bytes);
    } else {
        for chunk in bytes.chunks(size) {
            sniffer.feed(chunk);
        }
    }
    let sniffed = sniffer.finish()?;
    assert_eq!(sniffed.size, bytes.len() as u64);
    Ok(sniffed.media_type)
}

/// The same verdict for one-byte chunks, seven-byte chunks (which split every multi-byte
/// sequence and header somewhere), and the whole body.
fn sniff(bytes: &[u8]) -> Result<MediaType, Refused> {
    let whole = sniff_chunked(bytes, 0);
    assert_eq!(sniff_chunked(bytes, 1), whole, "one-byte chunks");
    assert_eq!(sniff_chunked(bytes, 7), whole, "seven-byte chunks");
    assert_eq!(sniff_chunked(bytes, 4096), whole, "4 KiB chunks");
    whole
}

fn photo(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| image::Rgb([(x * 7) as u8, (y * 5) as u8, ((x + y) * 3) as u8]))
}

fn encoded(write: impl FnOnce(&mut Cursor<Vec<u8>>)) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    write(&mut out);
    out.into_inner()
}

fn jpeg() -> Vec<u8> {
    let img = photo(64, 48);
    encoded(|out| {
        image::codecs::jpeg::JpegEncoder::new_with_quality(out, 85)
            .write_image(img.as_raw(), 64, 48, image::ExtendedColorType::Rgb8)
            .expect("encode JPEG")
    })
}

fn png() -> Vec<u8> {
    let img = RgbaImage::from_pixel(40, 30, image::Rgba([10, 200, 30, 128]));
    encoded(|out| {
        image::codecs::png::PngEncoder::new(out)
            .write_image(img.as_raw(), 40, 30, image::ExtendedColorType::Rgba8)
            .expect("encode PNG")
    })
}

fn gif() -> Vec<u8> {
    let img = RgbaImage::from_pixel(20, 20, image::Rgba([255, 0, 0, 255]));
    encoded(|out| {
        image::codecs::gif::GifEncoder::new(out)
            .encode(img.as_raw(), 20, 20, image::ExtendedColorType::Rgba8)
            .expect("encode GIF")
    })
}

fn webp_lossless() -> Vec<u8> {
    let img = photo(32, 32);
    encoded(|out| {
        image::codecs::webp::WebPEncoder::new_lossless(out)
            .write_image(img.as_raw(), 32, 32, image::ExtendedColorType::Rgb8)
            .expect("encode WebP")
    })
}

/// A small but complete PDF, with the binary comment line real writers put on line two.
fn pdf() -> Vec<u8> {
    let mut pdf = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec();
    pdf.extend_from_slice(
        b"1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n\
          2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n\
          3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >> endobj\n\
          trailer << /Root 1 0 R /Size 4 >>\n%%EOF\n",
    );
    pdf
}

#[test]
fn every_allowed_image_and_document_type_is_recognised() {
    assert_eq!(sniff(&jpeg()), Ok(MediaType::Jpeg));
    assert_eq!(sniff(&png()), Ok(MediaType::Png));
    assert_eq!(sniff(&gif()), Ok(MediaType::Gif));
    assert_eq!(sniff(&webp_lossless()), Ok(MediaType::Webp));
    assert_eq!(sniff(&fixture("lossy-64x48.webp")), Ok(MediaType::Webp));
    assert_eq!(sniff(&pdf()), Ok(MediaType::Pdf));
}

#[test]
fn every_allowed_audio_type_is_recognised() {
    assert_eq!(sniff(&fixture("tone-8k-mono.wav")), Ok(MediaType::Wav));
    assert_eq!(sniff(&fixture("tone-22k-stereo.flac")), Ok(MediaType::Flac));
    assert_eq!(sniff(&fixture("tone-22k-mono.ogg")), Ok(MediaType::Ogg));
    assert_eq!(sniff(&fixture("cbr-info.mp3")), Ok(MediaType::Mp3));
    assert_eq!(sniff(&fixture("vbr-xing.mp3")), Ok(MediaType::Mp3));
    assert_eq!(sniff(&fixture("cbr-noxing-id3.mp3")), Ok(MediaType::Mp3));
}

#[test]
fn utf8_text_is_recognised_across_chunk_boundaries() {
    let text = "Grüße aus Köln — 東京 and 🎧 ümläuts\n".repeat(400);
    assert!(text.len() > 8 * 1024, "longer than the head, so validation continues past it");
    assert_eq!(sniff(text.as_bytes()), Ok(MediaType::Text));
    let with_bom = [b"\xEF\xBB\xBF".as_slice(), "BOM first".as_bytes()].concat();
    assert_eq!(sniff(&with_bom), Ok(MediaType::Text));
    assert_eq!(sniff(b"x"), Ok(MediaType::Text));
    // Markup is not plain text, whatever the chunking; text that mentions it later is.
    assert_eq!(sniff(b"<!DOCTYPE html><html><body>hi</body></html>"), Err(Refused::Markup { detected: "HTML" }));
    assert_eq!(sniff(b"\n  <svg xmlns=\"http://www.w3.org/2000/svg\"/>"), Err(Refused::Markup { detected: "SVG" }));
    assert_eq!(sniff(b"Bold is written <b>so</b>.\n"), Ok(MediaType::Text));
}

#[test]
fn an_mp3_behind_a_large_id3_tag_is_found() {
    // A 20 KB tag (a cover picture, say) pushes the first frame far past the sniffed head.
    let mp3 = fixture("cbr-info.mp3");
    let tag_body = 20_000usize;
    let mut tagged = b"ID3\x04\x00\x00".to_vec();
    tagged.extend((0..4).rev().map(|i| ((tag_body >> (7 * i)) & 0x7F) as u8));
    tagged.extend(std::iter::repeat_n(0u8, tag_body));
    tagged.extend_from_slice(&mp3);
    assert_eq!(sniff(&tagged), Ok(MediaType::Mp3));
}

#[test]
fn refused_types() {
    let zip = b"PK\x03\x04\x14\x00\x00\x00\x08\x00\x00\x00!\x00hello.txtUT\x09\x00\x03";
    assert_eq!(sniff(zip), Err(Refused::NotAllowed { detected: "application/zip" }));

    let mut elf = b"\x7FELF\x02\x01\x01\x00".to_vec();
    elf.extend([0u8; 56]);
    assert!(matches!(sniff(&elf), Err(Refused::NotAllowed { .. })), "{:?}", sniff(&elf));

    let text_with_nul = b"plain words, then \0 and more";
    assert_eq!(sniff(text_with_nul), Err(Refused::Unrecognised));

    let invalid_utf8 = b"caf\xE9 au lait (latin-1)";
    assert_eq!(sniff(invalid_utf8), Err(Refused::Unrecognised));

    let utf16 = "hello".encode_utf16().flat_map(u16::to_le_bytes).collect::<Vec<_>>();
    assert_eq!(sniff(&[&[0xFF, 0xFE][..], &utf16].concat()), Err(Refused::Unrecognised));

    let avi = b"RIFF\x24\x00\x00\x00AVI LIST\x10\x00\x00\x00hdrlavih";
    assert_eq!(sniff(avi), Err(Refused::NotAllowed { detected: "video/x-msvideo" }));

    let id3_then_garbage =
        [b"ID3\x03\x00\x00\x00\x00\x00\x10".as_slice(), &[0u8; 16], &b"not an mpeg frame ".repeat(300)].concat();
    assert_eq!(sniff(&id3_then_garbage), Err(Refused::Inconsistent { claimed: MediaType::Mp3 }));

    assert_eq!(sniff(b""), Err(Refused::Empty));
}

#[test]
fn impostors_of_allowed_types_are_refused() {
    // WebP's form type without RIFF in front: `infer` alone would call it WebP.
    assert_eq!(
        sniff(b"JUNK\x10\x00\x00\x00WEBPVP8 \x00\x00\x00\x00"),
        Err(Refused::Inconsistent { claimed: MediaType::Webp })
    );
    // RIFF WEBP without a VP8 chunk.
    assert_eq!(
        sniff(b"RIFF\x10\x00\x00\x00WEBPJUNK\x00\x00\x00\x00"),
        Err(Refused::Inconsistent { claimed: MediaType::Webp })
    );
    // A lone frame-sync pair followed by text.
    let stray_sync = [b"\xFF\xFB\x90\x64".as_slice(), &b"definitely not audio ".repeat(200)].concat();
    assert_eq!(sniff(&stray_sync), Err(Refused::Inconsistent { claimed: MediaType::Mp3 }));
    // Ogg carrying Theora video.
    let mut theora = b"OggS\x00\x02".to_vec();
    theora.extend([0u8; 20]);
    theora.push(1);
    theora.push(42);
    theora.extend_from_slice(b"\x80theora");
    theora.extend([0u8; 34]);
    assert_eq!(sniff(&theora), Err(Refused::NotAllowed { detected: "video/ogg" }));
    // FLAC magic without STREAMINFO.
    assert_eq!(sniff(b"fLaC\x04\x00\x00\x10comments"), Err(Refused::Inconsistent { claimed: MediaType::Flac }));
}

#[test]
fn a_binary_file_is_refused_as_soon_as_its_head_is_in() {
    let mut sniffer = Sniffer::new();
    let mut zip = b"PK\x03\x04".to_vec();
    zip.resize(8 * 1024, 0x41);
    sniffer.feed(&zip[..100]);
    assert_eq!(sniffer.early_refusal(), None, "nothing is decided before the head is in");
    sniffer.feed(&zip[100..]);
    assert_eq!(sniffer.early_refusal(), Some(Refused::NotAllowed { detected: "application/zip" }));

    let mut binary = Sniffer::new();
    binary.feed(&[b'a'; 8 * 1024]);
    assert_eq!(binary.early_refusal(), None, "text so far");
    binary.feed(b"\0");
    assert_eq!(binary.early_refusal(), Some(Refused::Unrecognised));
}

#[test]
fn classes_give_the_default_kind() {
    assert_eq!(MediaType::Webp.class().as_str(), "image");
    assert_eq!(MediaType::Flac.class(), MediaClass::Audio);
    assert_eq!(MediaType::Text.class().as_str(), "document");
    assert_eq!(MediaType::Pdf.class().as_str(), "document");
    assert_eq!(MediaType::Text.as_str(), "text/plain; charset=utf-8");
    assert_eq!(MediaType::Wav.as_str(), "audio/wav");
}
