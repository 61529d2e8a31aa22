//! Audio stream headers: the duration, sample rate and channels of an MP3, Ogg, WAV or FLAC
//! file, so that a player can show the length before loading it. Nothing is decoded.
//!
//! Where the duration comes from ([`DurationSource`]):
//! - WAV: the `data` chunk's size; FLAC: `STREAMINFO`'s sample count; Ogg: the granule position
//!   of the last page (symphonia reads the end of the stream for it). These are exact.
//! - MP3 with a Xing, Info or VBRI tag in its first frame (what LAME and most encoders write):
//!   the frame count stated there, less the encoder delay and padding of a LAME tag. Exact.
//! - MP3 without such a tag: symphonia would only *estimate* from the first frames' bitrate,
//!   which is wrong for VBR files; instead every frame header is walked (their payloads are
//!   skipped, not decoded) and the frames counted. Exact, and linear in the file's size — a few
//!   milliseconds for the 10 MiB upload limit.
//! - Any stream whose container states no length is walked the same way.

use std::fs::File;
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::path::Path;

use symphonia::core::codecs::audio::well_known::{
    CODEC_ID_FLAC, CODEC_ID_MP3, CODEC_ID_OPUS, CODEC_ID_PCM_MULAW, CODEC_ID_PCM_S32LE, CODEC_ID_VORBIS,
};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use crate::mpeg;
use crate::sniff::{MediaClass, MediaType};

/// What the stream headers say about an audio file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioInfo {
    /// The codec of the first audio track.
    pub codec: AudioCodec,
    /// The playable length, in milliseconds (rounded to the nearest).
    pub duration_ms: u64,
    /// Samples per second per channel.
    pub sample_rate: u32,
    /// The number of channels.
    pub channels: u16,
    /// How the duration was found.
    pub duration_source: DurationSource,
}

/// The codec of an audio track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioCodec {
    /// MPEG-1/2/2.5 Layer III.
    Mp3,
    /// Vorbis (in Ogg).
    Vorbis,
    /// Opus (in Ogg).
    Opus,
    /// FLAC (native or in Ogg).
    Flac,
    /// Uncompressed PCM, or A-law/µ-law (in WAV).
    Pcm,
    /// Anything else a container may hold (ADPCM in WAV, for instance).
    Other,
}

impl AudioCodec {
    /// A lower-case name for the file's metadata.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Mp3 => "mp3",
            Self::Vorbis => "vorbis",
            Self::Opus => "opus",
            Self::Flac => "flac",
            Self::Pcm => "pcm",
            Self::Other => "other",
        }
    }
}

/// Where a duration was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurationSource {
    /// The container or an encoder tag states the number of samples.
    Header,
    /// The packets (MP3 frames) were walked and counted.
    FrameScan,
}

/// Why an audio file's headers could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The media type given is not an audio type.
    #[error("{0} is not an audio type")]
    NotAudio(MediaType),
    /// The file could not be read.
    #[error("the audio file cannot be read: {0}")]
    Io(#[from] std::io::Error),
    /// The stream headers are missing or inconsistent.
    #[error("the audio stream cannot be read: {0}")]
    Malformed(String),
    /// The worker running the job stopped before finishing it.
    #[error("the audio worker stopped: {0}")]
    Worker(String),
}

/// Reads the stream headers of the audio file at `path`, which was sniffed as `media_type`.
pub fn probe_file(path: &Path, media_type: MediaType) -> Result<AudioInfo, AudioError> {
    if media_type.class() != MediaClass::Audio {
        return Err(AudioError::NotAudio(media_type));
    }
    let mp3_length_tag = media_type == MediaType::Mp3 && mp3_has_length_tag(path)?;

    let source = MediaSourceStream::new(Box::new(File::open(path)?), Default::default());
    let mut hint = Hint::new();
    hint.mime_type(media_type.as_str());
    if let Some(extension) = media_type.extensions().first() {
        hint.with_extension(extension);
    }
    let mut format = symphonia::default::get_probe()
        .probe(&hint, source, FormatOptions::default(), MetadataOptions::default())
        .map_err(|e| malformed(&e))?;

    let track = format.default_track(TrackType::Audio).ok_or_else(|| AudioError::Malformed("no audio track".into()))?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| AudioError::Malformed("the audio track has no codec parameters".into()))?;
    let codec = codec_of(params.codec);
    let sample_rate = params
        .sample_rate
        .filter(|rate| *rate > 0)
        .ok_or_else(|| AudioError::Malformed("the sample rate is not stated".into()))?;
    let channels = params
        .channels
        .as_ref()
        .and_then(|c| u16::try_from(c.count()).ok())
        .filter(|count| *count > 0)
        .ok_or_else(|| AudioError::Malformed("the channel count is not stated".into()))?;

    // An MP3 without a length tag gets an estimate from symphonia: not trusted, see the module doc.
    let stated = track.num_frames.filter(|_| media_type != MediaType::Mp3 || mp3_length_tag);
    let (frames, duration_source) = match stated {
        Some(frames) => (frames, DurationSource::Header),
        None => (count_frames(format.as_mut(), track_id)?, DurationSource::FrameScan),
    };
    let duration_ms =
        u64::try_from((u128::from(frames) * 1000 + u128::from(sample_rate) / 2) / u128::from(sample_rate))
            .unwrap_or(u64::MAX);
    Ok(AudioInfo { codec, duration_ms, sample_rate, channels, duration_source })
}

/// Sums the playable length of every packet of the track (for MP3, one packet is one frame).
fn count_frames(format: &mut dyn FormatReader, track_id: u32) -> Result<u64, AudioError> {
    let mut frames = 0u64;
    loop {
        match format.next_packet() {
            Ok(Some(packet)) if packet.track_id == track_id => {
                let trimmed = packet.trim_start.get().saturating_add(packet.trim_end.get());
                frames = frames.saturating_add(packet.dur.get().saturating_sub(trimmed));
            }
            Ok(Some(_)) => {}
            Ok(None) => return Ok(frames),
            // A stream cut short still plays up to the cut.
            Err(SymphoniaError::IoError(e)) if e.kind() == ErrorKind::UnexpectedEof => return Ok(frames),
            Err(e) => return Err(malformed(&e)),
        }
    }
}

/// Whether the first MPEG frame (after any ID3v2 tag) carries a Xing, Info or VBRI tag.
fn mp3_has_length_tag(path: &Path) -> Result<bool, AudioError> {
    let mut file = File::open(path)?;
    let mut id3_header = [0u8; 10];
    let read = read_up_to(&mut file, &mut id3_header)?;
    let stream_start = mpeg::id3v2_len(&id3_header[..read]).unwrap_or(0);
    file.seek(SeekFrom::Start(stream_start as u64))?;
    let mut window = vec![0u8; mpeg::STREAM_WINDOW];
    let read = read_up_to(&mut file, &mut window)?;
    window.truncate(read);
    let complete = read < mpeg::STREAM_WINDOW;
    Ok(mpeg::find_stream(&window, complete).is_some_and(|first| mpeg::has_length_tag(&window[first..])))
}

/// Reads until `buffer` is full or the file ends; returns how much was read.
fn read_up_to(file: &mut File, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn codec_of(id: symphonia::core::codecs::audio::AudioCodecId) -> AudioCodec {
    match id {
        CODEC_ID_MP3 => AudioCodec::Mp3,
        CODEC_ID_VORBIS => AudioCodec::Vorbis,
        CODEC_ID_OPUS => AudioCodec::Opus,
        CODEC_ID_FLAC => AudioCodec::Flac,
        // The well-known PCM ids are one contiguous block, from S32LE to µ-law.
        pcm if (CODEC_ID_PCM_S32LE..=CODEC_ID_PCM_MULAW).contains(&pcm) => AudioCodec::Pcm,
        _ => AudioCodec::Other,
    }
}

fn malformed(error: &SymphoniaError) -> AudioError {
    AudioError::Malformed(error.to_string())
}
