//! Long-lived responses written outside actix-http's HTTP/1 dispatcher.
//!
//! The dispatcher keeps an 8 KiB read and an 8 KiB write buffer for as long as its connection
//! lives (`HW_BUFFER_SIZE` in actix-http 3, not configurable). For a request and its answer that
//! costs nothing; for a radio listener, who holds one response open for hours and receives a few
//! kilobytes every 200 ms, it was most of what the listener cost (15–19 KB, against Icecast's
//! 2 KB), and every chunk was copied into that write buffer before it reached the socket.
//!
//! So a handler that streams for a long time answers through the dispatcher like any other —
//! every middleware, the rate limit, the headers, the access-log line — with a response whose body
//! runs until the connection closes ([`until_close`]: `Connection: close`, no length), and
//! [claims](Handoff::claim) the connection with the writer that will produce that body. The
//! dispatcher writes the head and shuts the connection down; [`Connection`] declines to shut the
//! socket, the dispatcher is dropped with its buffers, and the socket goes to the writer, which
//! then costs only what it holds.
//!
//! Every connection the server accepts is a [`Connection`]; its [`Handoff`] is in the request's
//! connection data (`HttpRequest::conn_data`). Where no server of ours is underneath (actix's
//! test harness) there is none, and a handler that needs one answers `500`.

use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use actix_http::{HttpService, KeepAlive, Protocol, Request, error::DispatchError};
use actix_server::GracefulShutdownSignal;
use actix_service::{
    IntoServiceFactory, Service, ServiceFactory, ServiceFactoryExt, fn_factory, fn_service, map_config,
};
use actix_web::body::{MessageBody, None as NoBody};
use actix_web::dev::{AppConfig, Extensions};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use futures_util::future::LocalBoxFuture;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::problem::ApiError;

/// What writes a claimed connection's body, once the dispatcher has let go of the socket.
type Writer = Box<dyn FnOnce(TcpStream, Stopping) -> LocalBoxFuture<'static, ()>>;

/// Resolves when the server starts a graceful stop: a long-lived body ends then (its client
/// reconnects, to another instance) rather than hold the stop until its timeout.
#[derive(Debug, Clone)]
pub struct Stopping(GracefulShutdownSignal);

impl Stopping {
    pub async fn notified(&self) {
        self.0.notified().await;
    }
}

#[derive(Default)]
struct Slot {
    writer: Option<Writer>,
    socket: Option<TcpStream>,
    /// The dispatcher, when it waits for the client to send something: woken at the claim, so
    /// that it finds the end of the stream and lets go at once (a WebSocket client may well send
    /// nothing for minutes).
    reading: Option<Waker>,
}

/// One connection's way out of the dispatcher; see the module documentation.
#[derive(Clone, Default)]
pub struct Handoff(Rc<RefCell<Slot>>);

impl std::fmt::Debug for Handoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handoff").field("claimed", &self.is_claimed()).finish()
    }
}

impl Handoff {
    /// The handoff of the connection `req` came on.
    pub fn of(req: &HttpRequest) -> Result<Handoff, ApiError> {
        req.conn_data::<Handoff>()
            .cloned()
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no connection to take over: not Workbench's server")))
    }

    /// Takes the connection once the response's head is written: `writer` gets the socket (and
    /// the server's stop signal) and carries on until it returns. The response must be made with
    /// [`until_close`], or be a `101` whose body is empty.
    pub fn claim<F, Fut>(&self, writer: F)
    where
        F: FnOnce(TcpStream, Stopping) -> Fut + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let mut slot = self.0.borrow_mut();
        slot.writer = Some(Box::new(move |socket, stopping| Box::pin(writer(socket, stopping))));
        if let Some(dispatcher) = slot.reading.take() {
            dispatcher.wake();
        }
    }

    fn is_claimed(&self) -> bool {
        self.0.borrow().writer.is_some()
    }

    /// The writer and its socket, once the dispatcher is gone.
    pub(crate) fn take(&self) -> Option<(Writer, TcpStream)> {
        let mut slot = self.0.borrow_mut();
        match (slot.writer.take(), slot.socket.take()) {
            (Some(writer), Some(socket)) => Some((writer, socket)),
            _ => None,
        }
    }
}

/// A `200` (or `builder`'s status) whose body runs until the connection closes: no length, no
/// chunks, `Connection: close`. What the claimed connection's writer sends is the body.
pub fn until_close(mut builder: HttpResponseBuilder) -> HttpResponse {
    builder.force_close().body(NoBody::new())
}

/// An accepted socket as the dispatcher sees it: the socket itself until a handler claims the
/// connection. After that, reading finds the end of the stream (the dispatcher must not consume
/// what the client sends next: a WebSocket's frames, or lingering after the answer), shutting it
/// down leaves it open, and dropping it hands it over.
#[derive(Debug)]
pub struct Connection {
    socket: Option<TcpStream>,
    handoff: Handoff,
}

impl Connection {
    pub(crate) fn new(socket: TcpStream, handoff: Handoff) -> Self {
        Self { socket: Some(socket), handoff }
    }

    pub(crate) fn handoff(&self) -> &Handoff {
        &self.handoff
    }

    fn socket(&mut self) -> Pin<&mut TcpStream> {
        // Present until drop: only `Drop` takes it.
        Pin::new(self.socket.as_mut().expect("the socket is held until the connection is dropped"))
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if self.handoff.is_claimed() {
            self.handoff.0.borrow_mut().socket = self.socket.take();
        }
    }
}

impl AsyncRead for Connection {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.handoff.is_claimed() {
            return Poll::Ready(Ok(()));
        }
        let read = this.socket().poll_read(cx, buf);
        if read.is_pending() {
            let mut slot = this.handoff.0.borrow_mut();
            if !slot.reading.as_ref().is_some_and(|waker| waker.will_wake(cx.waker())) {
                slot.reading = Some(cx.waker().clone());
            }
        }
        read
    }
}

impl AsyncWrite for Connection {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.get_mut().socket().poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().socket().poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.socket.as_ref().is_some_and(AsyncWrite::is_write_vectored)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().socket().poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.handoff.is_claimed() {
            // The dispatcher is done with its part (the head); the socket stays open for the
            // writer that claimed it.
            return Poll::Ready(Ok(()));
        }
        this.socket().poll_shutdown(cx)
    }
}

/// `socket` registered afresh with the runtime's I/O driver: no waker of an earlier reader or
/// writer left in it.
fn reregistered(socket: TcpStream) -> io::Result<TcpStream> {
    // `into_std` deregisters it and leaves it non-blocking, as `from_std` wants it.
    TcpStream::from_std(socket.into_std()?)
}

/// The service every accepted socket goes to: HTTP/1 over a [`Connection`] (what actix-web's
/// `HttpServer` builds, with the timeouts it defaults to), then the claimed connection's writer.
pub(crate) fn connections<I, S, B>(
    app: I,
    addr: SocketAddr,
    graceful: GracefulShutdownSignal,
) -> impl ServiceFactory<TcpStream, Config = (), Response = (), Error = DispatchError, InitError = ()>
where
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: std::fmt::Debug,
    S::Response: Into<actix_http::Response<B>> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    B: MessageBody + 'static,
{
    let dispatcher_shutdown = graceful.clone();
    let http = HttpService::build()
        .graceful_shutdown_signal(move || {
            let signal = dispatcher_shutdown.clone();
            async move { signal.notified().await }
        })
        .keep_alive(KeepAlive::default())
        .client_request_timeout(Duration::from_secs(5))
        .client_disconnect_timeout(Duration::from_secs(1))
        .local_addr(addr)
        .on_connect_ext(|connection: &Connection, data: &mut Extensions| {
            data.insert(connection.handoff().clone());
        })
        .finish(map_config(app.into_factory().map_err(|e| e.into().error_response()), |_| AppConfig::default()));
    fn_factory(move || {
        let http = http.new_service(());
        let graceful = graceful.clone();
        async move {
            let http = Rc::new(http.await?);
            Ok(fn_service(move |socket: TcpStream| {
                let http = Rc::clone(&http);
                let graceful = graceful.clone();
                async move {
                    // A compressed or streamed body goes out in several writes. With Nagle's
                    // algorithm on, every write after the first waited for the client's delayed
                    // ACK on a kept-alive connection: 40 ms per gzip or br answer.
                    let _ = socket.set_nodelay(true);
                    let peer = socket.peer_addr().ok();
                    let handoff = Handoff::default();
                    // Boxed, so that the dispatcher's state is freed when it is done rather than
                    // held in this future for as long as a claimed connection lives.
                    let served =
                        Box::pin(http.call((Connection::new(socket, handoff.clone()), Protocol::Http1, peer))).await;
                    if let Some((writer, socket)) = handoff.take() {
                        // The writer may outlive this task (a radio listener's does): its socket
                        // must not keep it. The dispatcher's last read left this task's waker in
                        // the socket's registration, and a waker holds its task: every listener
                        // kept its finished connection task (about 700 bytes) for as long as it
                        // listened. A registration of its own holds none.
                        match reregistered(socket) {
                            Ok(socket) => writer(socket, Stopping(graceful)).await,
                            Err(e) => tracing::warn!(error = %e, "cannot hand a connection over"),
                        }
                    }
                    served
                }
            }))
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::task::Wake;

    use tokio::net::TcpListener;

    use super::*;

    /// A waker that only counts as a reference to whoever made it.
    struct Task;

    impl Wake for Task {
        fn wake(self: Arc<Self>) {}
    }

    #[tokio::test]
    async fn a_socket_handed_over_holds_no_waker_of_who_read_it_before() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (socket, _) = listener.accept().await.unwrap();
        // The dispatcher's last read: nothing to read yet, so its waker is kept for later.
        let nothing = socket.try_read(&mut [0; 8]).unwrap_err();
        assert_eq!(nothing.kind(), io::ErrorKind::WouldBlock);
        let task = Arc::new(Task);
        let waker = Waker::from(task.clone());
        assert!(socket.poll_read_ready(&mut Context::from_waker(&waker)).is_pending());
        drop(waker);
        assert_eq!(Arc::strong_count(&task), 2, "the socket's registration holds the reader's waker");

        let socket = reregistered(socket).unwrap();
        assert_eq!(Arc::strong_count(&task), 1, "handed over, it holds no one");
        assert!(socket.peer_addr().is_ok(), "and it is the same connection");
    }
}
