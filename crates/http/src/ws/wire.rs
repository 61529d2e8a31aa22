//! The WebSocket on the socket itself, once the handshake's `101` has gone out through the
//! dispatcher and the connection was handed off ([`crate::handoff`]).
//!
//! Frames are read and written with actix-http's WebSocket codec, and nothing is buffered that is
//! not in use: an idle socket holds no read buffer (it waits for readability first, and lets go
//! of the buffer once the bytes in it are decoded) and no write buffer (a frame is encoded, written
//! and let go). Behind `actix-ws`, the dispatcher kept 16 KiB of buffers per socket for its whole
//! life, and the session a channel and a payload stream of its own: most of a socket's 28.6 KB.

use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, ready};

use actix_http::ws::{CloseReason, Codec, Frame, Item, Message, ProtocolError};
use actix_web::web::{Buf, Bytes, BytesMut};
use bytestring::ByteString;
use tokio::io::AsyncWrite;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_util::codec::{Decoder, Encoder};
use workbench_realtime::{Mailbox, Transmit, Transmitted};

/// What a client sends, continuation frames put together.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    Text(ByteString),
    Binary(Bytes),
    Ping(Bytes),
    Pong(Bytes),
    Close(Option<CloseReason>),
}

/// At most this much of queued frames goes out in one write.
const BATCH_BYTES: usize = 32 * 1024;

/// How much is read at a time: a chat message fits, and a larger frame takes several reads.
const READ_CHUNK: usize = 2048;

/// The reading half: frames in, whole messages out.
#[derive(Debug)]
pub struct Reader {
    half: OwnedReadHalf,
    codec: Codec,
    /// Bytes read and not yet decoded; no allocation while there are none.
    buffered: BytesMut,
    /// A message arriving in continuation frames: whether it is text, and its parts so far.
    continued: Option<(bool, BytesMut)>,
    /// The largest message, in one frame or put together.
    max_bytes: usize,
}

/// The writing half: messages out as frames. Shared (cheap to clone) between the socket's task
/// and the hub, which writes a frame straight to the socket when nothing is ahead of it
/// ([`Transmit`]); the lock is held only while bytes are handed to the kernel, never across a
/// wait.
#[derive(Debug, Clone)]
pub struct Writer(Arc<Mutex<Out>>);

#[derive(Debug)]
struct Out {
    half: OwnedWriteHalf,
    codec: Codec,
    /// Encoded bytes the socket has not taken yet: a frame whose writing waits for room (or was
    /// interrupted by a `select!`) goes out before anything else, so that frames never
    /// interleave.
    unsent: BytesMut,
    closed: bool,
}

/// Splits a handed-off socket into its reading and writing halves; messages (and frames) over
/// `max_bytes` are refused with [`ProtocolError::Overflow`].
pub fn split(socket: TcpStream, max_bytes: usize) -> (Reader, Writer) {
    let (read, write) = socket.into_split();
    let reader = Reader {
        half: read,
        codec: Codec::new().max_size(max_bytes),
        buffered: BytesMut::new(),
        continued: None,
        max_bytes,
    };
    let out = Out { half: write, codec: Codec::new().max_size(max_bytes), unsent: BytesMut::new(), closed: false };
    (reader, Writer(Arc::new(Mutex::new(out))))
}

impl Reader {
    /// The next message; `None` when the client went. Cancel-safe: what was read stays buffered.
    pub async fn next(&mut self) -> Option<Result<Incoming, ProtocolError>> {
        loop {
            if !self.buffered.is_empty() {
                match self.codec.decode(&mut self.buffered) {
                    Ok(Some(frame)) => match self.assemble(frame) {
                        Ok(Some(message)) => {
                            self.release();
                            return Some(Ok(message));
                        }
                        Ok(None) => continue,
                        Err(e) => return Some(Err(e)),
                    },
                    Ok(None) => {}
                    Err(e) => return Some(Err(e)),
                }
            }
            // Waiting holds no buffer: it is reserved only once there is something to read.
            if let Err(e) = self.half.readable().await {
                return Some(Err(ProtocolError::Io(e)));
            }
            // Read on the stack, and keep only what arrived: a pong or a short message costs
            // its own few bytes, not a chunk's reservation. Every socket's pong arrives within
            // the same moment, and the allocator would keep the high-water mark of them all.
            let mut chunk = [0u8; READ_CHUNK];
            match self.half.try_read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buffered.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Some(Err(ProtocolError::Io(e))),
            }
        }
    }

    /// Lets go of the read buffer once everything in it was decoded.
    fn release(&mut self) {
        if self.buffered.is_empty() && self.buffered.capacity() > 0 {
            self.buffered = BytesMut::new();
        }
    }

    fn assemble(&mut self, frame: Frame) -> Result<Option<Incoming>, ProtocolError> {
        Ok(Some(match frame {
            Frame::Text(bytes) => Incoming::Text(text(bytes)?),
            Frame::Binary(bytes) => Incoming::Binary(bytes),
            Frame::Ping(bytes) => Incoming::Ping(bytes),
            Frame::Pong(bytes) => Incoming::Pong(bytes),
            Frame::Close(reason) => Incoming::Close(reason),
            Frame::Continuation(item) => return self.continue_with(item),
        }))
    }

    fn continue_with(&mut self, item: Item) -> Result<Option<Incoming>, ProtocolError> {
        let (first, is_text, bytes, last) = match item {
            Item::FirstText(bytes) => (true, true, bytes, false),
            Item::FirstBinary(bytes) => (true, false, bytes, false),
            Item::Continue(bytes) => (false, false, bytes, false),
            Item::Last(bytes) => (false, false, bytes, true),
        };
        if first {
            if self.continued.is_some() {
                return Err(ProtocolError::ContinuationStarted);
            }
            self.continued = Some((is_text, BytesMut::from(&bytes[..])));
            return Ok(None);
        }
        let Some((_, parts)) = self.continued.as_mut() else {
            return Err(ProtocolError::ContinuationNotStarted);
        };
        if parts.len() + bytes.len() > self.max_bytes {
            self.continued = None;
            return Err(ProtocolError::Overflow);
        }
        parts.extend_from_slice(&bytes);
        if !last {
            return Ok(None);
        }
        let Some((is_text, whole)) = self.continued.take() else { return Ok(None) };
        let whole = whole.freeze();
        Ok(Some(if is_text { Incoming::Text(text(whole)?) } else { Incoming::Binary(whole) }))
    }
}

fn text(bytes: Bytes) -> Result<ByteString, ProtocolError> {
    ByteString::try_from(bytes)
        .map_err(|_| ProtocolError::Io(io::Error::new(io::ErrorKind::InvalidData, "a text frame that is not UTF-8")))
}

impl Writer {
    fn lock(&self) -> MutexGuard<'_, Out> {
        // Nothing panics while holding it, so a poisoned lock still guards a consistent writer.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub async fn text(&self, text: ByteString) -> io::Result<()> {
        self.send(Message::Text(text)).await
    }

    /// Writes what `queue` holds (and what an earlier write left) until it is empty, up to
    /// [`BATCH_BYTES`] of frames per system call: a burst of events (a room's, presence's) costs
    /// one write, not one per frame. Frames are taken from the queue only while the writer is
    /// held, so that one taken is written before any the hub writes through. Cancel-safe.
    pub async fn write_queued(&self, queue: &mut Mailbox) -> io::Result<()> {
        poll_fn(|cx| {
            let mut out = self.lock();
            if out.closed {
                return Poll::Ready(Err(closing()));
            }
            loop {
                ready!(out.poll_flush(cx))?;
                let mut taken = false;
                while out.unsent.len() < BATCH_BYTES {
                    let Some(text) = queue.try_recv() else { break };
                    out.encode(Message::Text(text))?;
                    taken = true;
                }
                if !taken {
                    out.release();
                    return Poll::Ready(Ok(()));
                }
            }
        })
        .await
    }

    pub async fn ping(&self, bytes: &[u8]) -> io::Result<()> {
        self.send(Message::Ping(Bytes::copy_from_slice(bytes))).await
    }

    pub async fn pong(&self, bytes: &[u8]) -> io::Result<()> {
        self.send(Message::Pong(Bytes::copy_from_slice(bytes))).await
    }

    /// Sends the close frame (once) and ends the writing side.
    pub async fn close(&self, reason: Option<CloseReason>) -> io::Result<()> {
        {
            let mut out = self.lock();
            if out.closed {
                return Ok(());
            }
            // From here the hub writes nothing through: whatever follows the close frame would
            // be a protocol error.
            out.closed = true;
            out.encode(Message::Close(reason))?;
        }
        poll_fn(|cx| {
            let mut out = self.lock();
            ready!(out.poll_flush(cx))?;
            out.release();
            Pin::new(&mut out.half).poll_shutdown(cx)
        })
        .await
    }

    async fn send(&self, message: Message) -> io::Result<()> {
        let mut message = Some(message);
        poll_fn(|cx| {
            let mut out = self.lock();
            if out.closed {
                return Poll::Ready(Err(closing()));
            }
            // First what an earlier write left, so that frames stay whole and in order.
            ready!(out.poll_flush(cx))?;
            if let Some(message) = message.take() {
                out.encode(message)?;
            }
            ready!(out.poll_flush(cx))?;
            out.release();
            Poll::Ready(Ok(()))
        })
        .await
    }
}

fn closing() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the socket is closing")
}

impl Out {
    fn encode(&mut self, message: Message) -> io::Result<()> {
        self.codec
            .encode(message, &mut self.unsent)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))
    }

    /// Writes out what is unsent, as far as the socket takes it now.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.unsent.is_empty() {
            match ready!(Pin::new(&mut self.half).poll_write(cx, &self.unsent)) {
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Ok(n) => self.unsent.advance(n),
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Lets go of the write buffer once it is all out: an idle socket holds none.
    fn release(&mut self) {
        if self.unsent.is_empty() && self.unsent.capacity() > 0 {
            self.unsent = BytesMut::new();
        }
    }
}

impl Transmit for Writer {
    /// One system call, no allocation: the frame's header from the stack and its text from the
    /// frame itself, as one vectored write. What the socket does not take is kept for the
    /// socket's task to finish.
    fn transmit(&self, frame: &ByteString) -> Transmitted {
        let Ok(mut out) = self.0.try_lock() else { return Transmitted::Busy };
        if out.closed || !out.unsent.is_empty() {
            return Transmitted::Busy;
        }
        let (head, head_len) = text_header(frame.len());
        let head = &head[..head_len];
        let body = frame.as_bytes();
        match out.half.try_write_vectored(&[IoSlice::new(head), IoSlice::new(body)]) {
            Ok(n) if n == head.len() + body.len() => Transmitted::Written,
            Ok(n) => {
                if n < head.len() {
                    out.unsent.extend_from_slice(&head[n..]);
                    out.unsent.extend_from_slice(body);
                } else {
                    out.unsent.extend_from_slice(&body[n - head.len()..]);
                }
                Transmitted::Partly
            }
            // Full, or failing: the socket's task meets the error when it writes.
            Err(_) => Transmitted::Busy,
        }
    }
}

/// The header of a server's (unmasked) final text frame of `len` bytes, and how long it is.
fn text_header(len: usize) -> ([u8; 10], usize) {
    const FIN_TEXT: u8 = 0x80 | 0x1;
    let mut head = [0u8; 10];
    head[0] = FIN_TEXT;
    if len < 126 {
        head[1] = len as u8;
        (head, 2)
    } else if let Ok(len) = u16::try_from(len) {
        head[1] = 126;
        head[2..4].copy_from_slice(&len.to_be_bytes());
        (head, 4)
    } else {
        head[1] = 127;
        head[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        (head, 10)
    }
}

#[cfg(test)]
mod tests {
    use actix_http::ws::{CloseCode, Item};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A server-side pair of halves, and the client's end of the connection.
    async fn connected(max_bytes: usize) -> (Reader, Writer, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let (reader, writer) = split(server, max_bytes);
        (reader, writer, client)
    }

    /// Frames as a client sends them (masked).
    fn client_frames(messages: Vec<Message>) -> BytesMut {
        let mut codec = Codec::new().client_mode();
        let mut out = BytesMut::new();
        for message in messages {
            codec.encode(message, &mut out).unwrap();
        }
        out
    }

    #[tokio::test]
    async fn messages_arrive_whole_and_the_read_buffer_goes_with_them() {
        let (mut reader, _writer, mut client) = connected(1024).await;
        let frames = client_frames(vec![
            Message::Text("hello".into()),
            Message::Continuation(Item::FirstText(Bytes::from_static(b"in "))),
            Message::Continuation(Item::Continue(Bytes::from_static(b"three "))),
            Message::Continuation(Item::Last(Bytes::from_static(b"parts"))),
            Message::Ping(Bytes::from_static(b"p")),
        ]);
        client.write_all(&frames).await.unwrap();
        assert_eq!(reader.next().await.unwrap().unwrap(), Incoming::Text("hello".into()));
        assert_eq!(reader.next().await.unwrap().unwrap(), Incoming::Text("in three parts".into()));
        assert_eq!(reader.next().await.unwrap().unwrap(), Incoming::Ping(Bytes::from_static(b"p")));
        assert_eq!(reader.buffered.capacity(), 0, "an idle socket holds no read buffer");
        drop(client);
        assert!(reader.next().await.is_none(), "the client went");
    }

    #[tokio::test]
    async fn a_message_over_the_limit_is_refused_in_one_frame_or_in_parts() {
        let (mut reader, _writer, mut client) = connected(8).await;
        client.write_all(&client_frames(vec![Message::Text("far too long".into())])).await.unwrap();
        assert!(matches!(reader.next().await, Some(Err(ProtocolError::Overflow))));

        let (mut reader, _writer, mut client) = connected(8).await;
        let parts = client_frames(vec![
            Message::Continuation(Item::FirstText(Bytes::from_static(b"12345"))),
            Message::Continuation(Item::Last(Bytes::from_static(b"67890"))),
        ]);
        client.write_all(&parts).await.unwrap();
        assert!(matches!(reader.next().await, Some(Err(ProtocolError::Overflow))));
    }

    #[tokio::test]
    async fn text_that_is_not_utf8_is_an_error() {
        let (mut reader, _writer, mut client) = connected(64).await;
        let mut codec = Codec::new().client_mode();
        let mut out = BytesMut::new();
        // A text frame's opcode around bytes that are not UTF-8.
        codec.encode(Message::Binary(Bytes::from_static(&[0xff, 0xfe])), &mut out).unwrap();
        out[0] = (out[0] & 0xf0) | 0x1;
        client.write_all(&out).await.unwrap();
        assert!(matches!(reader.next().await, Some(Err(ProtocolError::Io(_)))));
    }

    #[tokio::test]
    async fn frames_go_out_whole_and_the_close_frame_ends_the_writing() {
        let (_reader, writer, mut client) = connected(1024).await;
        writer.text("hi".into()).await.unwrap();
        let reason = CloseReason { code: CloseCode::Other(4008), description: Some("slow".into()) };
        writer.close(Some(reason.clone())).await.unwrap();
        assert!(writer.text("late".into()).await.is_err(), "nothing after the close frame");
        let mut received = Vec::new();
        client.read_to_end(&mut received).await.unwrap();
        let mut codec = Codec::new().client_mode();
        let mut received = BytesMut::from(&received[..]);
        assert_eq!(codec.decode(&mut received).unwrap(), Some(Frame::Text(Bytes::from_static(b"hi"))));
        assert_eq!(codec.decode(&mut received).unwrap(), Some(Frame::Close(Some(reason))));
        assert_eq!(writer.lock().unsent.capacity(), 0, "no write buffer kept");
    }

    /// What the client reads until `frames` frames are decoded.
    async fn read_frames(client: &mut TcpStream, frames: usize) -> Vec<Frame> {
        let mut codec = Codec::new().client_mode().max_size(1 << 20);
        let mut buffered = BytesMut::new();
        let mut out = Vec::new();
        while out.len() < frames {
            if let Some(frame) = codec.decode(&mut buffered).unwrap() {
                out.push(frame);
                continue;
            }
            let mut chunk = [0u8; 8192];
            let n = client.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the server's side ended after {} frames", out.len());
            buffered.extend_from_slice(&chunk[..n]);
        }
        out
    }

    #[test]
    fn a_frame_header_written_through_is_the_codec_s() {
        for len in [0, 1, 125, 126, 127, 65_535, 65_536, 70_000] {
            let mut encoded = BytesMut::new();
            Codec::new().max_size(1 << 20).encode(Message::Text("x".repeat(len).into()), &mut encoded).unwrap();
            let (head, head_len) = text_header(len);
            assert_eq!(&encoded[..head_len], &head[..head_len], "a text frame of {len} bytes");
            assert_eq!(encoded.len(), head_len + len);
        }
    }

    #[tokio::test]
    async fn a_frame_written_through_arrives_whole_between_the_task_s_own() {
        let (_reader, writer, mut client) = connected(1024).await;
        writer.text("first".into()).await.unwrap();
        assert_eq!(writer.transmit(&"through".into()), Transmitted::Written);
        writer.ping(b"p").await.unwrap();
        assert_eq!(
            read_frames(&mut client, 3).await,
            [
                Frame::Text(Bytes::from_static(b"first")),
                Frame::Text(Bytes::from_static(b"through")),
                Frame::Ping(Bytes::from_static(b"p")),
            ]
        );
    }

    #[tokio::test]
    async fn nothing_is_written_through_after_the_close_frame() {
        let (_reader, writer, mut client) = connected(1024).await;
        writer.close(None).await.unwrap();
        assert_eq!(writer.transmit(&"late".into()), Transmitted::Busy);
        let mut received = Vec::new();
        client.read_to_end(&mut received).await.unwrap();
        let mut received = BytesMut::from(&received[..]);
        assert_eq!(Codec::new().client_mode().decode(&mut received).unwrap(), Some(Frame::Close(None)));
        assert!(received.is_empty(), "nothing after the close frame");
    }

    #[tokio::test]
    async fn what_a_full_socket_did_not_take_goes_out_first_and_queued_frames_after_it() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut client = socket.connect(listener.local_addr().unwrap()).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let (_reader, writer) = split(server, 1 << 20);
        let hub = workbench_realtime::Hub::new(
            Arc::new(workbench_broadcast::LocalBroadcast::new()),
            workbench_realtime::HubConfig::default(),
        );
        let principal = workbench_users::Principal {
            id: workbench_users::UserId(1),
            role: workbench_users::Role::User,
            status: workbench_users::UserStatus::Active,
            token_generation: 0,
        };
        let (mut connection, _) = hub.register(&principal).unwrap();
        let id = connection.id;
        connection.queue.write_through(Arc::new(writer.clone()));
        // Frames written through while the client reads nothing, until the socket is full.
        let big: ByteString = "y".repeat(60_000).into();
        let mut through = 0;
        let partly = loop {
            match writer.transmit(&big) {
                Transmitted::Written => through += 1,
                other => break other,
            }
            assert!(through < 1000, "a socket whose reader reads nothing fills up");
        };
        // Mostly the last frame goes in part; when a whole frame happened to fill the socket
        // exactly, the next one is refused whole instead.
        let partial = match partly {
            Transmitted::Partly => {
                assert!(!writer.lock().unsent.is_empty(), "the rest of the frame that went in part was kept");
                1
            }
            other => {
                assert_eq!(other, Transmitted::Busy);
                0
            }
        };
        assert_eq!(writer.transmit(&"after".into()), Transmitted::Busy, "nothing overtakes the rest");
        assert!(hub.reply(id, &"queued".into()));
        let flushing = tokio::spawn({
            let writer = writer.clone();
            async move {
                assert!(connection.queue.ready().await);
                writer.write_queued(&mut connection.queue).await
            }
        });
        let frames = read_frames(&mut client, through + partial + 1).await;
        flushing.await.unwrap().unwrap();
        let whole = Frame::Text(big.as_bytes().clone());
        assert!(frames[..through + partial].iter().all(|f| *f == whole), "whole frames");
        assert_eq!(frames[through + partial], Frame::Text(Bytes::from_static(b"queued")));
        assert_eq!(writer.lock().unsent.capacity(), 0, "the write buffer is let go once empty");
    }
}
