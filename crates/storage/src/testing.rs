//! A real S3 server for tests (`s3s-fs`), started in the test process on 127.0.0.1 with its data
//! in a temporary directory, so that the S3 adapter is exercised over HTTP with nothing installed.

use tempfile::TempDir;

use crate::{S3Settings, Secret};

/// The bucket the server is started with.
pub const BUCKET: &str = "workbench-test";
pub const ACCESS_KEY: &str = "test-access-key";
pub const SECRET_KEY: &str = "test-secret-key";

/// An S3 server on a random local port, serving a temporary directory; stopped when dropped.
#[derive(Debug)]
pub struct S3Server {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    /// Where the objects are: `<data>/<bucket>/<key>`.
    pub data: TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl S3Server {
    /// Starts a server with [`BUCKET`] created, on the current Tokio runtime.
    pub async fn start() -> Self {
        let data = tempfile::tempdir().expect("a temporary directory");
        std::fs::create_dir(data.path().join(BUCKET)).expect("the bucket's directory");
        let fs = s3s_fs::FileSystem::new(data.path()).expect("an s3s-fs file system");
        let mut builder = s3s::service::S3ServiceBuilder::new(fs);
        builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = builder.build();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a local port");
        let endpoint = format!("http://{}", listener.local_addr().expect("a bound address"));
        let task = tokio::spawn(async move {
            let http = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            loop {
                let Ok((socket, _)) = listener.accept().await else { continue };
                let connection =
                    http.serve_connection(hyper_util::rt::TokioIo::new(socket), service.clone()).into_owned();
                tokio::spawn(async move {
                    let _ = connection.await;
                });
            }
        });
        Self { endpoint, data, task }
    }

    /// Settings that reach this server, with multipart uploads from `part_size` bytes on.
    pub fn settings(&self, part_size: usize) -> S3Settings {
        S3Settings {
            endpoint: Some(self.endpoint.clone()),
            region: Some("us-east-1".into()),
            access_key_id: Some(ACCESS_KEY.into()),
            secret_access_key: Some(Secret::new(SECRET_KEY)),
            multipart_threshold: part_size as u64,
            multipart_part_size: part_size,
        }
    }
}
