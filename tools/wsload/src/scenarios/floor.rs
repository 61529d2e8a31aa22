//! `floor`: the room's fan-out with no server at all, to tell what the kernel and this client
//! cost on the machine from what the server adds.
//!
//! M loopback connections are opened to a listener of this process. A sender thread, pinned to
//! the server's CPU (`--sender-cpu`), writes one room message, encoded once as the server encodes
//! it (a text frame: header and JSON in one `writev`), to every connection in turn: no store, no
//! bus, no hub, no runtime. The receiving side is `room`'s own (a task per socket, tungstenite,
//! the event parsed), on this process's CPU. The time until the last connection has the message
//! is measured per round, as `room` measures it. On loopback the sender's CPU also runs each
//! receiving socket's TCP input and the wake-up of its reader: they cost the server's CPU in
//! `room` too, and are in this floor.

use std::io::{self, IoSlice, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use serde_json::{Value, json};
use tokio::net::TcpSocket;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

use super::room::{Round, Rounds, content, parse_content};
use super::shared::{close_all, round2};
use crate::conn::{End, Event, Handler, Wire, loopback_sources, small_config};
use crate::log;
use crate::report::{emit, now_us, row};

#[derive(Debug, Args)]
pub struct FloorArgs {
    /// `members` is the connections the message is written to.
    #[command(flatten)]
    pub rounds: Rounds,
    /// The CPU the sender thread runs on (the server's in `ws-bench`); unpinned when absent.
    #[arg(long)]
    pub sender_cpu: Option<usize>,
}

/// The room a floor message names: any slug the receivers are told to count.
const ROOM: &str = "floor";

#[derive(Debug)]
struct Count {
    round: Mutex<Round>,
    disconnects: AtomicU64,
    /// Set once the rounds are over: the sockets' ends after that are ours.
    closing: AtomicBool,
}

impl Handler for Count {
    fn on_event(&self, _me: i64, ev: &Event, at_us: i64) {
        if ev.kind != "chat.message" || ev.data.room.as_deref() != Some(ROOM) {
            return;
        }
        let Some((rep, _)) = ev.data.content.as_deref().and_then(parse_content) else { return };
        let mut round = self.round.lock().unwrap_or_else(PoisonError::into_inner);
        if rep == round.rep {
            round.arrivals.push(at_us);
        }
    }

    fn on_end(&self, _me: i64, end: &End) {
        if *end != End::Closed && !self.closing.load(Ordering::Relaxed) {
            self.disconnects.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A chat message event as the server sends it to a room's members, `rep` sent at `send_us`.
pub fn message_event(rep: u32, send_us: i64) -> String {
    let created_at = chrono::DateTime::from_timestamp_micros(send_us)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    json!({"type": "chat.message", "data": {
        "id": 1_000_000 + i64::from(rep), "room": ROOM, "sender_id": 20_000, "recipient_id": null,
        "content": content(rep, send_us), "created_at": created_at, "edited_at": null,
        "deleted_at": null, "reactions": [], "attachments": [],
    }})
    .to_string()
}

/// The header of an unmasked (server to client), final text frame of `len` bytes.
pub fn text_frame_header(len: usize) -> Vec<u8> {
    let header = FrameHeader { opcode: OpCode::Data(Data::Text), ..FrameHeader::default() };
    let mut out = Vec::with_capacity(header.len(len as u64));
    header.format(len as u64, &mut out).expect("a Vec takes every byte");
    out
}

/// Writes every message it is handed to every socket, header and body in one `writev` each, and
/// answers with how long the writing took.
fn sender(
    sockets: &[std::net::TcpStream],
    cpu: Option<usize>,
    messages: &mpsc::Receiver<String>,
    done: &UnboundedSender<Duration>,
) {
    if let Some(cpu) = cpu {
        let mut set = rustix::thread::CpuSet::new();
        set.set(cpu);
        if let Err(e) = rustix::thread::sched_setaffinity(None, &set) {
            log!("floor: cannot pin the sender to CPU {cpu}: {e}");
        }
    }
    for body in messages {
        let header = text_frame_header(body.len());
        let started = Instant::now();
        for mut socket in sockets {
            if let Err(e) = write_frame(&mut socket, &header, body.as_bytes()) {
                log!("floor: a write failed: {e}");
            }
        }
        if done.send(started.elapsed()).is_err() {
            return;
        }
    }
}

fn write_frame(socket: &mut impl Write, header: &[u8], body: &[u8]) -> io::Result<()> {
    let total = header.len() + body.len();
    let n = socket.write_vectored(&[IoSlice::new(header), IoSlice::new(body)])?;
    if n < total {
        // A short write (the socket's buffer was full): the rest, in order.
        let rest: Vec<u8> = header.iter().chain(body).skip(n).copied().collect();
        socket.write_all(&rest)?;
    }
    Ok(())
}

pub async fn run(a: &FloorArgs, sources: u8, out: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("floor: listening on loopback")?;
    let addr = listener.local_addr()?;
    let members = a.rounds.members;
    if members == 0 {
        bail!("need at least one member");
    }
    let accepting = tokio::task::spawn_blocking({
        move || -> io::Result<Vec<std::net::TcpStream>> {
            let mut accepted = Vec::with_capacity(members);
            while accepted.len() < members {
                let (socket, _) = listener.accept()?;
                socket.set_nodelay(true)?;
                accepted.push(socket);
            }
            Ok(accepted)
        }
    });
    let count = Arc::new(Count {
        round: Mutex::new(Round::none()),
        disconnects: AtomicU64::new(0),
        closing: AtomicBool::new(false),
    });
    let wire = Arc::new(Wire::default());
    let started = Instant::now();
    let sources = loopback_sources(sources.max(1));
    let mut conns = Vec::with_capacity(members);
    for n in 0..members {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(sources[n % sources.len()].into(), 0))?;
        let stream = socket.connect(addr).await.with_context(|| format!("floor: connection {n}"))?;
        stream.set_nodelay(true)?;
        let ws = WebSocketStream::from_raw_socket(stream, Role::Client, Some(small_config())).await;
        conns.push(crate::conn::spawn(ws, n as i64, Arc::clone(&count), Arc::clone(&wire)));
    }
    let sockets = accepting.await.context("floor: accepting")??;
    let connect_secs = started.elapsed().as_secs_f64();
    log!("floor: {} connections in {connect_secs:.1} s", conns.len());

    let (to_sender, messages) = mpsc::channel::<String>();
    let (written, mut took) = unbounded_channel::<Duration>();
    let cpu = a.sender_cpu;
    let sending = std::thread::spawn(move || sender(&sockets, cpu, &messages, &written));
    let m = conns.len();
    let mut rounds: Vec<Value> = Vec::new();
    for rep in 0..a.rounds.repeats {
        *count.round.lock().unwrap_or_else(PoisonError::into_inner) = Round::new(rep, m);
        let send_us = now_us();
        to_sender.send(message_event(rep, send_us)).context("floor: the sender stopped")?;
        super::shared::wait_until(Duration::from_secs(30), || {
            count.round.lock().unwrap_or_else(PoisonError::into_inner).arrivals.len() >= m
        })
        .await;
        // The writes are over before the last arrival, so this answer is already waiting.
        let writes = tokio::time::timeout(Duration::from_secs(30), took.recv()).await.ok().flatten();
        let writes_ms = writes.map(|d| round2(d.as_secs_f64() * 1000.0));
        let mut fig = count.round.lock().unwrap_or_else(PoisonError::into_inner).figures(send_us, m);
        fig["writes_ms"] = json!(writes_ms);
        log!(
            "  floor message {rep}: {} of {m}, last after {} ms from send (the writes took {} ms)",
            fig["received"],
            fig["last_after_send_ms"],
            fig["writes_ms"]
        );
        rounds.push(fig);
        tokio::time::sleep(Duration::from_millis(a.rounds.gap_ms)).await;
    }
    let disconnects = count.disconnects.load(Ordering::Relaxed);
    count.closing.store(true, Ordering::Relaxed);
    drop(to_sender);
    // The sender ends once its channel is closed, and closes the server's ends as it goes.
    let _ = tokio::task::spawn_blocking(move || sending.join()).await;
    close_all(&conns).await;

    let lasts: Vec<f64> = rounds.iter().filter_map(|r| r["last_after_send_ms"].as_f64()).collect();
    let result = json!({
        "scenario": "floor", "members": m, "sender_cpu": a.sender_cpu, "connect_secs": round2(connect_secs),
        "rounds": rounds, "last_after_send_ms": lasts,
        "disconnects": disconnects,
    });
    let mut rows = vec![row("connections", m)];
    for r in &rounds {
        rows.push(row(
            format!("message {}: last connection after", r["rep"]),
            format!(
                "{} ms (median {} ms; writes {} ms)",
                r["last_after_send_ms"], r["median_after_send_ms"], r["writes_ms"]
            ),
        ));
    }
    emit(&result, &rows, out)?;
    let ok = rounds.iter().all(|r| r["all_received"] == true) && disconnects == 0;
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_headers_carry_the_length_as_rfc_6455_says() {
        assert_eq!(text_frame_header(5), vec![0x81, 5]);
        assert_eq!(text_frame_header(300), vec![0x81, 126, 1, 44]);
        assert_eq!(text_frame_header(70_000), vec![0x81, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
    }

    #[test]
    fn the_floor_message_is_a_room_event_the_receivers_count() {
        let ev: Event = serde_json::from_str(&message_event(3, 1_700_000_000_000_000)).unwrap();
        assert_eq!((ev.kind.as_str(), ev.data.room.as_deref()), ("chat.message", Some(ROOM)));
        assert_eq!(ev.data.content.as_deref().and_then(parse_content), Some((3, 1_700_000_000_000_000)));
        assert_eq!(ev.data.created_at.as_deref(), Some("2023-11-14T22:13:20.000000Z"));
    }

    #[test]
    fn a_short_write_is_finished_in_order() {
        /// Takes at most 3 bytes a call.
        struct Trickle(Vec<u8>);
        impl Write for Trickle {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                let n = buf.len().min(3);
                self.0.extend_from_slice(&buf[..n]);
                Ok(n)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut t = Trickle(Vec::new());
        write_frame(&mut t, &[1, 2], b"abcdef").unwrap();
        assert_eq!(t.0, b"\x01\x02abcdef");
    }
}
