// A radio station played in a real browser (Debian's chromium, driven by playwright-core): makes
// a station whose playlist is one uploaded WAV, opens a page with an <audio> element on the
// station's stream, and waits for its currentTime to advance, as a listener would hear it. Starts
// nothing itself: scripts/browser-test.sh starts the server (with ffmpeg on the machine, which
// the playlist is transcoded with) and passes:
//
//   WORKBENCH_URL  the server, e.g. http://127.0.0.1:8080
//   WB_USER        the email to sign in with
//   WB_PASSWORD    its password
//
// Exits 0 when every step passed; otherwise 1, naming the step that failed and why.

import { chromium } from 'playwright-core';

const base = (process.env.WORKBENCH_URL || '').replace(/\/+$/, '');
const email = process.env.WB_USER;
const password = process.env.WB_PASSWORD;
if (!base || !email || !password) {
  console.error('radio.mjs: WORKBENCH_URL, WB_USER and WB_PASSWORD must be set');
  process.exit(2);
}

let current = 'start';
async function step(name, run) {
  current = name;
  const started = Date.now();
  const result = await run();
  console.log(`ok - ${name} (${Date.now() - started} ms)`);
  return result;
}

/** Ten seconds of a 440 Hz tone: 16-bit mono WAV at 22.05 kHz. */
function wav(seconds) {
  const rate = 22050;
  const frames = rate * seconds;
  const out = Buffer.alloc(44 + frames * 2);
  out.write('RIFF', 0);
  out.writeUInt32LE(36 + frames * 2, 4);
  out.write('WAVEfmt ', 8);
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(1, 20);
  out.writeUInt16LE(1, 22);
  out.writeUInt32LE(rate, 24);
  out.writeUInt32LE(rate * 2, 28);
  out.writeUInt16LE(2, 32);
  out.writeUInt16LE(16, 34);
  out.write('data', 36);
  out.writeUInt32LE(frames * 2, 40);
  for (let i = 0; i < frames; i++) {
    out.writeInt16LE(Math.round(Math.sin((i / rate) * 440 * 2 * Math.PI) * 9000), 44 + i * 2);
  }
  return out;
}

async function api(path, init = {}) {
  const res = await fetch(`${base}/api/v1${path}`, init);
  const body = await res.text();
  if (!res.ok) throw new Error(`${init.method || 'GET'} ${path}: ${res.status} ${body}`);
  return body ? JSON.parse(body) : null;
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--autoplay-policy=no-user-gesture-required',
  ],
});
let failed = false;
try {
  const slug = `browser-${Date.now()}`;
  await step('make a station whose playlist is an uploaded WAV', async () => {
    const { access_token: token } = await api('/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    const auth = { authorization: `Bearer ${token}` };
    const form = new FormData();
    form.append('file', new Blob([wav(10)], { type: 'audio/wav' }), 'tone.wav');
    const file = await api('/files', { method: 'POST', headers: auth, body: form });
    await api('/radio/stations', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ slug, name: 'Browser test' }),
    });
    await api(`/radio/stations/${slug}/playlist`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ file_ids: [file.id] }),
    });
  });
  const page = await browser.newPage();
  await step('the <audio> element plays the station', async () => {
    await page.goto(`${base}/health`);
    const played = await page.evaluate(async (src) => {
      const audio = document.createElement('audio');
      audio.src = src;
      document.body.appendChild(audio);
      await audio.play();
      const deadline = Date.now() + 20000;
      while (audio.currentTime < 2 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      return { currentTime: audio.currentTime, error: audio.error && audio.error.message };
    }, `${base}/radio/${slug}/stream`);
    if (played.currentTime < 2) {
      throw new Error(`currentTime stayed at ${played.currentTime} (${played.error || 'no media error'})`);
    }
    console.log(`   currentTime ${played.currentTime.toFixed(2)} s`);
  });
} catch (e) {
  failed = true;
  console.error(`not ok - ${current}: ${e.message}`);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
