//! MPEG audio (Layer III) frame headers: enough to tell a real MP3 stream from bytes that only
//! start like one, and to find the Xing/Info/VBRI tag that states an MP3's length.

/// The MPEG version of a frame, which selects the bitrate and sample-rate tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    Mpeg1,
    Mpeg2,
    Mpeg25,
}

/// A parsed Layer III frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameHeader {
    version: Version,
    bitrate_kbps: u32,
    sample_rate: u32,
    padding: bool,
    mono: bool,
}

const BITRATES_V1_L3: [u32; 15] = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
const BITRATES_V2_L3: [u32; 15] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];

impl FrameHeader {
    /// The header at the start of `bytes`, when those four bytes are a valid Layer III frame
    /// header with a known bitrate (free-format streams are not accepted: their frame length
    /// cannot be told from the header, and no encoder in common use writes them).
    pub(crate) fn parse(bytes: &[u8]) -> Option<Self> {
        let [b0, b1, b2, b3] = *bytes.first_chunk::<4>()?;
        if b0 != 0xFF || b1 & 0xE0 != 0xE0 {
            return None;
        }
        let version = match (b1 >> 3) & 0b11 {
            0b00 => Version::Mpeg25,
            0b10 => Version::Mpeg2,
            0b11 => Version::Mpeg1,
            _ => return None,
        };
        // Layer III only: the allowlist says MP3, and that is the one layer the audio probe reads.
        if (b1 >> 1) & 0b11 != 0b01 {
            return None;
        }
        let bitrate_index = usize::from(b2 >> 4);
        let rate_index = (b2 >> 2) & 0b11;
        if bitrate_index == 0 || bitrate_index == 15 || rate_index == 0b11 || b3 & 0b11 == 0b10 {
            return None;
        }
        let (bitrates, rates) = match version {
            Version::Mpeg1 => (&BITRATES_V1_L3, [44_100, 48_000, 32_000]),
            Version::Mpeg2 => (&BITRATES_V2_L3, [22_050, 24_000, 16_000]),
            Version::Mpeg25 => (&BITRATES_V2_L3, [11_025, 12_000, 8_000]),
        };
        Some(Self {
            version,
            bitrate_kbps: bitrates[bitrate_index],
            sample_rate: rates[usize::from(rate_index)],
            padding: b2 & 0b10 != 0,
            mono: b3 >> 6 == 0b11,
        })
    }

    /// The length of the whole frame in bytes, header included.
    pub(crate) fn frame_len(&self) -> usize {
        let per_frame = if self.version == Version::Mpeg1 { 144 } else { 72 };
        (per_frame * self.bitrate_kbps as usize * 1000) / self.sample_rate as usize + usize::from(self.padding)
    }

    /// Where a Xing/Info tag starts inside the frame: after the header and the side information.
    fn xing_offset(&self) -> usize {
        let side_info = match (self.version, self.mono) {
            (Version::Mpeg1, true) => 17,
            (Version::Mpeg1, false) => 32,
            (_, true) => 9,
            (_, false) => 17,
        };
        4 + side_info
    }
}

/// The length of an ID3v2 tag at the start of `bytes` (header, body and footer), or `None` when
/// there is no complete ID3v2 header there.
pub(crate) fn id3v2_len(bytes: &[u8]) -> Option<usize> {
    let header = bytes.first_chunk::<10>()?;
    if &header[..3] != b"ID3" || header[3] == 0xFF || header[4] == 0xFF {
        return None;
    }
    // The size is "synchsafe": four 7-bit groups, the top bit of each byte always clear.
    let size_bytes = &header[6..10];
    if size_bytes.iter().any(|b| b & 0x80 != 0) {
        return None;
    }
    let size = size_bytes.iter().fold(0usize, |acc, b| (acc << 7) | usize::from(*b));
    let footer = if header[5] & 0x10 != 0 { 10 } else { 0 };
    Some(10 + size + footer)
}

/// How far past the end of the ID3v2 tag the first frame may start: some taggers leave padding
/// or a few stray bytes there, and players resynchronise over them.
pub(crate) const MAX_SYNC_SEARCH: usize = 4096;

/// The longest Layer III frame (MPEG-1, 320 kbit/s, 32 kHz, padded) is 1441 bytes.
const MAX_FRAME_LEN: usize = 1441;

/// How many bytes from the end of the ID3v2 tag [`find_stream`] needs to see.
pub(crate) const STREAM_WINDOW: usize = MAX_SYNC_SEARCH + 2 * MAX_FRAME_LEN + 8;

/// Looks for the first Layer III frame in `window` (bytes that follow any ID3v2 tag) and checks
/// that it is followed by a second frame, an ID3v1 tag, or the end of the stream. `complete`
/// says whether `window` runs to the end of the stream. Returns the offset of the first frame.
///
/// Two headers in a row make a chance match in arbitrary bytes vanishingly unlikely, which a lone
/// `FF Fx` pair (what `infer` looks for) is not.
pub(crate) fn find_stream(window: &[u8], complete: bool) -> Option<usize> {
    let search_end = window.len().min(MAX_SYNC_SEARCH);
    (0..search_end).find(|&at| {
        let Some(first) = FrameHeader::parse(&window[at..]) else {
            return false;
        };
        let next = at + first.frame_len();
        match window.get(next..) {
            Some(rest) if rest.len() >= 4 => FrameHeader::parse(rest).is_some() || rest.starts_with(b"TAG"),
            // The stream ends inside or right after the first frame: a one-frame file.
            _ => complete,
        }
    })
}

/// Whether the first frame of `stream` (bytes from the first frame header on) carries a
/// Xing, Info or VBRI tag, the headers in which an encoder states the number of frames.
pub(crate) fn has_length_tag(stream: &[u8]) -> bool {
    let Some(header) = FrameHeader::parse(stream) else {
        return false;
    };
    let xing = header.xing_offset();
    let tag_at = |offset: usize, tag: &[u8]| stream.get(offset..offset + tag.len()) == Some(tag);
    tag_at(xing, b"Xing") || tag_at(xing, b"Info") || tag_at(4 + 32, b"VBRI")
}
