//! Share links: a file handed to someone without an account, through an unguessable link that
//! expires, may be limited in downloads, may ask for a password, and can be revoked at once.
//!
//! A link is known to the database only by the SHA-256 of its token: whoever reads the table
//! (a backup, a replica) cannot download anything, and the owner sees the link's URL only once,
//! when it is made. Its password, when it has one, is stored as a bcrypt hash. Whether a link
//! still opens (not revoked, not expired, a download left, its file's owner not disabled) is
//! decided by the database in the statement that counts the download, so two downloads racing
//! for the last one cannot both get it.
//!
//! A disabled owner's links are refused while the account is disabled, not revoked: they open
//! again, within their own terms, if the account is enabled again. Disabling is how an
//! administrator suspends an account, and is undone the same way; revoking would make that undo
//! lossy (every link handed out gone for good), while the check costs nothing more than the
//! statement that reads the link. Expiry keeps running meanwhile, so a link never outlives its
//! own terms, and the owner sees and revokes their links as before.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use workbench_core::{FieldErrors, RepositoryError, TypeFailures, Validator};
use workbench_users::{PasswordHasher, Principal};

use crate::error::Missing;
use crate::{BlobRead, BlobStore, ByteRange, FileError, FileId, FileRepository, StoredFile};

/// How long a link lasts when the owner does not say, in hours (a week).
pub const DEFAULT_LINK_HOURS: i64 = 168;
/// The longest a link may last, in hours (30 days).
pub const MAX_LINK_HOURS: i64 = 720;
/// The most downloads a limited link may allow.
pub const MAX_LINK_DOWNLOADS: i64 = 10_000;
/// A link password's length bounds, in bytes (bcrypt reads no more than 72).
pub const LINK_PASSWORD_BYTES: std::ops::RangeInclusive<usize> = 8..=72;

/// A share link's database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShareLinkId(pub i64);

impl fmt::Display for ShareLinkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A link as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareLink {
    /// The link's id, by which its owner revokes it.
    pub id: ShareLinkId,
    /// The file it hands out.
    pub file_id: FileId,
    /// When it stops opening.
    pub expires_at: DateTime<Utc>,
    /// `None`: unlimited.
    pub max_downloads: Option<u32>,
    /// How many downloads it has counted.
    pub downloads: u32,
    /// The bcrypt hash of the link's password, when it has one.
    pub password_hash: Option<String>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

impl ShareLink {
    /// Whether opening it needs its password.
    pub fn has_password(&self) -> bool {
        self.password_hash.is_some()
    }
}

/// A link about to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewShareLink {
    /// The file it hands out.
    pub file_id: FileId,
    /// [`ShareToken::digest`] of the link's token.
    pub token_digest: String,
    /// When it stops opening.
    pub expires_at: DateTime<Utc>,
    /// How many downloads it allows; `None`: unlimited.
    pub max_downloads: Option<u32>,
    /// The bcrypt hash of its password, if it has one.
    pub password_hash: Option<String>,
    /// When it is made.
    pub created_at: DateTime<Utc>,
}

/// The secret part of a link's URL: 256 random bits, as 64 lower-case hex digits.
#[derive(Clone, PartialEq, Eq)]
pub struct ShareToken(String);

impl fmt::Debug for ShareToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ShareToken(..)")
    }
}

impl ShareToken {
    fn generate() -> Self {
        let mut bytes = [0_u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(hex::encode(bytes))
    }

    /// The token as it goes into the URL.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the database knows the link by.
    pub fn digest(token: &str) -> String {
        hex::encode(Sha256::digest(token.as_bytes()))
    }
}

/// A link just made: the only moment its token is known outside the owner's copy of the URL.
#[derive(Debug, Clone)]
pub struct IssuedShareLink {
    /// The link as it will be listed.
    pub link: ShareLink,
    /// Its token, to show once in the link's URL.
    pub token: ShareToken,
}

/// What the owner asks for, as sent (every field optional).
#[derive(Debug, Clone, Default)]
pub struct ShareLinkDraft {
    /// How long it lasts, 1 to [`MAX_LINK_HOURS`] hours; [`DEFAULT_LINK_HOURS`] when missing.
    pub expires_in_hours: Option<i64>,
    /// How many downloads it allows, 1 to [`MAX_LINK_DOWNLOADS`]; unlimited when missing.
    pub max_downloads: Option<i64>,
    /// A password visitors must send, 8 to 72 bytes; none when missing.
    pub password: Option<String>,
    /// Fields whose JSON type was wrong, reported with the rest.
    pub type_failures: TypeFailures,
}

/// A draft whose every field is within its bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ShareTerms {
    lifetime: Duration,
    max_downloads: Option<u32>,
    password: Option<String>,
}

impl ShareTerms {
    fn parse(draft: ShareLinkDraft) -> Result<Self, FieldErrors> {
        let mut v = Validator::seeded(draft.type_failures);
        let hours = v
            .optional("expires_in_hours", draft.expires_in_hours, |h| {
                if (1..=MAX_LINK_HOURS).contains(&h) {
                    Ok(h)
                } else {
                    Err(format!("must be between 1 and {MAX_LINK_HOURS}"))
                }
            })
            .ok()
            .flatten()
            .unwrap_or(DEFAULT_LINK_HOURS);
        let max_downloads = v
            .optional("max_downloads", draft.max_downloads, |n| match u32::try_from(n) {
                Ok(n) if (1..=MAX_LINK_DOWNLOADS).contains(&i64::from(n)) => Ok(n),
                _ => Err(format!("must be between 1 and {MAX_LINK_DOWNLOADS}")),
            })
            .ok()
            .flatten();
        let password = v
            .optional("password", draft.password, |p| {
                if p.trim() != p {
                    // Sent in a header, which loses surrounding whitespace: it could never match.
                    Err("must not begin or end with whitespace".to_owned())
                } else if p.chars().any(|c| c.is_ascii_control()) {
                    Err("must not contain control characters".to_owned())
                } else if LINK_PASSWORD_BYTES.contains(&p.len()) {
                    Ok(p)
                } else {
                    Err(format!("must be {} to {} bytes long", LINK_PASSWORD_BYTES.start(), LINK_PASSWORD_BYTES.end()))
                }
            })
            .ok()
            .flatten();
        v.finish()?;
        Ok(Self { lifetime: Duration::hours(hours), max_downloads, password })
    }
}

/// Where share links live.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ShareLinkRepository: Send + Sync {
    /// Stores a new link. MUST return `MissingReference { field: "file_id" }` when the file is
    /// gone (decided by a foreign key), and MUST delete a file's links with the file.
    async fn insert(&self, link: NewShareLink) -> Result<ShareLink, RepositoryError>;

    /// The file's links that are not revoked, newest first (expired and used-up ones included:
    /// the owner sees how they were used).
    async fn list(&self, file: FileId) -> Result<Vec<ShareLink>, RepositoryError>;

    /// Revokes the file's link; `false` when the file has no such link.
    async fn revoke(&self, file: FileId, link: ShareLinkId) -> Result<bool, RepositoryError>;

    /// The link whose token has `token_digest`, when it still opens at `now`: not expired, with
    /// a download left, and its file's owner an active account (a disabled owner's links MUST NOT
    /// open, decided in the same statement).
    async fn find_open(&self, token_digest: String, now: DateTime<Utc>) -> Result<Option<ShareLink>, RepositoryError>;

    /// Counts one download of the link, in one statement that also checks that it still opens
    /// at `now` (as [`Self::find_open`] decides it, the owner's status included): its count
    /// after this one (1 for the first, however many visitors race), or `None` (and nothing
    /// counted) when it does not open.
    async fn count_download(&self, link: ShareLinkId, now: DateTime<Utc>) -> Result<Option<u32>, RepositoryError>;
}

/// Who hears of a link's use (the notifications domain).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait ShareActivity: Send + Sync {
    /// `link` to `file` was downloaded for the first time (once, however many visitors race).
    async fn first_download(&self, file: &StoredFile, link: &ShareLink);
}

/// A link opened by a visitor: the link, and the file it hands out.
#[derive(Debug, Clone)]
pub struct OpenedLink {
    /// The link.
    pub link: ShareLink,
    /// The file it hands out.
    pub file: StoredFile,
}

/// Share links: see the module documentation.
#[derive(Clone)]
pub struct ShareService {
    files: Arc<dyn FileRepository>,
    links: Arc<dyn ShareLinkRepository>,
    blobs: Arc<dyn BlobStore>,
    hasher: Arc<dyn PasswordHasher>,
    /// Told of each link's first download.
    activity: Option<Arc<dyn ShareActivity>>,
}

impl fmt::Debug for ShareService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShareService").finish_non_exhaustive()
    }
}

impl ShareService {
    /// The service over the files in `files`, their links in `links` and their bytes in `blobs`,
    /// hashing link passwords with `hasher`.
    pub fn new(
        files: Arc<dyn FileRepository>,
        links: Arc<dyn ShareLinkRepository>,
        blobs: Arc<dyn BlobStore>,
        hasher: Arc<dyn PasswordHasher>,
    ) -> Self {
        Self { files, links, blobs, hasher, activity: None }
    }

    /// The service telling `activity` of each link's first download.
    pub fn with_activity(mut self, activity: Arc<dyn ShareActivity>) -> Self {
        self.activity = Some(activity);
        self
    }

    /// Makes a link to the caller's file. Links are the owner's alone: to anyone else (an admin
    /// or a reader of the task included) the file has none to make, list or revoke.
    pub async fn create(
        &self,
        caller: &Principal,
        file: FileId,
        draft: ShareLinkDraft,
    ) -> Result<IssuedShareLink, FileError> {
        self.owned(caller, file).await?;
        let terms = ShareTerms::parse(draft)?;
        let password_hash = match &terms.password {
            Some(password) => Some(self.hasher.hash(password).await.map_err(FileError::Unavailable)?),
            None => None,
        };
        let token = ShareToken::generate();
        let created_at = workbench_users::now();
        let link = self
            .links
            .insert(NewShareLink {
                file_id: file,
                token_digest: ShareToken::digest(token.expose()),
                expires_at: created_at + terms.lifetime,
                max_downloads: terms.max_downloads,
                password_hash,
                created_at,
            })
            .await
            .map_err(|e| match e {
                // Deleted meanwhile.
                RepositoryError::MissingReference { .. } => FileError::NotFound(Missing::File),
                other => other.into(),
            })?;
        Ok(IssuedShareLink { link, token })
    }

    /// The links of the caller's file that are not revoked, newest first.
    pub async fn list(&self, caller: &Principal, file: FileId) -> Result<Vec<ShareLink>, FileError> {
        self.owned(caller, file).await?;
        Ok(self.links.list(file).await?)
    }

    /// Revokes a link of the caller's file: it stops opening at once.
    pub async fn revoke(&self, caller: &Principal, file: FileId, link: ShareLinkId) -> Result<(), FileError> {
        self.owned(caller, file).await?;
        if self.links.revoke(file, link).await? { Ok(()) } else { Err(FileError::NotFound(Missing::ShareLink)) }
    }

    /// The link a visitor's token names, when it opens: unknown, revoked, expired and used-up
    /// links are all `NotFound`, alike. A link with a password needs it (`PasswordRequired`
    /// otherwise, the same for a missing and a wrong one); the check costs a bcrypt verification,
    /// which is why the route is limited per client address.
    pub async fn open(&self, token: &str, password: Option<String>) -> Result<OpenedLink, FileError> {
        let gone = || FileError::NotFound(Missing::ShareLink);
        let link = self.links.find_open(ShareToken::digest(token), workbench_users::now()).await?.ok_or_else(gone)?;
        if let Some(hash) = &link.password_hash {
            let given = password.unwrap_or_default();
            if !self.hasher.verify(&given, Some(hash.clone())).await.map_err(FileError::Unavailable)? {
                return Err(FileError::PasswordRequired);
            }
        }
        let file = self.files.find(link.file_id).await?.ok_or_else(gone)?;
        Ok(OpenedLink { link, file })
    }

    /// The bytes an opened link hands out, whole or one range, counted as `counts_as_download`
    /// says. The count is taken by the statement that checks a download is left, so that of two
    /// visitors racing for a limited link's last one, one is served and the other finds the link
    /// gone (`NotFound`). A range that selects nothing sends nothing, and is refused before
    /// anything is counted.
    pub async fn read(&self, opened: &OpenedLink, range: Option<ByteRange>) -> Result<BlobRead, FileError> {
        if let Some(range) = range {
            range.resolve(opened.file.size)?;
        }
        if counts_as_download(&opened.link, range, opened.file.size) {
            match self.links.count_download(opened.link.id, workbench_users::now()).await? {
                None => return Err(FileError::NotFound(Missing::ShareLink)),
                Some(1) => {
                    if let Some(activity) = &self.activity {
                        activity.first_download(&opened.file, &opened.link).await;
                    }
                }
                Some(_) => {}
            }
        }
        Ok(self.blobs.get(&opened.file.blob_key, range).await?)
    }

    async fn owned(&self, caller: &Principal, file: FileId) -> Result<StoredFile, FileError> {
        match self.files.find(file).await? {
            Some(found) if found.owner_id == caller.id => Ok(found),
            _ => Err(FileError::NotFound(Missing::File)),
        }
    }
}

/// Whether an answer for `range` of a file of `size` bytes (a range that selects something)
/// counts as one of `link`'s downloads. On an unlimited link, only an answer that starts at the
/// file's first byte is a download: one that resumes later in the file finishes a download
/// already counted. On a link limited in downloads every answer that sends bytes counts, a
/// `Range` answer too: otherwise ranges that each start past the first byte would fetch the whole
/// file, again and again, without ever using a download up.
fn counts_as_download(link: &ShareLink, range: Option<ByteRange>, size: u64) -> bool {
    link.max_downloads.is_some() || starts_at_first_byte(range, size)
}

/// Whether an answer for `range` of a file of `size` bytes starts with its first byte.
fn starts_at_first_byte(range: Option<ByteRange>, size: u64) -> bool {
    match range {
        None | Some(ByteRange::From(0) | ByteRange::Bounded { first: 0, .. }) => true,
        Some(ByteRange::Suffix(n)) => n >= size,
        Some(ByteRange::From(_) | ByteRange::Bounded { .. }) => false,
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use workbench_users::{MockPasswordHasher, Role, User, UserId};

    use super::*;
    use crate::{Attachment, BlobKey, FileKind, MockBlobStore, MockFileRepository};

    fn caller(id: i64) -> Principal {
        let mut user = User::sample(id);
        user.role = Role::User;
        Principal::from(&user)
    }

    fn admin(id: i64) -> Principal {
        let mut user = User::sample(id);
        user.role = Role::Admin;
        Principal::from(&user)
    }

    fn file(owner: i64) -> StoredFile {
        StoredFile {
            id: FileId(1),
            owner_id: UserId(owner),
            filename: "manual.pdf".into(),
            content_type: "application/pdf".into(),
            size: 100,
            kind: FileKind::Manual,
            sha256: "00".into(),
            width: None,
            height: None,
            audio: None,
            attachment: Attachment::None,
            blob_key: BlobKey::parse("files/aa/1").unwrap(),
            thumbnail_key: None,
            created_at: Utc::now(),
        }
    }

    fn link(password_hash: Option<&str>) -> ShareLink {
        ShareLink {
            id: ShareLinkId(7),
            file_id: FileId(1),
            expires_at: Utc::now() + Duration::hours(1),
            max_downloads: None,
            downloads: 0,
            password_hash: password_hash.map(str::to_owned),
            created_at: Utc::now(),
        }
    }

    struct Mocks {
        files: MockFileRepository,
        links: MockShareLinkRepository,
        blobs: MockBlobStore,
        hasher: MockPasswordHasher,
    }

    impl Mocks {
        fn new() -> Self {
            Self {
                files: MockFileRepository::new(),
                links: MockShareLinkRepository::new(),
                blobs: MockBlobStore::new(),
                hasher: MockPasswordHasher::new(),
            }
        }

        fn owned_by(mut self, owner: i64) -> Self {
            self.files.expect_find().returning(move |_| Ok(Some(file(owner))));
            self
        }

        fn service(self) -> ShareService {
            ShareService::new(Arc::new(self.files), Arc::new(self.links), Arc::new(self.blobs), Arc::new(self.hasher))
        }
    }

    #[tokio::test]
    async fn every_out_of_bounds_term_is_reported_at_once_and_nothing_is_stored() {
        let mut m = Mocks::new().owned_by(1);
        m.links.expect_insert().never();
        let draft = ShareLinkDraft {
            expires_in_hours: Some(721),
            max_downloads: Some(0),
            password: Some("short".into()),
            ..ShareLinkDraft::default()
        };
        let spaced = ShareLinkDraft { password: Some(" long enough ".into()), ..ShareLinkDraft::default() };
        assert!(ShareTerms::parse(spaced).is_err(), "a header loses surrounding spaces: never matchable");
        let Err(FileError::Validation(errors)) = m.service().create(&caller(1), FileId(1), draft).await else {
            panic!("refused")
        };
        for field in ["expires_in_hours", "max_downloads", "password"] {
            assert!(errors.contains(field), "{field}: {errors}");
        }
    }

    #[tokio::test]
    async fn a_link_lasts_a_week_unless_told_and_keeps_only_a_hash_of_its_token_and_password() {
        let mut m = Mocks::new().owned_by(1);
        m.hasher.expect_hash().withf(|p| p == "correct horse").returning(|_| Ok("$2b$hash".into()));
        m.links
            .expect_insert()
            .withf(|l| {
                let week = (l.expires_at - l.created_at).num_hours() == DEFAULT_LINK_HOURS;
                week && l.password_hash.as_deref() == Some("$2b$hash") && l.token_digest.len() == 64
            })
            .returning(|l| {
                Ok(ShareLink {
                    id: ShareLinkId(3),
                    file_id: l.file_id,
                    expires_at: l.expires_at,
                    max_downloads: l.max_downloads,
                    downloads: 0,
                    password_hash: l.password_hash,
                    created_at: l.created_at,
                })
            });
        let draft = ShareLinkDraft { password: Some("correct horse".into()), ..ShareLinkDraft::default() };
        let issued = m.service().create(&caller(1), FileId(1), draft).await.unwrap();
        assert_eq!(issued.token.expose().len(), 64, "256 bits");
        assert!(issued.link.has_password());
    }

    #[tokio::test]
    async fn links_are_the_owners_alone() {
        for (who, owner) in [(caller(2), 1), (admin(3), 1)] {
            let mut m = Mocks::new().owned_by(owner);
            m.links.expect_list().never();
            m.links.expect_insert().never();
            let service = m.service();
            assert!(matches!(service.list(&who, FileId(1)).await, Err(FileError::NotFound(Missing::File))));
            let made = service.create(&who, FileId(1), ShareLinkDraft::default()).await;
            assert!(matches!(made, Err(FileError::NotFound(Missing::File))), "{made:?}");
        }
    }

    #[tokio::test]
    async fn revoking_a_link_the_file_does_not_have_is_not_found() {
        let mut m = Mocks::new().owned_by(1);
        m.links.expect_revoke().returning(|_, _| Ok(false));
        let got = m.service().revoke(&caller(1), FileId(1), ShareLinkId(9)).await;
        assert!(matches!(got, Err(FileError::NotFound(Missing::ShareLink))), "{got:?}");
    }

    #[tokio::test]
    async fn a_link_with_a_password_opens_only_with_it() {
        for (given, right) in [(None, false), (Some("wrong one"), false), (Some("correct horse"), true)] {
            let mut m = Mocks::new().owned_by(1);
            m.links.expect_find_open().returning(|_, _| Ok(Some(link(Some("$2b$hash")))));
            m.hasher.expect_verify().returning(|p, h| Ok(p == "correct horse" && h.as_deref() == Some("$2b$hash")));
            let opened = m.service().open("token", given.map(str::to_owned)).await;
            if right {
                assert!(opened.is_ok(), "{opened:?}");
            } else {
                assert!(matches!(opened, Err(FileError::PasswordRequired)), "{given:?}: {opened:?}");
            }
        }
    }

    #[tokio::test]
    async fn a_link_that_no_longer_opens_is_not_found_before_any_password_is_checked() {
        let mut m = Mocks::new();
        m.links.expect_find_open().returning(|_, _| Ok(None));
        m.hasher.expect_verify().never();
        let opened = m.service().open("token", Some("correct horse".into())).await;
        assert!(matches!(opened, Err(FileError::NotFound(Missing::ShareLink))), "{opened:?}");
    }

    #[tokio::test]
    async fn on_a_limited_link_every_answer_that_sends_bytes_counts() {
        let limited = ShareLink { max_downloads: Some(3), ..link(None) };
        for range in [None, Some(ByteRange::From(1)), Some(ByteRange::Suffix(10)), Some(ByteRange::From(99))] {
            assert!(counts_as_download(&limited, range, 100), "{range:?}");
        }
        // A resumed answer when nothing is left: refused, nothing sent.
        let mut m = Mocks::new();
        m.links.expect_count_download().times(1).returning(|_, _| Ok(None));
        m.blobs.expect_get().never();
        let opened = OpenedLink { link: limited.clone(), file: file(1) };
        let got = m.service().read(&opened, Some(ByteRange::From(1))).await;
        assert!(matches!(got, Err(FileError::NotFound(Missing::ShareLink))), "{got:?}");
        // A range that selects nothing sends nothing, and uses nothing up.
        let mut m = Mocks::new();
        m.links.expect_count_download().never();
        m.blobs.expect_get().never();
        let opened = OpenedLink { link: limited, file: file(1) };
        let got = m.service().read(&opened, Some(ByteRange::From(100))).await;
        assert!(matches!(got, Err(FileError::RangeNotSatisfiable { size: 100 })), "{got:?}");
    }

    #[tokio::test]
    async fn only_an_answer_from_the_first_byte_is_a_download() {
        for (range, counted) in [
            (None, true),
            (Some(ByteRange::Bounded { first: 0, last: 9 }), true),
            (Some(ByteRange::From(0)), true),
            (Some(ByteRange::Suffix(100)), true),
            (Some(ByteRange::Suffix(10)), false),
            (Some(ByteRange::From(50)), false),
            (Some(ByteRange::Bounded { first: 10, last: 19 }), false),
        ] {
            assert_eq!(starts_at_first_byte(range, 100), counted, "{range:?}");
            assert_eq!(counts_as_download(&link(None), range, 100), counted, "unlimited: {range:?}");
        }
        // The last download went to someone else meanwhile: nothing is served.
        let mut m = Mocks::new();
        m.links.expect_count_download().returning(|_, _| Ok(None));
        m.blobs.expect_get().never();
        let opened = OpenedLink { link: link(None), file: file(1) };
        let got = m.service().read(&opened, None).await;
        assert!(matches!(got, Err(FileError::NotFound(Missing::ShareLink))), "{got:?}");
    }
}
