//! The blob-store contract, run against both adapters: the local store in a temporary
//! directory, and the S3 store against a real S3 server (`s3s-fs`) started in this process on
//! 127.0.0.1 with its data in a temporary directory, so nothing needs to be installed.
//!
//! Each check is one async function taking a [`Fixture`]; `contract_suite!` turns each into a
//! test per adapter. Adapter-specific checks (multipart uploads, temporary files on disk,
//! where the S3 prefix puts objects) follow the suite.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{Duration, Utc};
use futures_util::TryStreamExt;
use tempfile::TempDir;
use workbench_files::{BlobError, BlobKey, BlobStore, ByteRange};
use workbench_storage::testing::{ACCESS_KEY, BUCKET, S3Server, SECRET_KEY};
use workbench_storage::{S3Settings, Secret, StorageUrl, open};

const MIB: usize = 1024 * 1024;

async fn start_s3_server() -> S3Server {
    S3Server::start().await
}

fn s3_settings(server: &S3Server) -> S3Settings {
    // The smallest part S3 allows, so that the multipart test stays small.
    server.settings(5 * MIB)
}

/// A store under test, a scratch directory for source files, and what keeps the store alive.
struct Fixture {
    store: Arc<dyn BlobStore>,
    scratch: TempDir,
    /// The local store's root, when the store is local.
    local_root: Option<PathBuf>,
    _local_dir: Option<TempDir>,
    s3: Option<S3Server>,
}

impl Fixture {
    async fn local() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("files");
        let store = open(&StorageUrl::Local(root.clone()), &S3Settings::default()).unwrap();
        Fixture {
            store,
            scratch: tempfile::tempdir().unwrap(),
            local_root: Some(root),
            _local_dir: Some(dir),
            s3: None,
        }
    }

    async fn s3() -> Self {
        let server = start_s3_server().await;
        // Under a prefix, so that the prefix handling is part of every check.
        let url = StorageUrl::parse(&format!("s3://{BUCKET}/tenant/files")).unwrap();
        let store = open(&url, &s3_settings(&server)).unwrap();
        Fixture { store, scratch: tempfile::tempdir().unwrap(), local_root: None, _local_dir: None, s3: Some(server) }
    }

    /// Writes `bytes` to a new source file and returns its path.
    fn source(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.scratch.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    async fn put(&self, key: &str, bytes: &[u8]) -> BlobKey {
        let key = BlobKey::parse(key).unwrap();
        let source = self.source(&format!("src-{}", key.as_str().replace('/', "_")), bytes);
        let info = self.store.put_file(&key, &source).await.unwrap();
        assert_eq!(info.size, bytes.len() as u64);
        key
    }
}

fn key(raw: &str) -> BlobKey {
    BlobKey::parse(raw).unwrap()
}

/// Deterministic bytes that do not repeat within any size used here.
fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// The whole body of a read, and how many chunks it came in.
async fn read_all(
    store: &dyn BlobStore,
    key: &BlobKey,
    range: Option<ByteRange>,
) -> Result<(Vec<u8>, usize), BlobError> {
    let read = store.get(key, range).await?;
    let expected = read.len();
    let chunks: Vec<bytes::Bytes> = read.body.try_collect().await?;
    let body: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
    assert_eq!(body.len() as u64, expected, "the body must be exactly the announced range");
    Ok((body, chunks.len()))
}

async fn listed(store: &dyn BlobStore, prefix: Option<&str>) -> Vec<(String, u64)> {
    let entries: Vec<_> = store.list(prefix.map(key)).try_collect().await.unwrap();
    let now = Utc::now();
    for entry in &entries {
        // Fresh blobs must look fresh, or the orphan sweep would take them for old ones.
        assert!(entry.last_modified > now - Duration::hours(1), "{entry:?} looks old");
        assert!(entry.last_modified <= now + Duration::minutes(5), "{entry:?} is in the future");
    }
    let mut out: Vec<(String, u64)> = entries.into_iter().map(|e| (e.key.to_string(), e.size)).collect();
    out.sort();
    out
}

async fn a_multi_mib_file_round_trips_streamed(f: &Fixture) {
    let bytes = pseudo_random(3 * MIB + 123, 1);
    let k = f.put("uploads/2026/01/big.bin", &bytes).await;
    let read = f.store.get(&k, None).await.unwrap();
    assert_eq!((read.size, read.range.clone()), (bytes.len() as u64, 0..bytes.len() as u64));
    drop(read);
    let (body, chunks) = read_all(&*f.store, &k, None).await.unwrap();
    assert!(body == bytes, "the bytes read back differ from the bytes stored");
    assert!(chunks > 1, "a 3 MiB blob should arrive in several chunks, not one buffer");
    // The source is the caller's: it is still there.
    assert!(f.scratch.path().join("src-uploads_2026_01_big.bin").exists());
}

async fn ranges_read_exactly_the_requested_bytes(f: &Fixture) {
    let bytes = pseudo_random(10_000, 2);
    let k = f.put("ranges/blob", &bytes).await;
    let cases = [
        (ByteRange::Bounded { first: 100, last: 199 }, 100..200),
        (ByteRange::Bounded { first: 0, last: 0 }, 0..1),
        (ByteRange::Bounded { first: 9_990, last: 20_000 }, 9_990..10_000),
        (ByteRange::From(9_000), 9_000..10_000),
        (ByteRange::Suffix(500), 9_500..10_000),
        (ByteRange::Suffix(50_000), 0..10_000),
    ];
    for (range, span) in cases {
        let read = f.store.get(&k, Some(range)).await.unwrap();
        assert_eq!(read.size, 10_000, "{range:?}");
        assert_eq!(read.range, span, "{range:?}");
        drop(read);
        let (body, _) = read_all(&*f.store, &k, Some(range)).await.unwrap();
        let (start, end) = (span.start as usize, span.end as usize);
        assert!(body == bytes[start..end], "{range:?} returned other bytes");
    }
}

async fn unsatisfiable_ranges_are_refused_with_the_size(f: &Fixture) {
    let k = f.put("ranges/small", &pseudo_random(10_000, 3)).await;
    for range in [
        ByteRange::From(10_000),
        ByteRange::Bounded { first: 20_000, last: 20_001 },
        ByteRange::Bounded { first: 10, last: 5 },
        ByteRange::Suffix(0),
    ] {
        match f.store.get(&k, Some(range)).await {
            Err(BlobError::InvalidRange { size: 10_000 }) => {}
            other => panic!("{range:?}: expected InvalidRange of 10000 bytes, got {other:?}"),
        }
    }
    assert!(matches!(f.store.get(&key("ranges/missing"), Some(ByteRange::From(0))).await, Err(BlobError::NotFound)));
}

async fn an_empty_blob_reads_empty_and_has_no_ranges(f: &Fixture) {
    let k = f.put("empty/zero", b"").await;
    let (body, _) = read_all(&*f.store, &k, None).await.unwrap();
    assert!(body.is_empty());
    assert!(matches!(f.store.get(&k, Some(ByteRange::From(0))).await, Err(BlobError::InvalidRange { size: 0 })));
}

async fn head_reports_size_and_time(f: &Fixture) {
    assert!(f.store.head(&key("head/missing")).await.unwrap().is_none());
    let k = f.put("head/blob", &pseudo_random(4_321, 4)).await;
    let info = f.store.head(&k).await.unwrap().unwrap();
    assert_eq!(info.size, 4_321);
    assert!(info.last_modified > Utc::now() - Duration::hours(1));
}

async fn delete_is_idempotent(f: &Fixture) {
    let k = f.put("delete/me", b"bytes").await;
    f.store.delete(&k).await.unwrap();
    assert!(f.store.head(&k).await.unwrap().is_none());
    assert!(matches!(f.store.get(&k, None).await, Err(BlobError::NotFound)));
    f.store.delete(&k).await.unwrap();
    f.store.delete(&key("delete/never-existed")).await.unwrap();
}

async fn list_finds_blobs_under_a_folder_prefix(f: &Fixture) {
    assert!(listed(&*f.store, None).await.is_empty());
    for (k, len) in [("a/one", 1), ("a/two", 2), ("a/sub/three", 3), ("ab/four", 4), ("b/five", 5)] {
        f.put(k, &pseudo_random(len, 5)).await;
    }
    let under_a = listed(&*f.store, Some("a")).await;
    assert_eq!(under_a, [("a/one".into(), 1), ("a/sub/three".into(), 3), ("a/two".into(), 2)]);
    assert_eq!(listed(&*f.store, Some("a/sub")).await, [("a/sub/three".into(), 3)]);
    assert!(listed(&*f.store, Some("nothing")).await.is_empty());
    assert_eq!(listed(&*f.store, None).await.len(), 5);
}

async fn a_put_replaces_the_previous_blob(f: &Fixture) {
    let k = f.put("replace/blob", b"first version").await;
    f.put("replace/blob", b"second").await;
    assert_eq!(read_all(&*f.store, &k, None).await.unwrap().0, b"second");
}

async fn a_failed_put_leaves_nothing_behind(f: &Fixture) {
    let missing = f.scratch.path().join("does-not-exist");
    let fresh = key("failed/fresh");
    assert!(matches!(f.store.put_file(&fresh, &missing).await, Err(BlobError::Unavailable(_))));
    assert!(f.store.head(&fresh).await.unwrap().is_none());

    // A source that cannot be read (a directory) fails too, and leaves nothing.
    let dir_source = f.scratch.path().join("a-directory");
    std::fs::create_dir(&dir_source).unwrap();
    assert!(f.store.put_file(&fresh, &dir_source).await.is_err());
    assert!(f.store.head(&fresh).await.unwrap().is_none());

    // Over an existing blob, a failed put keeps the old bytes.
    let existing = f.put("failed/existing", b"keep me").await;
    assert!(f.store.put_file(&existing, &missing).await.is_err());
    assert_eq!(read_all(&*f.store, &existing, None).await.unwrap().0, b"keep me");
    assert_eq!(listed(&*f.store, Some("failed")).await, [("failed/existing".into(), 7)]);
}

async fn nested_keys_round_trip_and_list_under_each_ancestor(f: &Fixture) {
    let k = f.put("x/y/z/w/deep.file.bin", b"deep").await;
    assert_eq!(read_all(&*f.store, &k, None).await.unwrap().0, b"deep");
    for ancestor in ["x", "x/y", "x/y/z", "x/y/z/w"] {
        assert_eq!(listed(&*f.store, Some(ancestor)).await, [("x/y/z/w/deep.file.bin".into(), 4)], "{ancestor}");
    }
    f.store.delete(&k).await.unwrap();
    assert!(listed(&*f.store, Some("x")).await.is_empty());
}

macro_rules! contract_suite {
    ($($check:ident),* $(,)?) => {
        mod local {
            $(
                #[tokio::test]
                async fn $check() {
                    super::$check(&super::Fixture::local().await).await;
                }
            )*
        }
        mod s3 {
            $(
                #[tokio::test]
                async fn $check() {
                    super::$check(&super::Fixture::s3().await).await;
                }
            )*
        }
    };
}

contract_suite!(
    a_multi_mib_file_round_trips_streamed,
    ranges_read_exactly_the_requested_bytes,
    unsatisfiable_ranges_are_refused_with_the_size,
    an_empty_blob_reads_empty_and_has_no_ranges,
    head_reports_size_and_time,
    delete_is_idempotent,
    list_finds_blobs_under_a_folder_prefix,
    a_put_replaces_the_previous_blob,
    a_failed_put_leaves_nothing_behind,
    nested_keys_round_trip_and_list_under_each_ancestor,
);

/// Files whose name marks them temporary, anywhere under `root`.
fn temporary_files(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.file_name().unwrap().to_string_lossy().contains('#') {
                found.push(path);
            }
        }
    }
    found
}

#[tokio::test]
async fn local_writes_leave_no_temporary_files() {
    let f = Fixture::local().await;
    f.put("t/ok", &pseudo_random(100_000, 6)).await;
    let _ = f.store.put_file(&key("t/failed"), &f.scratch.path().join("missing")).await;
    let root = f.local_root.as_deref().unwrap();
    assert!(temporary_files(root).is_empty(), "{:?}", temporary_files(root));
    // The blob is a plain file at the key's path.
    assert_eq!(std::fs::read(root.join("t/ok")).unwrap().len(), 100_000);
}

/// A local store keeps nested keys in directories; a directory is not a blob. (S3 has no
/// folders to test this on.)
#[tokio::test]
async fn local_folders_are_not_blobs() {
    let f = Fixture::local().await;
    let k = f.put("x/y/z/deep", b"deep").await;
    let folder = key("x/y");
    assert!(f.store.head(&folder).await.unwrap().is_none());
    assert!(matches!(f.store.get(&folder, None).await, Err(BlobError::NotFound)));
    f.store.delete(&folder).await.unwrap();
    assert!(f.store.head(&k).await.unwrap().is_some());
    // A key below a blob (a file where a directory would be) is simply missing.
    assert!(f.store.head(&key("x/y/z/deep/below")).await.unwrap().is_none());
    assert!(matches!(f.store.get(&key("x/y/z/deep/below"), None).await, Err(BlobError::NotFound)));
}

#[tokio::test]
async fn local_listing_ignores_temporary_and_foreign_files() {
    let f = Fixture::local().await;
    f.put("l/real", b"x").await;
    let root = f.local_root.as_deref().unwrap();
    std::fs::write(root.join("l/.real#0123.tmp"), b"half written").unwrap();
    std::fs::write(root.join("l/Not A Key"), b"someone else's").unwrap();
    assert_eq!(listed(&*f.store, None).await, [("l/real".into(), 1)]);
}

#[tokio::test]
async fn s3_large_files_go_up_as_multipart_uploads() {
    let f = Fixture::s3().await;
    let bytes = pseudo_random(12 * MIB + 7, 7);
    let k = f.put("multipart/large.bin", &bytes).await;
    let (body, _) = read_all(&*f.store, &k, None).await.unwrap();
    assert!(body == bytes, "the multipart blob reads back different");
    let (tail, _) = read_all(&*f.store, &k, Some(ByteRange::Suffix(1000))).await.unwrap();
    assert!(tail == bytes[bytes.len() - 1000..]);

    // S3 marks an object assembled from parts with an ETag ending in `-<parts>`: 12 MiB in
    // 5 MiB parts is three.
    let server = f.s3.as_ref().unwrap();
    let raw = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(BUCKET)
        .with_region("us-east-1")
        .with_endpoint(&server.endpoint)
        .with_allow_http(true)
        .with_access_key_id(ACCESS_KEY)
        .with_secret_access_key(SECRET_KEY)
        .build()
        .unwrap();
    let meta =
        object_store::ObjectStoreExt::head(&raw, &object_store::path::Path::from("tenant/files/multipart/large.bin"))
            .await
            .unwrap();
    let etag = meta.e_tag.unwrap();
    assert!(etag.trim_matches('"').ends_with("-3"), "not a 3-part upload: {etag}");

    // A small file is a single PUT: no part marker.
    f.put("multipart/small.bin", &pseudo_random(1000, 8)).await;
    let meta =
        object_store::ObjectStoreExt::head(&raw, &object_store::path::Path::from("tenant/files/multipart/small.bin"))
            .await
            .unwrap();
    assert!(!meta.e_tag.unwrap().contains('-'));
}

#[tokio::test]
async fn s3_objects_live_under_the_url_prefix() {
    let f = Fixture::s3().await;
    f.put("p/q.bin", b"prefixed").await;
    let server = f.s3.as_ref().unwrap();
    let on_disk = server.data.path().join(BUCKET).join("tenant/files/p/q.bin");
    assert_eq!(std::fs::read(on_disk).unwrap(), b"prefixed");

    // A store for the same bucket without the prefix sees the object under its full key, and
    // a store with another prefix does not see it at all.
    let bare = open(&StorageUrl::parse(&format!("s3://{BUCKET}")).unwrap(), &s3_settings(server)).unwrap();
    assert_eq!(listed(&*bare, None).await, [("tenant/files/p/q.bin".into(), 8)]);
    let other =
        open(&StorageUrl::parse(&format!("s3://{BUCKET}/tenant/other")).unwrap(), &s3_settings(server)).unwrap();
    assert!(listed(&*other, None).await.is_empty());
}

#[tokio::test]
async fn s3_wrong_credentials_are_unavailable_not_missing() {
    let server = start_s3_server().await;
    let settings = S3Settings { secret_access_key: Some(Secret::new("wrong")), ..s3_settings(&server) };
    let store = open(&StorageUrl::parse(&format!("s3://{BUCKET}")).unwrap(), &settings).unwrap();
    assert!(matches!(store.head(&key("any")).await, Err(BlobError::Unavailable(_))));
    assert!(matches!(store.get(&key("any"), None).await, Err(BlobError::Unavailable(_))));
}

/// The S3 client speaks TLS to an `https://` endpoint (AWS itself is only reached that way): the
/// first bytes it sends are a TLS handshake record, and the refused handshake is an unavailable
/// store rather than a panic for want of a crypto provider.
#[tokio::test]
async fn s3_over_https_opens_with_a_tls_handshake() {
    use tokio::io::AsyncReadExt;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("https://{}", listener.local_addr().unwrap());
    let first_bytes = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut head = [0u8; 3];
        socket.read_exact(&mut head).await.unwrap();
        head
    });
    let settings = S3Settings {
        endpoint: Some(endpoint),
        access_key_id: Some(ACCESS_KEY.into()),
        secret_access_key: Some(Secret::new(SECRET_KEY)),
        ..S3Settings::default()
    };
    let store = open(&StorageUrl::parse(&format!("s3://{BUCKET}")).unwrap(), &settings).unwrap();
    let answer = store.head(&key("any")).await;
    // A TLS record: content type 22 (handshake), protocol version 3.x.
    assert_eq!(first_bytes.await.unwrap()[..2], [0x16, 0x03]);
    assert!(matches!(answer, Err(BlobError::Unavailable(_))), "{answer:?}");
}
