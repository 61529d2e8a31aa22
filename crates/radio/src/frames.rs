//! Cutting a byte stream into whole MP3 frames or Ogg pages, each with how long it plays.
//!
//! A listener must start on a boundary (a decoder fed half a frame skips ahead, or clicks), and
//! the auto-DJ paces a track by the time its frames play. Both need only the headers: the 4-byte
//! MPEG audio header (sync, version, layer, bitrate, sample rate, padding) and the 27-byte `OggS`
//! page header (its segment table gives the page's length, its granule position the time).
//! Bytes that are neither (an ID3 tag, garbage between frames) are skipped until the next sync.

use bytes::{Bytes, BytesMut};
use std::time::Duration;

/// What the stream is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// MPEG audio frames (MP3).
    Mpeg,
    /// Ogg pages (Vorbis or Opus).
    Ogg,
}

/// One whole frame or page and how long it plays (zero for Ogg header pages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The frame's or page's bytes, whole.
    pub bytes: Bytes,
    /// How long it plays.
    pub duration: Duration,
}

/// Cuts bytes, fed in any chunks, into whole frames.
#[derive(Debug)]
pub struct Framer {
    framing: Framing,
    pending: BytesMut,
    /// Ogg: the last granule position of each logical stream seen and its sample rate, to turn the
    /// next page's position into a duration.
    ogg: OggClock,
}

/// The most bytes held while looking for a boundary; past it, what is held is dropped.
const MAX_PENDING: usize = 256 * 1024;

impl Framer {
    /// A framer for `framing`, holding nothing yet.
    pub fn new(framing: Framing) -> Self {
        Self { framing, pending: BytesMut::new(), ogg: OggClock::default() }
    }

    /// Feeds the next bytes; answers the frames they complete.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<Frame> {
        self.pending.extend_from_slice(chunk);
        let mut frames = Vec::new();
        loop {
            let found = match self.framing {
                Framing::Mpeg => next_mpeg(&self.pending),
                Framing::Ogg => next_ogg(&self.pending),
            };
            match found {
                Found::Frame { skip, len, duration } => {
                    let _ = self.pending.split_to(skip);
                    let bytes = self.pending.split_to(len).freeze();
                    let duration = match self.framing {
                        Framing::Mpeg => duration,
                        Framing::Ogg => self.ogg.duration_of(&bytes),
                    };
                    frames.push(Frame { bytes, duration });
                }
                Found::NeedMore { skip } => {
                    let _ = self.pending.split_to(skip);
                    if self.pending.len() > MAX_PENDING {
                        self.pending.clear();
                    }
                    return frames;
                }
            }
        }
    }
}

enum Found {
    /// A whole frame of `len` bytes after `skip` bytes that are not one.
    Frame { skip: usize, len: usize, duration: Duration },
    /// No whole frame yet; the first `skip` bytes can never start one.
    NeedMore { skip: usize },
}

/// An MPEG audio frame header's facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MpegHeader {
    /// The frame's length in bytes, header included.
    pub len: usize,
    /// Samples per channel it holds.
    pub samples: u32,
    /// Samples per second.
    pub sample_rate: u32,
    /// The bitrate, in kilobits per second.
    pub kbps: u32,
}

/// Reads the 4-byte header at the start of `b`, when it is one (Layer III of MPEG-1, 2 or 2.5).
pub fn mpeg_header(b: &[u8]) -> Option<MpegHeader> {
    if b.len() < 4 || b[0] != 0xFF || b[1] & 0xE0 != 0xE0 {
        return None;
    }
    let version = (b[1] >> 3) & 0b11; // 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
    let layer = (b[1] >> 1) & 0b11; // 1: Layer III
    if version == 1 || layer != 1 {
        return None;
    }
    let bitrate_index = usize::from(b[2] >> 4);
    let rate_index = usize::from((b[2] >> 2) & 0b11);
    if bitrate_index == 0 || bitrate_index == 15 || rate_index == 3 {
        return None;
    }
    const MPEG1_KBPS: [u32; 15] = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
    const MPEG2_KBPS: [u32; 15] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
    const RATES: [u32; 3] = [44_100, 48_000, 32_000];
    let (kbps, sample_rate, samples) = match version {
        3 => (MPEG1_KBPS[bitrate_index], RATES[rate_index], 1152),
        2 => (MPEG2_KBPS[bitrate_index], RATES[rate_index] / 2, 576),
        _ => (MPEG2_KBPS[bitrate_index], RATES[rate_index] / 4, 576),
    };
    let padding = u32::from((b[2] >> 1) & 1);
    let len = (samples / 8 * kbps * 1000 / sample_rate + padding) as usize;
    Some(MpegHeader { len, samples, sample_rate, kbps })
}

fn next_mpeg(b: &[u8]) -> Found {
    let mut at = 0;
    while at + 4 <= b.len() {
        if let Some(header) = mpeg_header(&b[at..]) {
            let end = at + header.len;
            // A header is trusted when the next frame starts where it says (or the data ends).
            if end + 4 <= b.len() && mpeg_header(&b[end..]).is_none() {
                at += 1;
                continue;
            }
            if end > b.len() {
                return Found::NeedMore { skip: at };
            }
            let duration = Duration::from_secs_f64(f64::from(header.samples) / f64::from(header.sample_rate));
            return Found::Frame { skip: at, len: header.len, duration };
        }
        at += 1;
    }
    Found::NeedMore { skip: at }
}

fn next_ogg(b: &[u8]) -> Found {
    let Some(at) = b.windows(4).position(|w| w == b"OggS") else {
        return Found::NeedMore { skip: b.len().saturating_sub(3) };
    };
    let page = &b[at..];
    if page.len() < 27 {
        return Found::NeedMore { skip: at };
    }
    let segments = usize::from(page[26]);
    if page.len() < 27 + segments {
        return Found::NeedMore { skip: at };
    }
    let body: usize = page[27..27 + segments].iter().map(|&s| usize::from(s)).sum();
    let len = 27 + segments + body;
    if page.len() < len {
        return Found::NeedMore { skip: at };
    }
    Found::Frame { skip: at, len, duration: Duration::ZERO }
}

/// Turns Ogg granule positions into durations, per logical stream.
#[derive(Debug, Default)]
struct OggClock {
    /// (serial, sample rate, last granule position).
    streams: Vec<(u32, u32, u64)>,
}

impl OggClock {
    fn duration_of(&mut self, page: &[u8]) -> Duration {
        let granule = u64::from_le_bytes(page[6..14].try_into().unwrap_or_default());
        let serial = u32::from_le_bytes(page[14..18].try_into().unwrap_or_default());
        let body = &page[27 + usize::from(page[26])..];
        // A stream's first page names its codec, and with it the clock its positions count.
        if body.starts_with(b"OpusHead") {
            self.streams.retain(|s| s.0 != serial);
            self.streams.push((serial, 48_000, 0));
            return Duration::ZERO;
        }
        if body.len() >= 16 && body.starts_with(b"\x01vorbis") {
            let rate = u32::from_le_bytes(body[12..16].try_into().unwrap_or_default()).max(1);
            self.streams.retain(|s| s.0 != serial);
            self.streams.push((serial, rate, 0));
            return Duration::ZERO;
        }
        let Some(stream) = self.streams.iter_mut().find(|s| s.0 == serial) else { return Duration::ZERO };
        // -1: no packet ends on this page.
        if granule == u64::MAX || granule <= stream.2 {
            return Duration::ZERO;
        }
        let samples = granule - stream.2;
        stream.2 = granule;
        // The first audio page's position counts from zero, including the codec's pre-skip.
        Duration::from_secs_f64(samples as f64 / f64::from(stream.1))
    }
}

/// Whether `page` starts a logical Ogg stream (its beginning-of-stream flag).
pub fn ogg_starts_stream(page: &[u8]) -> bool {
    page.len() > 5 && page.starts_with(b"OggS") && page[5] & 0x02 != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A silent MPEG-1 Layer III frame at 128 kbit/s, 44.1 kHz: 417 bytes (418 when padded).
    fn mp3_frame(padded: bool) -> Vec<u8> {
        let mut frame = vec![0xFF, 0xFB, 0x90 | if padded { 0x02 } else { 0 }, 0x64];
        frame.resize(if padded { 418 } else { 417 }, 0);
        frame
    }

    #[test]
    fn mpeg_frames_are_cut_whole_whatever_the_chunks() {
        let mut stream = b"ID3 garbage".to_vec();
        for i in 0..10 {
            stream.extend(mp3_frame(i % 3 == 0));
        }
        let mut framer = Framer::new(Framing::Mpeg);
        let mut frames = Vec::new();
        for chunk in stream.chunks(100) {
            frames.extend(framer.feed(chunk));
        }
        // The last frame waits for the next header (or more bytes) to be trusted.
        assert!(frames.len() >= 9, "{}", frames.len());
        for frame in &frames {
            assert!(mpeg_header(&frame.bytes).is_some());
            assert_eq!(frame.bytes.len(), mpeg_header(&frame.bytes).unwrap().len);
            assert_eq!(frame.duration.as_micros(), 26_122);
        }
    }

    #[test]
    fn ogg_pages_are_cut_whole_and_timed_by_their_granules() {
        fn page(serial: u32, granule: u64, body: &[u8], first: bool) -> Vec<u8> {
            let mut p = b"OggS\0".to_vec();
            p.push(if first { 2 } else { 0 });
            p.extend(granule.to_le_bytes());
            p.extend(serial.to_le_bytes());
            p.extend([0; 8]);
            p.push(1);
            p.push(body.len() as u8);
            p.extend(body);
            p
        }
        let mut stream = page(7, 0, b"OpusHead-and-more", true);
        stream.extend(page(7, 0, b"OpusTags", false));
        stream.extend(page(7, 48_000, &[1; 100], false));
        stream.extend(page(7, 72_000, &[2; 100], false));
        let mut framer = Framer::new(Framing::Ogg);
        let mut frames = Vec::new();
        for chunk in stream.chunks(7) {
            frames.extend(framer.feed(chunk));
        }
        let durations: Vec<_> = frames.iter().map(|f| f.duration.as_millis()).collect();
        assert_eq!(durations, [0, 0, 1000, 500]);
        assert!(ogg_starts_stream(&frames[0].bytes) && !ogg_starts_stream(&frames[1].bytes));
    }
}
