//! Receiving a multipart upload: the `file` part is streamed into a temporary file while it is
//! counted, hashed and sniffed, so that no more than a chunk of it is ever held in memory; the
//! other parts (`kind`, `task_id`, `user_product_id`) are short text.
//!
//! A body past `MAX_UPLOAD_BYTES` is refused with `413` as soon as that is certain (from
//! `Content-Length`, or when the count passes the limit), and a refused type with `415` as soon
//! as the first bytes show it; in both cases the rest of the body is read and thrown away, up to
//! a bound, so that the client sees the answer rather than a reset connection (actix-web #2772).
//! A part the form does not have is read past within the same bound, so that the one `422`
//! names every unknown part and a missing `file` together.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use actix_multipart::{Field, Multipart};
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, web};
use futures_util::StreamExt;
use futures_util::stream::Fuse;
use rand::RngCore;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncWriteExt, BufWriter};
use workbench_core::FieldError;
use workbench_files::{FileService, Refusal, StagedUpload, UploadDraft};

use crate::problem::ApiError;

/// The most a refused body is read on, to let the client see the answer.
const DRAIN_BYTES: u64 = 32 * 1024 * 1024;
/// The longest a refused body is read on.
const DRAIN_TIME: Duration = Duration::from_secs(10);
/// The longest text part (`kind`, `task_id`, ...).
const MAX_TEXT_PART: usize = 1024;
/// What a multipart body may carry besides the file: boundaries, part headers and text parts.
const ENVELOPE_BYTES: u64 = 64 * 1024;
/// Bytes buffered before a write to the temporary file: few, large writes.
const WRITE_BUFFER: usize = 1024 * 1024;
/// What a body without its `file` part is told.
const FILE_REQUIRED: &str = "is required: send the file as a part named `file`";

/// An upload received: the staged file (if a `file` part came) and the text parts. The staged
/// file is removed when this is dropped.
#[derive(Debug)]
pub struct Received {
    file: Option<StagedUpload>,
    pub draft: UploadDraft,
}

impl Received {
    /// The staged file, or `422` naming `file` when the body had none.
    pub fn staged(&self) -> Result<StagedUpload, ApiError> {
        self.file.clone().ok_or_else(|| ApiError::invalid_field("file", FILE_REQUIRED))
    }
}

impl Drop for Received {
    fn drop(&mut self) {
        if let Some(file) = &self.file {
            // One unlink of a file this request wrote: cheap enough for the worker thread.
            let _ = std::fs::remove_file(&file.path);
        }
    }
}

/// The parts an upload may have besides `file`: those of `POST /files`, or only `kind` where the
/// route names what the file is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parts {
    All,
    KindOnly,
}

/// Reads the multipart body of `req`, staging its `file` part in the files service's scratch
/// directory, typed by its bytes as they arrive.
pub async fn receive(
    req: &HttpRequest,
    payload: web::Payload,
    files: &FileService,
    max_bytes: u64,
    accepted: Parts,
) -> Result<Received, ApiError> {
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("multipart/form-data"));
    let mut parts = Multipart::new(req.headers(), payload);
    if !is_multipart {
        return Err(ApiError::bad_request("The body must be multipart/form-data with a part named `file`."));
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > max_bytes.saturating_add(ENVELOPE_BYTES)) {
        drain(&mut parts).await;
        return Err(too_large(max_bytes));
    }

    let scratch = files.scratch_dir();
    // Another instance sharing the data directory may have swept an idle scratch directory.
    tokio::fs::create_dir_all(scratch).await.map_err(ApiError::internal)?;
    let mut received = Received { file: None, draft: UploadDraft::default() };
    let mut envelope: u64 = 0;
    let mut unknown: Vec<String> = Vec::new();
    let mut skipping = Skipping::new();
    while let Some(part) = parts.next().await {
        let mut part = part.map_err(|e| malformed(&e))?;
        let name = part.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "file" => {
                if received.file.is_some() {
                    drop(part);
                    drain(&mut parts).await;
                    return Err(ApiError::invalid_field("file", "only one file may be sent per upload"));
                }
                let filename = part.content_disposition().and_then(|d| d.get_filename()).map(str::to_owned);
                // Fused: a refusal after the last chunk must not poll the finished part again.
                let mut part = part.fuse();
                match stage(&mut part, files, max_bytes).await {
                    Ok(staged) => received.file = Some(StagedUpload { filename, ..staged }),
                    Err(refusal) => {
                        drain_part(&mut part).await;
                        // The body moves on to the next part only once this one is dropped.
                        drop(part);
                        drain(&mut parts).await;
                        return Err(refusal);
                    }
                }
            }
            "kind" | "task_id" | "user_product_id" if name == "kind" || accepted == Parts::All => {
                let text = read_text(&mut part, &name).await?;
                envelope += text.len() as u64;
                if envelope > ENVELOPE_BYTES {
                    drop(part);
                    drain(&mut parts).await;
                    return Err(too_large(max_bytes));
                }
                let slot = match name.as_str() {
                    "kind" => &mut received.draft.kind,
                    "task_id" => &mut received.draft.task_id,
                    _ => &mut received.draft.user_product_id,
                };
                *slot = Some(text);
            }
            // A part the form does not have is a mistake worth telling (a misspelt `kind`
            // would otherwise be silently ignored). The rest of the form is still read, so
            // that the answer names every mistake at once, a missing `file` included.
            _ => {
                if !unknown.contains(&name) {
                    unknown.push(name);
                }
                if !skipping.discard(&mut part).await? {
                    // Past the drain bounds: answer with what is known, without `file`, which
                    // may have been further on.
                    return Err(unknown_parts(&unknown, false, accepted));
                }
            }
        }
    }
    if !unknown.is_empty() {
        return Err(unknown_parts(&unknown, received.file.is_none(), accepted));
    }
    Ok(received)
}

/// `422` naming each part the form does not have, and `file` when it is missing too.
fn unknown_parts(unknown: &[String], file_missing: bool, accepted: Parts) -> ApiError {
    let known = match accepted {
        Parts::All => "`file`, `kind`, `task_id` and `user_product_id`",
        Parts::KindOnly => "`file` and `kind`",
    };
    let missing = file_missing.then(|| FieldError::new("file", FILE_REQUIRED));
    let strangers =
        unknown.iter().map(|name| FieldError::new(name, format!("is not a part of this form: send {known}")));
    ApiError::field_errors(missing.into_iter().chain(strangers).collect())
}

/// Parts read past and thrown away, within the drain bounds counted from the first of them.
struct Skipping {
    started: Option<Instant>,
    read: u64,
}

impl Skipping {
    fn new() -> Self {
        Self { started: None, read: 0 }
    }

    /// Reads `part` to its end; `false` when the bounds ran out first.
    async fn discard(&mut self, part: &mut Field) -> Result<bool, ApiError> {
        let started = *self.started.get_or_insert_with(Instant::now);
        loop {
            if self.read >= DRAIN_BYTES || started.elapsed() >= DRAIN_TIME {
                return Ok(false);
            }
            match part.next().await {
                Some(chunk) => self.read += chunk.map_err(|e| malformed(&e))?.len() as u64,
                None => return Ok(true),
            }
        }
    }
}

/// Streams one part into a new file under `scratch`, counting, hashing and sniffing it.
async fn stage(part: &mut Fuse<Field>, files: &FileService, max_bytes: u64) -> Result<StagedUpload, ApiError> {
    let path = files.scratch_dir().join(format!("upload-{}", random_name()));
    let file = tokio::fs::File::create(&path).await.map_err(ApiError::internal)?;
    // Removes the partial file on every early return.
    let mut guard = RemoveOnDrop(Some(path.clone()));
    let mut out = BufWriter::with_capacity(WRITE_BUFFER, file);
    let mut sniffer = files.sniff();
    let mut hash = Sha256::new();
    let mut size: u64 = 0;
    while let Some(chunk) = part.next().await {
        let chunk = chunk.map_err(|e| malformed(&e))?;
        size += chunk.len() as u64;
        if size > max_bytes {
            return Err(too_large(max_bytes));
        }
        sniffer.feed(&chunk);
        if let Some(refused) = sniffer.early_refusal() {
            return Err(unsupported(&refused));
        }
        hash.update(&chunk);
        out.write_all(&chunk).await.map_err(ApiError::internal)?;
    }
    out.flush().await.map_err(ApiError::internal)?;
    drop(out);
    let sniffed = sniffer.finish().map_err(|refused| unsupported(&refused))?;
    guard.0 = None;
    Ok(StagedUpload {
        path,
        size,
        sha256: hex::encode(hash.finalize()),
        content_type: sniffed.content_type,
        class: sniffed.class,
        filename: None,
    })
}

async fn read_text(part: &mut Field, name: &str) -> Result<String, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = part.next().await {
        bytes.extend_from_slice(&chunk.map_err(|e| malformed(&e))?);
        if bytes.len() > MAX_TEXT_PART {
            return Err(ApiError::invalid_field(name, format!("must be at most {MAX_TEXT_PART} bytes")));
        }
    }
    String::from_utf8(bytes).map_err(|_| ApiError::invalid_field(name, "must be UTF-8 text"))
}

/// Reads the rest of one part and throws it away, within the drain bounds.
async fn drain_part(part: &mut Fuse<Field>) {
    let (started, mut read) = (Instant::now(), 0_u64);
    while read < DRAIN_BYTES && started.elapsed() < DRAIN_TIME {
        match part.next().await {
            Some(Ok(chunk)) => read += chunk.len() as u64,
            _ => return,
        }
    }
}

/// Reads the rest of the body and throws it away, within the drain bounds.
async fn drain(parts: &mut Multipart) {
    let (started, mut read) = (Instant::now(), 0_u64);
    while read < DRAIN_BYTES && started.elapsed() < DRAIN_TIME {
        let Some(Ok(mut part)) = parts.next().await else { return };
        while let Some(Ok(chunk)) = part.next().await {
            read += chunk.len() as u64;
            if read >= DRAIN_BYTES || started.elapsed() >= DRAIN_TIME {
                return;
            }
        }
    }
}

fn too_large(max_bytes: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
        format!("The upload is larger than the {max_bytes} bytes allowed."),
    )
}

fn unsupported(refused: &Refusal) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
        format!(
            "{}: accepted are JPEG, PNG, WebP and GIF images, PDF, UTF-8 text, and MP3, Ogg, WAV and FLAC audio.",
            capitalised(&refused.to_string())
        ),
    )
}

/// `s` with its first letter in upper case (the domain's messages start in lower case).
pub(super) fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

fn malformed(e: &actix_multipart::MultipartError) -> ApiError {
    ApiError::bad_request(format!("The multipart body could not be read: {e}."))
}

fn random_name() -> String {
    let mut bytes = [0_u8; 12];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Deletes a half-written file unless disarmed.
struct RemoveOnDrop(Option<PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}
