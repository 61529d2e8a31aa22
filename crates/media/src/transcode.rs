//! The files domain's `Transcoder` port on FFmpeg, run as a subprocess.
//!
//! The input is handed to `ffmpeg` on its standard input and the rendition read from its standard
//! output (`pipe:0` to `pipe:1`): no path a client could choose reaches its command line, and no
//! shell is involved. Each transcode runs on one thread (`-threads 1`), at most `workers` at a
//! time; a bounded number more may wait for a worker, and beyond that a request is refused at once
//! (the HTTP layer answers 503 with `Retry-After`). A transcode past its time limit is killed, as
//! is one whose handle is dropped (`kill_on_drop`).

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;
use tokio::sync::{Semaphore, watch};
use workbench_files::{AudioCodec, BlobStream, Rendition, TranscodeError, TranscodeProgress, Transcoder};

/// The encoders a rendition is made with.
const ENCODERS: [&str; 2] = ["libmp3lame", "libopus"];

/// How long a refused client is asked to wait.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// How much of FFmpeg's complaints is kept for the log.
const MAX_STDERR: usize = 4096;

/// FFmpeg as a bounded pool of transcodes.
#[derive(Debug, Clone)]
pub struct FfmpegTranscoder {
    /// The program and what it said of itself, or why it cannot be used.
    program: Result<(PathBuf, String), String>,
    workers: Arc<Semaphore>,
    /// Transcodes admitted and not yet finished: running or waiting for a worker.
    admitted: Arc<AtomicUsize>,
    max_admitted: usize,
    time_limit: Duration,
}

impl FfmpegTranscoder {
    /// `program` (found on `PATH` when it is a bare name) with `workers` transcodes at a time,
    /// as many again waiting, each killed after `time_limit`. Asks the program once, now, whether
    /// it has the encoders.
    pub fn new(program: &str, workers: usize, time_limit: Duration) -> Self {
        let workers = workers.max(1);
        Self {
            program: probe(program),
            workers: Arc::new(Semaphore::new(workers)),
            admitted: Arc::default(),
            max_admitted: workers * 2,
            time_limit,
        }
    }

    /// Counts a transcode in, unless the pool and its queue are full.
    fn admit(&self) -> Option<Admitted> {
        self.admitted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < self.max_admitted).then_some(n + 1))
            .ok()
            .map(|_| Admitted(self.admitted.clone()))
    }
}

/// One admitted transcode; counted out when dropped.
struct Admitted(Arc<AtomicUsize>);

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The program's path and version line, when it runs and has every encoder.
fn probe(program: &str) -> Result<(PathBuf, String), String> {
    let missing = || format!("{program} (with {})", ENCODERS.join(" and "));
    let output = std::process::Command::new(program)
        .args(["-hide_banner", "-encoders"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|_| missing())?;
    let listed = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() || !ENCODERS.iter().all(|e| listed.split_whitespace().any(|word| word == *e)) {
        return Err(missing());
    }
    let version = std::process::Command::new(program)
        .arg("-version")
        .stdin(Stdio::null())
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).lines().next().map(str::to_owned))
        .unwrap_or_else(|| program.to_owned());
    Ok((PathBuf::from(program), version))
}

/// FFmpeg's arguments for a rendition: audio only, no metadata carried over, a bare stream of
/// frames (MP3: no ID3 tag, no Xing header, which a pipe could not rewrite anyway) or pages.
pub fn arguments(rendition: Rendition) -> Vec<String> {
    let mut args: Vec<String> =
        ["-hide_banner", "-loglevel", "error", "-threads", "1", "-i", "pipe:0", "-vn", "-sn", "-map_metadata", "-1"]
            .map(str::to_owned)
            .into();
    let bitrate = format!("{}k", rendition.kbps);
    match rendition.codec {
        AudioCodec::Mp3 => args.extend(
            ["-c:a", "libmp3lame", "-b:a", &bitrate, "-id3v2_version", "0", "-write_xing", "0", "-f", "mp3"]
                .map(str::to_owned),
        ),
        AudioCodec::Opus => args.extend(["-c:a", "libopus", "-b:a", &bitrate, "-f", "ogg"].map(str::to_owned)),
    }
    args.push("pipe:1".to_owned());
    args
}

impl Transcoder for FfmpegTranscoder {
    fn availability(&self) -> Result<String, TranscodeError> {
        match &self.program {
            Ok((_, version)) => Ok(format!("{version}; {} at a time", self.max_admitted / 2)),
            Err(encoder) => Err(TranscodeError::Unavailable { encoder: encoder.clone() }),
        }
    }

    fn start(
        &self,
        input: BlobStream,
        rendition: Rendition,
        output: PathBuf,
    ) -> Result<watch::Receiver<TranscodeProgress>, TranscodeError> {
        let (program, _) =
            self.program.as_ref().map_err(|encoder| TranscodeError::Unavailable { encoder: encoder.clone() })?;
        let admitted = self.admit().ok_or(TranscodeError::Busy { retry_after: RETRY_AFTER })?;
        let (progress, watching) = watch::channel(TranscodeProgress::default());
        let job = Job {
            program: program.clone(),
            args: arguments(rendition),
            output,
            workers: self.workers.clone(),
            time_limit: self.time_limit,
        };
        tokio::spawn(async move {
            let outcome = job.run(input, &progress).await;
            progress.send_modify(|p| p.outcome = Some(outcome));
            drop(admitted);
        });
        Ok(watching)
    }
}

/// One transcode, waiting for its worker.
struct Job {
    program: PathBuf,
    args: Vec<String>,
    output: PathBuf,
    workers: Arc<Semaphore>,
    time_limit: Duration,
}

impl Job {
    async fn run(self, input: BlobStream, progress: &watch::Sender<TranscodeProgress>) -> Result<(), String> {
        let _worker = self.workers.clone().acquire_owned().await.map_err(|e| e.to_string())?;
        let limit = self.time_limit;
        match tokio::time::timeout(limit, self.transcode(input, progress)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!("killed after the time limit of {} s", limit.as_secs())),
        }
    }

    async fn transcode(
        &self,
        mut input: BlobStream,
        progress: &watch::Sender<TranscodeProgress>,
    ) -> Result<(), String> {
        let mut child = Command::new(&self.program)
            .args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.program.display()))?;
        let (Some(mut stdin), Some(mut stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err("the transcoder's pipes were not opened".to_owned());
        };
        // Fed on a task of its own: FFmpeg writes while it reads, and both pipes must move.
        let feeding = tokio::spawn(async move {
            while let Some(chunk) = input.next().await {
                let chunk = chunk.map_err(|e| e.to_string())?;
                if stdin.write_all(&chunk).await.is_err() {
                    // FFmpeg stopped reading (it failed, or needs no more): its status tells.
                    break;
                }
            }
            Ok::<_, String>(())
        });
        let complaints = tokio::spawn(async move {
            let mut text = Vec::new();
            let _ = stderr.take(MAX_STDERR as u64).read_to_end(&mut text).await;
            String::from_utf8_lossy(&text).trim().to_owned()
        });
        let mut file = tokio::fs::File::create(&self.output).await.map_err(|e| e.to_string())?;
        let mut buffer = vec![0_u8; 64 * 1024];
        loop {
            let n = stdout.read(&mut buffer).await.map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            file.write_all(&buffer[..n]).await.map_err(|e| e.to_string())?;
            // Readers open the file themselves: what is reported must be in the file.
            file.flush().await.map_err(|e| e.to_string())?;
            progress.send_modify(|p| p.written += n as u64);
        }
        let status = child.wait().await.map_err(|e| e.to_string())?;
        let fed = feeding.await.map_err(|e| e.to_string())?;
        let complaints = complaints.await.unwrap_or_default();
        fed?;
        if status.success() {
            file.sync_data().await.map_err(|e| e.to_string())?;
            Ok(())
        } else {
            Err(format!("{} exited with {status}: {complaints}", self.program.display()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_reads_and_writes_pipes_only() {
        let args = arguments(Rendition { codec: AudioCodec::Opus, kbps: 96 });
        assert_eq!(args.iter().filter(|a| a.starts_with("pipe:")).count(), 2);
        assert!(args.windows(2).any(|w| w == ["-i", "pipe:0"]));
        assert!(args.windows(2).any(|w| w == ["-b:a", "96k"]));
        assert_eq!(args.last().map(String::as_str), Some("pipe:1"));
    }

    #[test]
    fn a_missing_program_is_named_and_refuses_every_transcode() {
        let transcoder = FfmpegTranscoder::new("/nonexistent/ffmpeg", 1, Duration::from_secs(1));
        let Err(TranscodeError::Unavailable { encoder }) = transcoder.availability() else { panic!("available?") };
        assert!(encoder.contains("/nonexistent/ffmpeg"), "{encoder}");
        let input: BlobStream = Box::pin(futures_util::stream::empty());
        let refused = transcoder.start(input, Rendition::DEFAULT, PathBuf::from("/tmp/x"));
        assert!(matches!(refused, Err(TranscodeError::Unavailable { .. })));
    }

    #[test]
    fn more_than_twice_the_workers_are_refused_as_busy() {
        let transcoder = FfmpegTranscoder::new("/nonexistent/ffmpeg", 2, Duration::from_secs(1));
        let held: Vec<_> = (0..4).map(|_| transcoder.admit().expect("room for four")).collect();
        assert!(transcoder.admit().is_none());
        drop(held);
        assert!(transcoder.admit().is_some());
    }
}
