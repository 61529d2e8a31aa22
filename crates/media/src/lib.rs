//! Media handling for Workbench's files: what an upload is, and what is stored for it.
//!
//! - [`sniff`]: decides an upload's type from its bytes as they stream in ([`Sniffer`]), against
//!   the allowlist of the contract (JPEG, PNG, WebP, GIF, PDF, UTF-8 text, MP3, Ogg, WAV, FLAC),
//!   and sanitises the client's file name ([`sanitize_filename`](fn@sanitize_filename)).
//! - [`image`]: decodes an image with its size checked before any pixel is allocated, turns it
//!   upright from its EXIF orientation, bounds its dimensions, re-encodes it without metadata and
//!   makes a thumbnail ([`image::process`]); [`image::transform`] is the general operation.
//! - [`audio`]: reads the stream headers of MP3, Ogg, WAV and FLAC files for their duration,
//!   sample rate and channels ([`audio::probe_file`]), without decoding the audio.
//! - [`MediaWorkers`]: runs the CPU-heavy work off the async executor, at most one job per core.
//! - [`FfmpegTranscoder`]: audio renditions made by an `ffmpeg` subprocess, a bounded pool of them.
//! - [`MediaPreparer`]: the files domain's `MediaProcessor` port on top of all this, and
//!   [`AllowlistSniffer`] its `ContentSniffer` port.
//!
//! The core is synchronous and free of I/O except where a path is taken ([`audio::probe_file`]);
//! the files domain's ports are implemented on top of it by the application.
//!
//! JPEG goes through a pure-Rust codec by default, or through the system's libjpeg-turbo with
//! the `turbojpeg` feature (two to three times faster, with shrink-on-load): see README.md.

mod allowlist;
pub mod audio;
mod filename;
pub mod image;
mod mpeg;
mod prepare;
pub mod sniff;
mod transcode;
mod workers;

pub use allowlist::AllowlistSniffer;
pub use filename::{MAX_FILENAME_BYTES, sanitize_filename, with_extension_for};
pub use prepare::{MAX_IMAGE_BYTES, MediaPreparer};
pub use sniff::{MediaClass, MediaType, Refused, Sniffed, Sniffer};
pub use transcode::{FfmpegTranscoder, arguments as ffmpeg_arguments};
pub use workers::MediaWorkers;
