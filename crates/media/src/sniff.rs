//! Content sniffing: what an upload is, decided by its bytes as they stream in.
//!
//! The client's `Content-Type` and file name are never believed. A [`Sniffer`] is fed the
//! upload's chunks in order and keeps only what it needs: the first [`HEAD_LEN`] bytes, a few
//! bytes of an unfinished UTF-8 sequence, and — for MP3 — a small window after the ID3v2 tag.
//! [`Sniffer::finish`] then names one of the allowlisted [`MediaType`]s or refuses the upload.
//!
//! What it adds to `infer`, which it consults for everything else:
//! - WebP and WAV need `RIFF` at offset 0 *and* the form type (`WEBP`, `WAVE`) at offset 8
//!   (`infer` looks at bytes 8–11 only for WebP); WebP must also start with a `VP8 `, `VP8L` or
//!   `VP8X` chunk.
//! - Plain text is UTF-8 over the whole stream, validated across chunk boundaries, with no NUL
//!   byte; a UTF-8 byte order mark is fine. UTF-16 text (full of NULs) is refused. So is text
//!   that opens as markup — what WHATWG MIME sniffing calls HTML or XML, and SVG — however
//!   much whitespace comes first: a browser, a proxy or a viewer that ever sees it without our
//!   `text/plain` and `nosniff` would render it and run its scripts.
//! - MP3 needs a Layer III frame header followed by a second one (or an ID3v1 tag, or the end of
//!   the stream) — after the ID3v2 tag when there is one, whatever its size: an ID3 tag alone, or
//!   a stray `FF FB`, does not make a file MP3.
//! - Ogg must start with the beginning-of-stream page of an audio codec (Vorbis, Opus, FLAC or
//!   Speex): Ogg Theora is video and refused. FLAC must open with its `STREAMINFO` block.
//! - PDF must start with `%PDF-` at offset 0.

use std::fmt;

use crate::mpeg;

/// How many bytes from the start of an upload decide its type (everything but UTF-8 validity,
/// which needs the whole stream, and MP3 frames, which may sit after a large ID3 tag).
pub const HEAD_LEN: usize = 8 * 1024;

/// A type that an upload may be stored as: the allowlist of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaType {
    /// `image/jpeg`
    Jpeg,
    /// `image/png`
    Png,
    /// `image/webp`
    Webp,
    /// `image/gif`
    Gif,
    /// `application/pdf`
    Pdf,
    /// `text/plain; charset=utf-8`: the charset is part of the stored type because the bytes were
    /// checked to be UTF-8, and a browser told only `text/plain` (with `nosniff`) may guess another.
    Text,
    /// `audio/mpeg` (MPEG-1/2/2.5 Layer III)
    Mp3,
    /// `audio/ogg`
    Ogg,
    /// `audio/wav`
    Wav,
    /// `audio/flac`
    Flac,
}

/// The coarse class of a [`MediaType`]; it gives a file's default `kind` (`image`, `audio`,
/// `document`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaClass {
    /// JPEG, PNG, WebP, GIF.
    Image,
    /// MP3, Ogg, WAV, FLAC.
    Audio,
    /// PDF and plain text.
    Document,
}

impl MediaClass {
    /// The class as the contract's default `kind` spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Audio => "audio",
            Self::Document => "document",
        }
    }
}

impl MediaType {
    /// Every allowed type.
    pub const ALL: [Self; 10] = [
        Self::Jpeg,
        Self::Png,
        Self::Webp,
        Self::Gif,
        Self::Pdf,
        Self::Text,
        Self::Mp3,
        Self::Ogg,
        Self::Wav,
        Self::Flac,
    ];

    /// The media type as stored in `content_type` and sent in `Content-Type`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
            Self::Gif => "image/gif",
            Self::Pdf => "application/pdf",
            Self::Text => "text/plain; charset=utf-8",
            Self::Mp3 => "audio/mpeg",
            Self::Ogg => "audio/ogg",
            Self::Wav => "audio/wav",
            Self::Flac => "audio/flac",
        }
    }

    /// Image, audio or document.
    pub const fn class(self) -> MediaClass {
        match self {
            Self::Jpeg | Self::Png | Self::Webp | Self::Gif => MediaClass::Image,
            Self::Mp3 | Self::Ogg | Self::Wav | Self::Flac => MediaClass::Audio,
            Self::Pdf | Self::Text => MediaClass::Document,
        }
    }

    /// The file-name extensions that belong to this type, the usual one first. Text has a few:
    /// a text file is never stored under a name that would make a browser or a desktop open it
    /// as something else (`.html`, `.svg`).
    pub const fn extensions(self) -> &'static [&'static str] {
        match self {
            Self::Jpeg => &["jpg", "jpeg", "jpe", "jfif"],
            Self::Png => &["png"],
            Self::Webp => &["webp"],
            Self::Gif => &["gif"],
            Self::Pdf => &["pdf"],
            Self::Text => &["txt", "md", "csv", "log"],
            Self::Mp3 => &["mp3"],
            Self::Ogg => &["ogg", "oga", "opus"],
            Self::Wav => &["wav"],
            Self::Flac => &["flac"],
        }
    }

    /// Reads a stored media type back. Case-insensitive; parameters are ignored except that
    /// `text/plain` names [`MediaType::Text`] with or without its charset.
    pub fn parse(value: &str) -> Option<Self> {
        let essence = value.split(';').next().unwrap_or_default().trim();
        Self::ALL.into_iter().find(|t| {
            let stored = t.as_str();
            let stored_essence = stored.split(';').next().unwrap_or(stored);
            stored_essence.eq_ignore_ascii_case(essence)
        })
    }

    /// The image type that `bytes` start with, if any (the same checks as the [`Sniffer`]).
    pub fn of_image(bytes: &[u8]) -> Option<Self> {
        match magic(bytes) {
            Some(HeadVerdict::Known(t)) if t.class() == MediaClass::Image => Some(t),
            _ => None,
        }
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of a successful sniff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sniffed {
    /// The type the upload is stored as (before any image re-encoding).
    pub media_type: MediaType,
    /// How many bytes were fed.
    pub size: u64,
}

/// Why an upload is not accepted (every variant is a 415 for the client).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// No bytes at all.
    #[error("the file is empty")]
    Empty,
    /// A recognised format that is not on the allowlist (`detected` is its media type).
    #[error("files of type {detected} are not accepted")]
    NotAllowed {
        /// The media type the bytes were recognised as.
        detected: &'static str,
    },
    /// The file starts like an allowed type but its structure does not hold (an ID3 tag with no
    /// MPEG frames after it, a `RIFF` WebP without a VP8 chunk, an Ogg stream of no audio codec).
    #[error("the file starts like {claimed} but is not one")]
    Inconsistent {
        /// The type its first bytes pretend to be.
        claimed: MediaType,
    },
    /// Neither a known format nor UTF-8 text without NUL bytes.
    #[error("the file is neither an accepted format nor UTF-8 text")]
    Unrecognised,
    /// Text that opens as markup a browser would render (`detected` is `HTML`, `XML` or `SVG`).
    #[error("the file is {detected} markup, which is not accepted, not even as plain text")]
    Markup {
        /// Which markup its first bytes are.
        detected: &'static str,
    },
}

/// What the head of a stream says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HeadVerdict {
    Known(MediaType),
    /// MPEG frames must be found from this offset on (the end of the ID3v2 tag, or 0).
    Mp3From(u64),
    NotAllowed(&'static str),
    Inconsistent(MediaType),
    /// No magic number: text if the whole stream is UTF-8 without NUL.
    MaybeText,
}

/// Incremental type detection over an upload's chunks; see the module documentation.
///
/// ```
/// use workbench_media::{MediaType, Sniffer};
/// let mut sniffer = Sniffer::new();
/// sniffer.feed("héllo, ".as_bytes());
/// sniffer.feed("wörld\n".as_bytes());
/// assert_eq!(sniffer.finish().map(|s| s.media_type), Ok(MediaType::Text));
/// ```
#[derive(Debug, Default)]
pub struct Sniffer {
    head: Vec<u8>,
    size: u64,
    verdict: Option<HeadVerdict>,
    utf8: Utf8Validator,
    markup: MarkupProbe,
    mp3: Option<Mp3Window>,
}

impl Sniffer {
    /// A sniffer that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next chunk of the upload, in order. Chunks may be of any size, down to one byte.
    pub fn feed(&mut self, chunk: &[u8]) {
        if chunk.is_empty() {
            return;
        }
        let offset = self.size;
        self.size += chunk.len() as u64;

        let mut rest = chunk;
        let mut rest_offset = offset;
        if self.head.len() < HEAD_LEN {
            let take = (HEAD_LEN - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
            rest = &chunk[take..];
            rest_offset += take as u64;
            if self.head.len() == HEAD_LEN {
                // The window sees the head when it is opened, and the rest of this chunk below.
                self.decide();
            }
        }
        if let Some(window) = &mut self.mp3 {
            window.capture(rest_offset, rest);
        }
        if matches!(self.verdict, None | Some(HeadVerdict::MaybeText)) {
            self.utf8.feed(chunk);
            self.markup.feed(chunk);
        }
    }

    /// How many bytes have been fed so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// A refusal that the bytes seen so far already make certain, so that the caller can stop
    /// storing the upload early. `None` means "not decided yet" as well as "looks acceptable".
    pub fn early_refusal(&self) -> Option<Refused> {
        match self.verdict? {
            HeadVerdict::NotAllowed(detected) => Some(Refused::NotAllowed { detected }),
            HeadVerdict::Inconsistent(claimed) => Some(Refused::Inconsistent { claimed }),
            HeadVerdict::MaybeText => match self.markup.verdict(false) {
                Some(detected) => Some(Refused::Markup { detected }),
                None if !self.utf8.is_plausible_text() => Some(Refused::Unrecognised),
                None => None,
            },
            _ => None,
        }
    }

    /// The verdict on the whole upload, once every chunk has been fed.
    pub fn finish(mut self) -> Result<Sniffed, Refused> {
        if self.size == 0 {
            return Err(Refused::Empty);
        }
        let verdict = match self.verdict {
            Some(verdict) => verdict,
            None => self.decide(),
        };
        let media_type = match verdict {
            HeadVerdict::Known(media_type) => media_type,
            HeadVerdict::Mp3From(_) => match &self.mp3 {
                Some(window) if window.has_stream(self.size) => MediaType::Mp3,
                _ => return Err(Refused::Inconsistent { claimed: MediaType::Mp3 }),
            },
            HeadVerdict::NotAllowed(detected) => return Err(Refused::NotAllowed { detected }),
            HeadVerdict::Inconsistent(claimed) => return Err(Refused::Inconsistent { claimed }),
            HeadVerdict::MaybeText => match self.markup.verdict(true) {
                Some(detected) => return Err(Refused::Markup { detected }),
                None if self.utf8.is_complete_text() => MediaType::Text,
                None => return Err(Refused::Unrecognised),
            },
        };
        Ok(Sniffed { media_type, size: self.size })
    }

    /// Classifies the head (full, or the whole stream when it is shorter) and opens the MP3
    /// window over the bytes already seen.
    fn decide(&mut self) -> HeadVerdict {
        let verdict = classify(&self.head);
        if let HeadVerdict::Mp3From(start) = verdict {
            let mut window = Mp3Window { start, bytes: Vec::new() };
            window.capture(0, &self.head);
            self.mp3 = Some(window);
        }
        self.verdict = Some(verdict);
        verdict
    }
}

/// The allowlist's own checks first, then `infer` to name (and refuse) anything else it knows.
fn classify(head: &[u8]) -> HeadVerdict {
    if let Some(verdict) = magic(head) {
        return verdict;
    }
    match infer::get(head) {
        // HTML, XML and shell scripts are text to `infer`. Whether text is markup is decided by
        // the `MarkupProbe` (WHATWG's patterns, past any amount of leading whitespace, which
        // `infer`'s matchers are not), so they go through the text checks like any other text.
        Some(kind) if kind.matcher_type() == infer::MatcherType::Text => HeadVerdict::MaybeText,
        // `infer` is laxer than the checks above (WebP from bytes 8-11 alone, ...): what it takes
        // for an allowed type failed them, so it is an impostor, not a type we refuse.
        Some(kind) => match claimed_type(kind.mime_type()) {
            Some(claimed) => HeadVerdict::Inconsistent(claimed),
            None => HeadVerdict::NotAllowed(kind.mime_type()),
        },
        None => HeadVerdict::MaybeText,
    }
}

/// The allowed type that one of `infer`'s media type names stands for.
fn claimed_type(infer_mime: &str) -> Option<MediaType> {
    Some(match infer_mime {
        "image/jpeg" => MediaType::Jpeg,
        "image/png" => MediaType::Png,
        "image/gif" => MediaType::Gif,
        "image/webp" => MediaType::Webp,
        "application/pdf" => MediaType::Pdf,
        "audio/mpeg" => MediaType::Mp3,
        "audio/ogg" | "audio/opus" => MediaType::Ogg,
        "audio/x-wav" => MediaType::Wav,
        "audio/x-flac" => MediaType::Flac,
        _ => return None,
    })
}

/// The magic numbers of the allowlisted types, checked strictly.
fn magic(head: &[u8]) -> Option<HeadVerdict> {
    use HeadVerdict::{Inconsistent, Known};
    let starts = |prefix: &[u8]| head.starts_with(prefix);
    let at = |offset: usize, bytes: &[u8]| head.get(offset..offset + bytes.len()) == Some(bytes);

    if starts(&[0xFF, 0xD8, 0xFF]) {
        return Some(Known(MediaType::Jpeg));
    }
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Some(Known(MediaType::Png));
    }
    if starts(b"GIF87a") || starts(b"GIF89a") {
        return Some(Known(MediaType::Gif));
    }
    if starts(b"%PDF-") {
        return Some(Known(MediaType::Pdf));
    }
    if starts(b"RIFF") {
        if at(8, b"WEBP") {
            let first_chunk_is_vp8 = at(12, b"VP8 ") || at(12, b"VP8L") || at(12, b"VP8X");
            return Some(if first_chunk_is_vp8 { Known(MediaType::Webp) } else { Inconsistent(MediaType::Webp) });
        }
        if at(8, b"WAVE") {
            return Some(Known(MediaType::Wav));
        }
        // Another RIFF form (AVI, ANI, ...): `infer` names it.
        return None;
    }
    if starts(b"OggS") {
        return Some(ogg(head));
    }
    if starts(b"fLaC") {
        // The first metadata block must be STREAMINFO (type 0), 34 bytes long.
        let streaminfo = head.get(4).is_some_and(|b| b & 0x7F == 0) && at(5, &[0, 0, 34]);
        return Some(if streaminfo { Known(MediaType::Flac) } else { Inconsistent(MediaType::Flac) });
    }
    if let Some(tag_len) = mpeg::id3v2_len(head) {
        return Some(HeadVerdict::Mp3From(tag_len as u64));
    }
    if mpeg::FrameHeader::parse(head).is_some() {
        return Some(HeadVerdict::Mp3From(0));
    }
    None
}

/// The first page of an Ogg stream must open an audio codec's logical stream.
fn ogg(head: &[u8]) -> HeadVerdict {
    // Page header: "OggS", version 0, header type (0x02 = beginning of stream), ..., the number
    // of segments at byte 26, the segment table, then the first packet.
    let first_packet = head
        .get(26)
        .map(|segments| 27 + usize::from(*segments))
        .filter(|_| head[4] == 0 && head.get(5).is_some_and(|t| t & 0x02 != 0))
        .and_then(|start| head.get(start..));
    let Some(packet) = first_packet else {
        return HeadVerdict::Inconsistent(MediaType::Ogg);
    };
    const AUDIO: [&[u8]; 4] = [b"\x01vorbis", b"OpusHead", b"\x7fFLAC", b"Speex   "];
    if AUDIO.iter().any(|magic| packet.starts_with(magic)) {
        HeadVerdict::Known(MediaType::Ogg)
    } else if packet.starts_with(b"\x80theora") {
        HeadVerdict::NotAllowed("video/ogg")
    } else {
        HeadVerdict::Inconsistent(MediaType::Ogg)
    }
}

/// The bytes from the end of an ID3v2 tag (or the start of the stream) on, where MPEG frames
/// must be; the tag itself is skipped without being kept, however large its pictures.
#[derive(Debug)]
struct Mp3Window {
    start: u64,
    bytes: Vec<u8>,
}

impl Mp3Window {
    /// Keeps the part of `chunk` (which starts at stream offset `offset`) that falls in the window.
    fn capture(&mut self, offset: u64, chunk: &[u8]) {
        let room = mpeg::STREAM_WINDOW - self.bytes.len();
        let wanted_from = self.start + self.bytes.len() as u64;
        let chunk_end = offset + chunk.len() as u64;
        if room == 0 || chunk_end <= wanted_from || offset > wanted_from {
            return;
        }
        // `wanted_from - offset` is below `chunk.len()`, so it fits in usize.
        let from = usize::try_from(wanted_from - offset).unwrap_or(chunk.len());
        let take = room.min(chunk.len() - from);
        self.bytes.extend_from_slice(&chunk[from..from + take]);
    }

    fn has_stream(&self, size: u64) -> bool {
        let complete = self.start + self.bytes.len() as u64 >= size;
        mpeg::find_stream(&self.bytes, complete).is_some()
    }
}

/// The UTF-8 byte order mark, which may precede the markup as it may precede text.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// What the markup patterns need to see: a BOM, the longest pattern (`<!DOCTYPE HTML`) and the
/// byte that must follow it.
const MARKUP_PREFIX: usize = UTF8_BOM.len() + 16;

/// WHATWG MIME sniffing's HTML patterns ("rules for identifying an unknown MIME type"): each
/// must be followed by a tag-terminating byte (a space or `>`), compared case-insensitively.
const HTML_PATTERNS: [&[u8]; 17] = [
    b"<!DOCTYPE HTML",
    b"<HTML",
    b"<HEAD",
    b"<SCRIPT",
    b"<IFRAME",
    b"<H1",
    b"<DIV",
    b"<FONT",
    b"<TABLE",
    b"<A",
    b"<STYLE",
    b"<TITLE",
    b"<B",
    b"<BODY",
    b"<BR",
    b"<P",
    b"<!--",
];

/// The first bytes of a text upload after its leading whitespace (and a byte order mark), kept
/// until they are enough to tell whether the text opens as markup. Leading whitespace is
/// skipped however long it is: the verdict cannot be dodged by padding past the sniffed head.
#[derive(Debug, Default)]
struct MarkupProbe {
    prefix: Vec<u8>,
}

impl MarkupProbe {
    fn feed(&mut self, chunk: &[u8]) {
        for &byte in chunk {
            if self.prefix.len() >= MARKUP_PREFIX {
                return;
            }
            let at_start = self.prefix.is_empty() || self.prefix == UTF8_BOM;
            if at_start && is_sniffing_whitespace(byte) {
                continue;
            }
            self.prefix.push(byte);
        }
    }

    /// The markup the text opens with, once that is certain: when enough bytes were seen, or
    /// when the stream is `complete`.
    fn verdict(&self, complete: bool) -> Option<&'static str> {
        if !complete && self.prefix.len() < MARKUP_PREFIX {
            return None;
        }
        let text = self.prefix.strip_prefix(UTF8_BOM).unwrap_or(&self.prefix);
        let starts = |pattern: &[u8]| text.get(..pattern.len()).is_some_and(|head| head.eq_ignore_ascii_case(pattern));
        let followed_by =
            |pattern: &[u8], ends: fn(u8) -> bool| starts(pattern) && text.get(pattern.len()).is_some_and(|b| ends(*b));
        if HTML_PATTERNS.iter().any(|pattern| followed_by(pattern, is_tag_terminating)) {
            Some("HTML")
        // WHATWG compares `<?xml` exactly; any case here, since no plain text opens so by chance.
        } else if starts(b"<?xml") {
            Some("XML")
        } else if followed_by(b"<svg", ends_svg_name) || followed_by(b"<!DOCTYPE svg", ends_svg_name) {
            Some("SVG")
        } else {
            None
        }
    }
}

/// WHATWG's whitespace bytes for sniffing: tab, line feed, form feed, carriage return, space.
fn is_sniffing_whitespace(byte: u8) -> bool {
    matches!(byte, b'\t' | b'\n' | b'\x0C' | b'\r' | b' ')
}

/// WHATWG's tag-terminating bytes: a space or `>`.
fn is_tag_terminating(byte: u8) -> bool {
    matches!(byte, b' ' | b'>')
}

/// SVG is not in WHATWG's table (browsers render it only when told it is SVG); its files are
/// usually written `<svg` and a line break, or `/>`, so any whitespace ends the name too.
fn ends_svg_name(byte: u8) -> bool {
    is_sniffing_whitespace(byte) || matches!(byte, b'>' | b'/')
}

/// UTF-8 validation across chunk boundaries: at most three bytes of an unfinished sequence are
/// carried from one chunk to the next.
#[derive(Debug, Default)]
struct Utf8Validator {
    invalid: bool,
    nul: bool,
    pending: [u8; 4],
    pending_len: usize,
}

impl Utf8Validator {
    fn feed(&mut self, mut chunk: &[u8]) {
        if self.invalid {
            return;
        }
        if chunk.contains(&0) {
            self.nul = true;
        }
        if self.pending_len > 0 {
            // Complete the sequence left over from the previous chunk, byte by byte.
            let needed = utf8_sequence_len(self.pending[0]);
            while self.pending_len < needed && !chunk.is_empty() {
                self.pending[self.pending_len] = chunk[0];
                self.pending_len += 1;
                chunk = &chunk[1..];
            }
            if self.pending_len < needed {
                // Either still incomplete, or `needed` is 0 (impossible: only a valid prefix is kept).
                return;
            }
            if std::str::from_utf8(&self.pending[..needed]).is_err() {
                self.invalid = true;
                return;
            }
            self.pending_len = 0;
        }
        // `compat` reports where a cut sequence starts, as `std` does, at SIMD speed.
        match simdutf8::compat::from_utf8(chunk) {
            Ok(_) => {}
            // A sequence cut by the end of the chunk: keep its (at most three) bytes.
            Err(error) if error.error_len().is_none() => {
                let tail = &chunk[error.valid_up_to()..];
                self.pending[..tail.len()].copy_from_slice(tail);
                self.pending_len = tail.len();
            }
            Err(_) => self.invalid = true,
        }
    }

    /// Nothing seen so far rules text out.
    fn is_plausible_text(&self) -> bool {
        !self.invalid && !self.nul
    }

    /// The whole stream was UTF-8, with no NUL and no unfinished sequence at the end.
    fn is_complete_text(&self) -> bool {
        self.is_plausible_text() && self.pending_len == 0
    }
}

/// The length of the UTF-8 sequence that `lead` starts (0 for a byte that cannot start one).
fn utf8_sequence_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7F => 1,
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_type_reads_back_with_or_without_parameters() {
        for media_type in MediaType::ALL {
            assert_eq!(MediaType::parse(media_type.as_str()), Some(media_type));
        }
        assert_eq!(MediaType::parse("Text/Plain"), Some(MediaType::Text));
        assert_eq!(MediaType::parse("application/zip"), None);
    }

    fn sniffed(text: &[u8]) -> Result<MediaType, Refused> {
        let mut sniffer = Sniffer::new();
        sniffer.feed(text);
        sniffer.finish().map(|s| s.media_type)
    }

    #[test]
    fn every_whatwg_html_pattern_is_markup_after_any_leading_whitespace() {
        for pattern in HTML_PATTERNS {
            let pattern = std::str::from_utf8(pattern).unwrap_or_default();
            for (lead, end) in [("", ">"), (" \t\r\n\x0C", " "), ("\n\n", ">")] {
                for spelt in [pattern.to_owned(), pattern.to_ascii_lowercase()] {
                    let text = format!("{lead}{spelt}{end}hello</x>\n");
                    assert_eq!(sniffed(text.as_bytes()), Err(Refused::Markup { detected: "HTML" }), "{text:?}");
                }
            }
        }
    }

    #[test]
    fn xml_and_svg_are_markup() {
        let cases: [(&[u8], &str); 7] = [
            (b"<?xml version=\"1.0\"?><note/>", "XML"),
            (b"  <?XML version=\"1.0\"?>", "XML"),
            (b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>", "XML"),
            (b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>", "SVG"),
            (b"\n<SVG\n  viewBox=\"0 0 1 1\">", "SVG"),
            (b"<svg/>", "SVG"),
            (b"<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\">", "SVG"),
        ];
        for (text, detected) in cases {
            assert_eq!(sniffed(text), Err(Refused::Markup { detected }), "{:?}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn markup_behind_a_byte_order_mark_or_a_long_run_of_whitespace_is_found() {
        assert_eq!(sniffed(b"\xEF\xBB\xBF\n<html>"), Err(Refused::Markup { detected: "HTML" }));
        let padded = [" \n".repeat(HEAD_LEN).as_bytes(), b"<script>alert(1)</script>"].concat();
        let mut sniffer = Sniffer::new();
        for chunk in padded.chunks(1000) {
            sniffer.feed(chunk);
        }
        assert_eq!(sniffer.early_refusal(), Some(Refused::Markup { detected: "HTML" }));
        assert_eq!(sniffer.finish(), Err(Refused::Markup { detected: "HTML" }));
    }

    #[test]
    fn text_that_only_mentions_markup_is_plain_text() {
        let cases: [&[u8]; 8] = [
            b"Use <b> for bold and <p> for paragraphs.\n",
            b"notes\n<html>\n",
            b"<abbr>is not in the table</abbr>",
            b"<html",
            b"<p\tclass=x>: WHATWG ends a tag name with a space or > only",
            b"<-- an arrow, not a comment",
            b"<svgs are fun",
            b"< html>",
        ];
        for text in cases {
            assert_eq!(sniffed(text), Ok(MediaType::Text), "{:?}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn a_sequence_split_over_three_chunks_is_valid() {
        let mut validator = Utf8Validator::default();
        let euro = "€".as_bytes();
        for byte in euro {
            validator.feed(std::slice::from_ref(byte));
        }
        assert!(validator.is_complete_text());
    }

    #[test]
    fn an_unfinished_sequence_at_the_end_is_not_text() {
        let mut validator = Utf8Validator::default();
        validator.feed(&"€".as_bytes()[..2]);
        assert!(validator.is_plausible_text());
        assert!(!validator.is_complete_text());
    }
}
