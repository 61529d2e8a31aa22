//! The process's file descriptor limit (`RLIMIT_NOFILE`): raised to its hard limit at start-up,
//! and read to bound what the radio source listener may hold.
//!
//! Every socket is a descriptor, and the soft limit is often 1024 (systemd's default) while the
//! hard one is far higher: a server that needs more than the soft limit may raise it to the hard
//! one, as Go's runtime does for every program since 1.19. What the soft limit still is then
//! bounds the source listener's connections by default, so that a flood there cannot take the
//! descriptors the API needs to accept.

/// Raises the soft limit to the hard one; the limit in force afterwards, or `None` where there is
/// none to read. A limit that cannot be raised is logged and kept.
pub fn raise_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let before = soft_limit()?;
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(now) if now > before => {
                tracing::info!(from = before, to = now, "raised the open file limit (RLIMIT_NOFILE) to its hard limit");
                Some(now)
            }
            Ok(now) => Some(now),
            Err(e) => {
                tracing::warn!(limit = before, error = %e, "cannot raise the open file limit (RLIMIT_NOFILE)");
                Some(before)
            }
        }
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The soft limit in force: how many descriptors the process may hold open; `None` where there is
/// none to read.
pub fn soft_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rlimit::Resource::NOFILE.get_soft().ok()
    }
    #[cfg(not(unix))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(unix)]
    fn the_limit_is_read_and_raising_it_never_lowers_it() {
        let before = soft_limit().expect("a unix process has a limit");
        assert!(before > 0);
        let after = raise_limit().expect("and can tell it");
        assert!(after >= before);
        assert_eq!(soft_limit(), Some(after));
    }
}
