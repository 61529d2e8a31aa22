//! Images per second for one image task, to compare with sharp/libvips on the same input
//! (`../shared/anchors/sharp-bench.js` runs the same tasks and prints the same fields).
//!
//! ```sh
//! cargo build --release -p workbench-media --example image_bench
//! taskset -c 1 target/release/examples/image_bench --task=bench --input=input.jpg --threads=1
//! ```
//!
//! Tasks (as in the anchors' README):
//! - `bench`: cover 720×588 (Lanczos3), JPEG q80, shrink-on-load allowed, no auto-rotate.
//! - `orient2048`: EXIF orientation applied, fit inside 2048×2048 without enlarging, JPEG q80,
//!   metadata stripped.
//! - `thumb256`: orientation applied, 256×256 cover with a centre crop, JPEG q80.
//! - `process`: Workbench's whole upload path (`image::process`: the 2048 image and the 256
//!   thumbnail from one decode), for reference.
//!
//! The input is read once; `--threads` threads each run the task in a loop (after `--warmup`
//! runs each) until `--seconds` have passed. One JSON line is printed: the rate (`ips`), and the
//! cores used on average by this process (`ownCores`) and by everything else (`otherCores`), to
//! tell a quiet measurement from a disturbed one.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use workbench_media::image::{EncodedImage, ImageError, ImagePolicy, Limits, Resize, Transform, process, transform};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Task {
    Bench,
    Orient2048,
    Thumb256,
    Process,
}

impl Task {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "bench" => Self::Bench,
            "orient2048" => Self::Orient2048,
            "thumb256" => Self::Thumb256,
            "process" => Self::Process,
            _ => return None,
        })
    }

    fn run(self, input: &[u8]) -> Result<EncodedImage, ImageError> {
        let limits = Limits::default();
        let request = |auto_orient, resize| Transform { limits, auto_orient, resize: Some(resize), jpeg_quality: 80 };
        match self {
            Self::Bench => transform(input, &request(false, Resize::Cover { width: 720, height: 588 })),
            Self::Orient2048 => transform(input, &request(true, Resize::Inside { max_width: 2048, max_height: 2048 })),
            Self::Thumb256 => transform(input, &request(true, Resize::Cover { width: 256, height: 256 })),
            Self::Process => process(input, &ImagePolicy::default()).map(|processed| processed.image),
        }
    }
}

struct Args {
    task: Task,
    input: String,
    threads: usize,
    seconds: f64,
    warmup: usize,
    output: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args =
        Args { task: Task::Bench, input: String::new(), threads: 1, seconds: 10.0, warmup: 10, output: None };
    for arg in std::env::args().skip(1) {
        let (key, value) = arg.split_once('=').ok_or_else(|| format!("expected --key=value, got {arg}"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{key}: {e}");
        match key {
            "--task" => args.task = Task::parse(value).ok_or_else(|| format!("unknown task {value}"))?,
            "--input" => args.input = value.to_owned(),
            "--threads" => args.threads = value.parse().map_err(|e| bad(&e))?,
            "--seconds" => args.seconds = value.parse().map_err(|e| bad(&e))?,
            "--warmup" => args.warmup = value.parse().map_err(|e| bad(&e))?,
            "--output" => args.output = Some(value.to_owned()),
            _ => return Err(format!("unknown option {key}")),
        }
    }
    if args.input.is_empty() || args.threads == 0 {
        return Err("usage: image_bench --task=bench|orient2048|thumb256|process --input=FILE [--threads=N] \
                    [--seconds=S] [--warmup=N] [--output=FILE]"
            .into());
    }
    Ok(args)
}

/// CPU seconds the whole machine spent busy (user, nice, system, irq, softirq, steal).
fn machine_busy_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<f64> =
        stat.lines().next().unwrap_or_default().split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    [0, 1, 2, 5, 6, 7].iter().filter_map(|&i| fields.get(i)).sum::<f64>() / 100.0
}

/// CPU seconds this process has used (user + system).
fn own_busy_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default();
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name: state is field 0; utime and stime are fields 11 and 12, in 1/100 s.
    [11, 12].iter().filter_map(|&i| fields.get(i)?.parse::<f64>().ok()).sum::<f64>() / 100.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let input = std::fs::read(&args.input)?;
    let sample = args.task.run(&input)?;
    if let Some(path) = &args.output {
        std::fs::write(path, &sample.bytes)?;
    }

    let done = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let failed = AtomicBool::new(false);
    let (mut machine0, mut own0) = (0.0, 0.0);
    let mut started = Instant::now();
    let warmed = std::sync::Barrier::new(args.threads + 1);
    std::thread::scope(|scope| {
        for _ in 0..args.threads {
            scope.spawn(|| {
                for _ in 0..args.warmup {
                    failed.fetch_or(args.task.run(&input).is_err(), Ordering::Relaxed);
                }
                warmed.wait();
                while !stop.load(Ordering::Relaxed) {
                    failed.fetch_or(args.task.run(&input).is_err(), Ordering::Relaxed);
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        warmed.wait();
        (machine0, own0) = (machine_busy_seconds(), own_busy_seconds());
        started = Instant::now();
        std::thread::sleep(Duration::from_secs_f64(args.seconds));
        stop.store(true, Ordering::Relaxed);
    });
    // The clock runs until the last image in flight is finished, as in sharp-bench.js.
    let elapsed = started.elapsed().as_secs_f64();
    if failed.load(Ordering::Relaxed) {
        return Err("a run failed".into());
    }
    let own = own_busy_seconds() - own0;
    let other = (machine_busy_seconds() - machine0 - own).max(0.0);
    let done = done.load(Ordering::Relaxed);
    let task = format!("{:?}", args.task).to_lowercase();
    let line = format!(
        "{{\"task\":\"{task}\",\"ips\":{:.2},\"done\":{done},\"seconds\":{elapsed:.3},\"threads\":{},\
         \"ownCores\":{:.2},\"otherCores\":{:.2},\"inBytes\":{},\"out\":\"{}x{}\",\"outType\":\"{}\",\"outBytes\":{}}}",
        done as f64 / elapsed,
        args.threads,
        own / elapsed,
        other / elapsed,
        input.len(),
        sample.width,
        sample.height,
        sample.media_type,
        sample.bytes.len(),
    );
    writeln!(std::io::stdout(), "{line}")?;
    Ok(())
}
