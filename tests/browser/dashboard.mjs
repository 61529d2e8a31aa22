// The live dashboard in a real browser (Debian's chromium, driven by playwright-core): sign in,
// see the charts seeded from the history and then grow over the WebSocket, see an alert, download
// the CSV, and save a screenshot. Starts nothing itself: scripts/browser-test.sh starts a server
// that samples every second with ALERT_CPU_PERCENT=0 (so an alert fires within seconds) and an
// admin account, then runs this with:
//
//   WORKBENCH_URL  the server, e.g. http://127.0.0.1:8080
//   WB_USER        the email to sign in with (the login API takes an email)
//   WB_PASSWORD    its password
//   SCREENSHOT     where to save the screenshot (default target/browser/dashboard.png)
//
// Exits 0 when every step passed; otherwise 1, naming the step that failed and why.

import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { chromium } from 'playwright-core';

const STEP_TIMEOUT_MS = 30_000;

function env(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`dashboard.mjs: ${name} must be set (see the comment at the top of this file)`);
    process.exit(2);
  }
  return value;
}

const base = env('WORKBENCH_URL').replace(/\/+$/, '');
const email = env('WB_USER');
const password = env('WB_PASSWORD');
const screenshot = process.env.SCREENSHOT || 'target/browser/dashboard.png';

let current = 'start';
async function step(name, run) {
  current = name;
  const started = Date.now();
  const result = await run();
  console.log(`ok - ${name} (${Date.now() - started} ms)`);
  return result;
}

const points = async (page) => Number(await page.textContent('#points'));

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
  ],
});
const problems = [];
let page;
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1100 }, acceptDownloads: true });
  page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // A refused script, style or connection is the Content-Security-Policy at work: the page
    // must not need anything it forbids.
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });

  await step('the page loads from the server', async () => {
    const res = await page.goto(`${base}/dashboard/`);
    if (!res || res.status() !== 200) throw new Error(`GET /dashboard/ answered ${res && res.status()}`);
    const policy = res.headers()['content-security-policy'] || '';
    if (!policy.includes("script-src 'self'")) throw new Error(`no strict Content-Security-Policy: ${policy}`);
    await page.waitForSelector('#sign-in-form', { state: 'visible' });
  });

  await step('signs in', async () => {
    await page.fill('#email', email);
    await page.fill('#password', password);
    await page.click('#sign-in-button');
    await Promise.race([
      page.waitForSelector('body[data-view="dashboard"]'),
      page.waitForSelector('#sign-in-error:not([hidden])').then(async () => {
        throw new Error(`sign-in refused: ${await page.textContent('#sign-in-error')}`);
      }),
    ]);
  });

  const seeded = await step('the charts are seeded from the history', async () => {
    await page.waitForFunction(() => Number(document.querySelector('#points').textContent) > 0);
    const error = page.locator('#error:not([hidden])');
    if (await error.count()) throw new Error(`the page shows an error: ${await error.textContent()}`);
    for (const chart of ['cpu', 'memory', 'network', 'http']) {
      if ((await page.locator(`#chart-${chart} canvas`).count()) === 0) throw new Error(`no ${chart} chart drawn`);
    }
    return points(page);
  });

  await step('the socket subscribes and goes live', async () => {
    await page.waitForSelector('#connection[data-state="live"]');
  });

  await step('new samples arrive over the socket and are charted', async () => {
    await page.waitForFunction(
      (before) => Number(document.querySelector('#points').textContent) >= before + 3,
      seeded,
    );
    const shown = await page.textContent('#value-cpu');
    if (!/%$/.test(shown.trim())) throw new Error(`the CPU tile shows ${JSON.stringify(shown)}`);
  });

  await step('an alert past the CPU threshold is listed and its tile is red', async () => {
    await page.waitForSelector('#alert-list li[data-state="firing"][data-metric="cpu_percent"]');
    const state = await page.getAttribute('#tile-cpu', 'data-state');
    if (state !== 'firing' && state !== 'over') throw new Error(`the CPU tile is ${state}, not marked past its threshold`);
    const colour = await page.$eval('#value-cpu', (el) => getComputedStyle(el).color);
    if (colour !== 'rgb(198, 40, 40)') throw new Error(`the CPU value is ${colour}, not red`);
  });

  await step('the CSV downloads with its header row', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-csv')]);
    const csv = await readFile(await download.path(), 'utf8');
    const lines = csv.trim().split(/\r?\n/);
    if (!lines[0].startsWith('at,cpu_percent,load_1m,')) throw new Error(`the CSV starts ${JSON.stringify(lines[0])}`);
    if (lines.length < 2) throw new Error('the CSV has no rows');
    if (!download.suggestedFilename().endsWith('.csv')) throw new Error(`saved as ${download.suggestedFilename()}`);
  });

  await step('the page needed nothing its policy refuses, and threw nothing', async () => {
    if (problems.length) throw new Error(problems.join('\n  '));
  });

  await step(`screenshot saved to ${screenshot}`, async () => {
    await mkdir(dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true });
  });
} catch (error) {
  console.error(`FAILED - ${current}: ${error.message}`);
  if (problems.length && current !== 'the page needed nothing its policy refuses, and threw nothing') {
    console.error(`  the browser also reported:\n  ${problems.join('\n  ')}`);
  }
  if (page) {
    const failed = screenshot.replace(/(\.png)?$/, '-failed.png');
    await mkdir(dirname(failed), { recursive: true });
    await page.screenshot({ path: failed, fullPage: true }).then(
      () => console.error(`  screenshot of the failure: ${failed}`),
      () => {},
    );
  }
  process.exitCode = 1;
} finally {
  await browser.close();
}
