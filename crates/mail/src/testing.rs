//! A real SMTP server for tests: `aiosmtpd` (PyPI) on a free local port, writing every message it
//! accepts into a maildir that the test reads back. `.ci/run` installs it
//! (`python3 -m pip install aiosmtpd`).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `aiosmtpd`; stopped when dropped.
#[derive(Debug)]
pub struct SmtpSink {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

/// One message the sink received: its headers (names lower-cased) and body.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Received {
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

fn required() -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
    set("CI") || set("REQUIRE_SERVICES")
}

fn skip_or_fail(why: &str) {
    assert!(!required(), "the SMTP sink (aiosmtpd) is required (CI or REQUIRE_SERVICES is set) but: {why}");
    #[expect(clippy::print_stderr, reason = "a skipped test must be visible in the test output")]
    {
        eprintln!(
            "\n*** SKIPPED: no SMTP sink ({why}); `python3 -m pip install aiosmtpd`, or set CI=true to fail ***\n"
        );
    }
}

impl SmtpSink {
    /// Starts a sink; `None` (after a loud skip notice) when `aiosmtpd` is not installed, a
    /// failure instead when services are required (`CI=true`).
    pub async fn start() -> Option<Self> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        for _ in 0..5 {
            let port = match std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
                Ok(addr) => addr.port(),
                Err(e) => panic!("no free local port: {e}"),
            };
            let spawned = Command::new("python3")
                .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
                .arg(dir.path().join("maildir"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn();
            let mut child = match spawned {
                Ok(child) => child,
                Err(e) => {
                    skip_or_fail(&format!("python3 cannot be started: {e}"));
                    return None;
                }
            };
            for _ in 0..100 {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                    return Some(Self { child, port, dir });
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let _ = child.kill();
            let output = child.wait_with_output().map(|o| String::from_utf8_lossy(&o.stderr).into_owned());
            let why = output.unwrap_or_default();
            if why.contains("No module named") {
                skip_or_fail("the aiosmtpd module is not installed");
                return None;
            }
            // Most likely another process took the port meanwhile: try another.
        }
        panic!("aiosmtpd did not start on any of 5 ports");
    }

    /// `SMTP_URL` for this sink.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<Received> {
        let new = self.dir.path().join("maildir").join("new");
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(&new)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| (e.metadata().and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH), e.path()))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files.into_iter().filter_map(|(_, path)| std::fs::read_to_string(path).ok()).map(|raw| parse(&raw)).collect()
    }

    /// Waits up to `timeout` until at least `n` messages arrived; returns them all.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= n || tokio::time::Instant::now() >= deadline {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Splits a stored message into unfolded headers and its body (line endings normalised).
fn parse(raw: &str) -> Received {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").unwrap_or((raw.as_str(), ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    Received { headers, body: body.to_owned() }
}
