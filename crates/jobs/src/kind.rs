//! What a job kind may be: the handlers, the jobs and the schedules name them alike.

/// The longest job kind; kinds are code constants such as `webhook.deliver`.
pub const KIND_MAX_LEN: usize = 64;

/// Checks a job kind: 1 to [`KIND_MAX_LEN`] characters among `a-z 0-9 . _ - :`.
pub(crate) fn check_kind(kind: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | ':');
    if kind.is_empty() || kind.len() > KIND_MAX_LEN || !kind.chars().all(allowed) {
        Err(format!("must be 1 to {KIND_MAX_LEN} characters among a-z, 0-9, '.', '_', '-', ':'"))
    } else {
        Ok(())
    }
}
