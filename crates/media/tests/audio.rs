//! Audio headers give the length a player would show, for every allowed container. The fixtures
//! were made with sox, flac, oggenc and lame (see tests/fixtures/README.md); their true lengths
//! are what sox synthesised.

use std::path::PathBuf;

use workbench_media::MediaType;
use workbench_media::MediaWorkers;
use workbench_media::audio::{AudioCodec, AudioError, AudioInfo, DurationSource, probe_file};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn probe(name: &str, media_type: MediaType) -> AudioInfo {
    probe_file(&fixture(name), media_type).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn assert_duration(info: &AudioInfo, expected_ms: u64, tolerance_ms: u64, what: &str) {
    assert!(
        info.duration_ms.abs_diff(expected_ms) <= tolerance_ms,
        "{what}: {} ms, expected {expected_ms} ± {tolerance_ms} ms",
        info.duration_ms
    );
}

#[test]
fn wav_length_comes_from_the_data_chunk() {
    let info = probe("tone-8k-mono.wav", MediaType::Wav);
    assert_eq!((info.codec, info.sample_rate, info.channels), (AudioCodec::Pcm, 8000, 1));
    assert_eq!(info.duration_source, DurationSource::Header);
    assert_duration(&info, 500, 1, "WAV");
}

#[test]
fn flac_length_comes_from_streaminfo() {
    let info = probe("tone-22k-stereo.flac", MediaType::Flac);
    assert_eq!((info.codec, info.sample_rate, info.channels), (AudioCodec::Flac, 22_050, 2));
    assert_eq!(info.duration_source, DurationSource::Header);
    assert_duration(&info, 750, 1, "FLAC");
}

#[test]
fn ogg_vorbis_length_comes_from_the_last_granule_position() {
    let info = probe("tone-22k-mono.ogg", MediaType::Ogg);
    assert_eq!((info.codec, info.sample_rate, info.channels), (AudioCodec::Vorbis, 22_050, 1));
    assert_duration(&info, 1200, 5, "Ogg Vorbis");
}

#[test]
fn mp3_with_an_info_or_xing_tag_uses_it() {
    // LAME's CBR "Info" tag, and its VBR "Xing" tag with the encoder delay and padding.
    for (name, sample_rate) in [("cbr-info.mp3", 24_000), ("vbr-xing.mp3", 22_050)] {
        let info = probe(name, MediaType::Mp3);
        assert_eq!((info.codec, info.sample_rate, info.channels), (AudioCodec::Mp3, sample_rate, 1), "{name}");
        assert_eq!(info.duration_source, DurationSource::Header, "{name}");
        // Whole frames of 576 samples: within one frame (26 ms) of the second, plus LAME's padding.
        assert_duration(&info, 1000, 80, name);
    }
}

#[test]
fn mp3_without_a_length_tag_has_its_frames_counted() {
    // Written with `lame -t` (no Xing/Info tag) and an ID3v2 tag in front.
    let info = probe("cbr-noxing-id3.mp3", MediaType::Mp3);
    assert_eq!((info.codec, info.sample_rate, info.channels), (AudioCodec::Mp3, 22_050, 1));
    assert_eq!(info.duration_source, DurationSource::FrameScan);
    assert_duration(&info, 1000, 80, "MP3 without a length tag");
}

#[test]
fn a_non_audio_type_or_broken_file_is_a_typed_error() {
    assert!(matches!(probe_file(&fixture("tone-8k-mono.wav"), MediaType::Pdf), Err(AudioError::NotAudio(_))));
    assert!(matches!(probe_file(&fixture("missing.mp3"), MediaType::Mp3), Err(AudioError::Io(_))));
    let dir = std::env::temp_dir().join(format!("workbench-media-audio-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let garbage = dir.join("garbage.flac");
    std::fs::write(&garbage, b"fLaC\0\0\0\x22 and then nothing that parses").expect("write");
    assert!(matches!(probe_file(&garbage, MediaType::Flac), Err(AudioError::Malformed(_))));
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn the_workers_probe_audio_off_the_executor() {
    let info = MediaWorkers::new().probe_audio(fixture("tone-8k-mono.wav"), MediaType::Wav).await.expect("probe");
    assert_eq!(info.duration_ms, 500);
}
