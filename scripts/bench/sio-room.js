// The room scenario of `make ws-bench` on Socket.IO, for a side-by-side figure in the same window:
// M clients join one room, then the server emits one chat message (the same JSON our server sends)
// to the room, and the time until the last client has it is measured from the emit. Repeated.
// Usage: node sio-room.js [MEMBERS=5000] [REPEATS=5] [SERVER_CPU] [CLIENT_CPU]
// Needs NODE_PATH at a directory with socket.io and socket.io-client (ws-bench.sh installs them
// where ../shared/anchors/sio-run.sh does). The server and the clients are separate processes,
// pinned (with taskset) like ws-bench pins the server and wsload when CPUs are given.
'use strict';
const { fork } = require('child_process');
const role = process.env.SIO_ROLE;
const PORT = Number(process.env.SIO_PORT || 39124);
const now = () => performance.timeOrigin + performance.now(); // ms since the epoch, sub-ms precision
const ROOM = 'bench';

if (role) {
  process.on('disconnect', () => process.exit(0));
  setTimeout(() => process.exit(5), 9 * 60 * 1000).unref();
}
if (role === 'server') {
  const { Server } = require('socket.io');
  const httpServer = require('http').createServer();
  const io = new Server(httpServer, { transports: ['websocket'] });
  io.on('connection', (socket) => {
    socket.on('join', (room, ack) => { socket.join(room); ack(); });
  });
  httpServer.listen(PORT, '127.0.0.1', () => process.send({ ready: true }));
  process.on('message', (msg) => {
    if (msg.cmd === 'emit') {
      const sentAt = now();
      io.to(ROOM).emit('chat.message', {
        id: 1000000 + msg.rep, room: ROOM, sender_id: 20000, recipient_id: null,
        content: `wr ${msg.rep} ${Math.round(sentAt * 1000)}`, created_at: new Date(sentAt).toISOString(),
        edited_at: null, deleted_at: null, reactions: [], attachments: [],
      });
      process.send({ emitted: { rep: msg.rep, sentAt, emitMs: now() - sentAt } });
    }
    if (msg.cmd === 'exit') { io.close(); process.exit(0); }
  });
} else if (role === 'client') {
  const { io } = require('socket.io-client');
  const sockets = [];
  let round = { rep: -1, arrivals: [] };
  process.on('message', async (msg) => {
    if (msg.cmd === 'connect') {
      let failed = 0;
      while (sockets.length < msg.total && failed <= 50) {
        const batch = Math.min(200, msg.total - sockets.length);
        await Promise.all(Array.from({ length: batch }, () => new Promise((resolve) => {
          const s = io(`http://127.0.0.1:${PORT}`, { transports: ['websocket'], forceNew: true, reconnection: false });
          s.on('chat.message', (m) => {
            const at = now();
            const rep = Number(m.content.split(' ')[1]);
            if (rep === round.rep) round.arrivals.push(at);
          });
          const t = setTimeout(() => { failed++; s.close(); resolve(); }, 10000);
          s.once('connect', () => s.emit('join', ROOM, () => { clearTimeout(t); sockets.push(s); resolve(); }));
          s.once('connect_error', () => { clearTimeout(t); failed++; s.close(); resolve(); });
        })));
      }
      process.send({ connected: sockets.length, failed });
    }
    if (msg.cmd === 'expect') { round = { rep: msg.rep, arrivals: [] }; process.send({ expecting: msg.rep }); }
    if (msg.cmd === 'collect') {
      const deadline = now() + 30000;
      while (round.arrivals.length < sockets.length && now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const a = round.arrivals.sort((x, y) => x - y);
      process.send({ collected: { received: a.length, first: a[0], median: a[(a.length - 1) >> 1], last: a[a.length - 1] } });
    }
    if (msg.cmd === 'exit') { sockets.forEach((s) => s.close()); process.exit(0); }
  });
} else {
  const MEMBERS = Number(process.argv[2] || 5000);
  const REPEATS = Number(process.argv[3] || 5);
  const cpus = { server: process.argv[4], client: process.argv[5] };
  // `taskset -c CPU node script.js`: the IPC channel's descriptor and environment pass through exec.
  const child = (r, extra) => fork(__filename, [], {
    env: { ...process.env, SIO_ROLE: r },
    ...(cpus[r] !== undefined && cpus[r] !== ''
      ? { execPath: 'taskset', execArgv: ['-c', String(cpus[r]), process.execPath, ...extra] }
      : { execArgv: extra }),
  });
  const ask = (p, msg, key) => new Promise((resolve) => {
    const h = (m) => { if (key in m) { p.off('message', h); resolve(m[key]); } };
    p.on('message', h);
    if (msg) p.send(msg);
  });
  const kids = [];
  process.on('exit', () => kids.forEach((k) => { try { k.kill(); } catch (_) { /* gone */ } }));
  const hardStop = setTimeout(() => { console.error('time limit'); process.exit(3); }, 8 * 60 * 1000);
  (async () => {
    const server = child('server', []); kids.push(server);
    await ask(server, null, 'ready');
    const client = child('client', ['--max-old-space-size=4096']); kids.push(client);
    const c = await ask(client, { cmd: 'connect', total: MEMBERS }, 'connected');
    console.error(`[sio-room] ${c} of ${MEMBERS} clients connected and joined`);
    await new Promise((r) => setTimeout(r, 1000));
    const rounds = [];
    for (let rep = 0; rep < REPEATS; rep++) {
      await ask(client, { cmd: 'expect', rep }, 'expecting');
      const e = await ask(server, { cmd: 'emit', rep }, 'emitted');
      const got = await ask(client, { cmd: 'collect' }, 'collected');
      const ms = (t) => (t === undefined ? null : +(t - e.sentAt).toFixed(2));
      const r = { rep, received: got.received, last_after_emit_ms: ms(got.last), median_after_emit_ms: ms(got.median), first_after_emit_ms: ms(got.first), emit_call_ms: +e.emitMs.toFixed(2) };
      console.error(`[sio-room] message ${rep}: ${r.received} of ${c}, last after ${r.last_after_emit_ms} ms (median ${r.median_after_emit_ms} ms)`);
      rounds.push(r);
      await new Promise((res) => setTimeout(res, 1000));
    }
    console.log(JSON.stringify({ scenario: 'sio-room', socketio: require('socket.io/package.json').version, node: process.version, members: MEMBERS, connected: c, rounds, last_after_emit_ms: rounds.map((r) => r.last_after_emit_ms) }));
    client.send({ cmd: 'exit' }); server.send({ cmd: 'exit' });
    clearTimeout(hardStop);
  })().catch((e) => { console.error(e); process.exit(1); });
}
