// The live dashboard: plain JavaScript over the API and the WebSocket, no build step. It signs in
// (POST /api/v1/auth/login), seeds the charts from GET /api/v1/system/metrics/history, then
// subscribes to the `system` topic of /api/v1/ws and appends each `system.metrics` sample.
// Loaded under a Content-Security-Policy without inline code: everything is wired up here.
'use strict';

(() => {
  const API = '/api/v1';
  const WINDOW_MINUTES = 15;
  const MAX_ALERTS = 50;
  const FIRST_RETRY_MS = 1000;
  const LAST_RETRY_MS = 30000;
  const METRIC_NAMES = { cpu_percent: 'CPU', memory_percent: 'Memory', disk_percent: 'Fullest disk' };

  const $ = (id) => document.getElementById(id);

  // --- Session: tokens survive a reload of this tab, and only of this tab -------------------

  const session = {
    access: sessionStorage.getItem('wb.access'),
    refresh: sessionStorage.getItem('wb.refresh'),
    user: JSON.parse(sessionStorage.getItem('wb.user') || 'null'),
  };

  function keep(tokens) {
    session.access = tokens.access_token;
    session.refresh = tokens.refresh_token;
    session.user = tokens.user;
    sessionStorage.setItem('wb.access', session.access);
    sessionStorage.setItem('wb.refresh', session.refresh);
    sessionStorage.setItem('wb.user', JSON.stringify(session.user));
  }

  function forget() {
    session.access = session.refresh = session.user = null;
    sessionStorage.removeItem('wb.access');
    sessionStorage.removeItem('wb.refresh');
    sessionStorage.removeItem('wb.user');
  }

  /** Seconds until the access token expires, read from its claims (no secret needed to read). */
  function secondsLeft(token) {
    try {
      const claims = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
      return claims.exp - Date.now() / 1000;
    } catch {
      return 0;
    }
  }

  /** Exchanges the refresh token for a new pair; false when the sign-in is over. */
  async function refresh() {
    if (!session.refresh) return false;
    const res = await fetch(`${API}/auth/refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh_token: session.refresh }),
    });
    if (!res.ok) return false;
    keep(await res.json());
    return true;
  }

  /** An access token with a minute or more to live, refreshed when needed. */
  async function freshToken() {
    if (session.access && secondsLeft(session.access) > 60) return true;
    return refresh();
  }

  async function detail(res) {
    try {
      const problem = await res.json();
      return problem.detail || problem.title || `${res.status} ${res.statusText}`;
    } catch {
      return `${res.status} ${res.statusText}`;
    }
  }

  /** A request with the bearer token; a 401 gets one refresh and one retry. */
  async function api(path, retried = false) {
    await freshToken();
    const res = await fetch(API + path, { headers: { authorization: `Bearer ${session.access}` } });
    if (res.status === 401 && !retried && (await refresh())) return api(path, true);
    return res;
  }

  // --- Views ----------------------------------------------------------------------------------

  function show(view) {
    document.body.dataset.view = view;
    $('sign-in').hidden = view !== 'sign-in';
    $('dashboard').hidden = view !== 'dashboard';
    $('sign-out').hidden = view !== 'dashboard';
    $('who').textContent = view === 'dashboard' && session.user ? `${session.user.username} (${session.user.role})` : '';
  }

  function showError(message) {
    $('error').textContent = message;
    $('error').hidden = !message;
  }

  function setConnection(state, text) {
    $('connection').dataset.state = state;
    $('connection').textContent = text || state;
  }

  // --- Formatting -----------------------------------------------------------------------------

  const percent = (v) => (v == null ? '–' : `${v.toFixed(1)} %`);

  function bytes(v) {
    if (v == null) return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (Math.abs(v) >= 1024 && i < units.length - 1) {
      v /= 1024;
      i += 1;
    }
    return `${v.toFixed(i === 0 || v >= 100 ? 0 : 1)} ${units[i]}`;
  }

  const rate = (v) => (v == null ? '–' : `${v.toFixed(v >= 10 ? 0 : 1)}/s`);
  const time = (at) => new Date(at).toLocaleTimeString();

  function share(used, total) {
    return total > 0 ? (used * 100) / total : null;
  }

  function memoryPercent(s) {
    return share(s.memory.used_bytes, s.memory.total_bytes);
  }

  function diskPercent(s) {
    const shares = s.disks.map((d) => share(d.total_bytes - d.available_bytes, d.total_bytes)).filter((v) => v != null);
    return shares.length ? Math.max(...shares) : null;
  }

  // --- Charts ---------------------------------------------------------------------------------

  // Each chart: its element, its series and how to read each series from a sample.
  const CHARTS = {
    cpu: {
      title: 'CPU %',
      series: [
        { label: 'machine', stroke: '#2f5ec4', width: 2, read: (s) => s.cpu_percent },
        { label: 'this process', stroke: '#8e44ad', read: (s) => s.process.cpu_percent },
      ],
      scales: { y: { range: [0, 100] } },
      format: percent,
    },
    memory: {
      title: 'Memory %',
      series: [
        { label: 'used', stroke: '#1f7a4d', width: 2, read: memoryPercent },
        { label: 'swap used', stroke: '#b7791f', read: (s) => share(s.swap.used_bytes, s.swap.total_bytes) },
      ],
      scales: { y: { range: [0, 100] } },
      format: percent,
    },
    network: {
      title: 'Network bytes/s (loopback excluded)',
      series: [
        { label: 'received', stroke: '#2f5ec4', width: 2, read: (s) => s.network.rx_bytes_per_s },
        { label: 'sent', stroke: '#d9480f', read: (s) => s.network.tx_bytes_per_s },
      ],
      format: (v) => (v == null ? '–' : `${bytes(v)}/s`),
    },
    http: {
      title: 'HTTP requests/s, errors/s and p95 latency',
      series: [
        { label: 'requests/s', stroke: '#2f5ec4', width: 2, read: (s) => s.http.requests_per_s },
        { label: '5xx/s', stroke: '#c62828', read: (s) => s.http.errors_per_s },
        { label: 'p95 ms', stroke: '#8e44ad', dash: [6, 4], scale: 'ms', read: (s) => s.http.p95_ms },
      ],
      scales: { ms: { auto: true } },
      axes: [
        {},
        { label: 'per second' },
        { label: 'p95 ms', scale: 'ms', side: 1, grid: { show: false } },
      ],
      format: (v) => (v == null ? '–' : v.toFixed(2)),
    },
  };

  const samples = []; // the window on the charts, oldest first
  let charted = 0;
  const plots = {};

  function chartWidth(el) {
    return Math.max(300, el.clientWidth || 600);
  }

  function makeCharts() {
    if (plots.cpu) return;
    for (const [name, chart] of Object.entries(CHARTS)) {
      const el = $(`chart-${name}`);
      const options = {
        title: chart.title,
        width: chartWidth(el),
        height: 220,
        scales: { x: { time: true }, ...(chart.scales || {}) },
        series: [
          {},
          ...chart.series.map((s) => ({
            label: s.label,
            stroke: s.stroke,
            width: s.width || 1,
            dash: s.dash,
            scale: s.scale || 'y',
            value: (u, v) => chart.format(v),
          })),
        ],
        axes: chart.axes,
      };
      plots[name] = new uPlot(options, [[], ...chart.series.map(() => [])], el);
    }
    window.addEventListener('resize', () => {
      for (const [name, plot] of Object.entries(plots)) plot.setSize({ width: chartWidth($(`chart-${name}`)), height: 220 });
    });
  }

  function redraw() {
    const xs = samples.map((s) => Date.parse(s.at) / 1000);
    for (const [name, chart] of Object.entries(CHARTS)) {
      plots[name].setData([xs, ...chart.series.map((series) => samples.map((s) => series.read(s) ?? null))]);
    }
  }

  // --- Tiles ----------------------------------------------------------------------------------

  function thresholdTile(key, metric, value, s) {
    const threshold = s.thresholds ? s.thresholds[metric] : null;
    const firing = s.alerts.some((a) => a.metric === metric && a.state === 'firing');
    const tile = $(`tile-${key}`);
    tile.dataset.state = value == null ? 'unknown' : firing ? 'firing' : threshold != null && value >= threshold ? 'over' : 'ok';
    $(`value-${key}`).textContent = percent(value);
    const parts = [];
    if (threshold != null) parts.push(`threshold ${threshold} %`);
    if (firing) parts.push('alert firing');
    $(`note-${key}`).textContent = parts.join(' · ');
  }

  function showTiles(s) {
    thresholdTile('cpu', 'cpu_percent', s.cpu_percent, s);
    thresholdTile('memory', 'memory_percent', memoryPercent(s), s);
    thresholdTile('disk', 'disk_percent', diskPercent(s), s);
    $('value-network').textContent = `${bytes(s.network.rx_bytes_per_s)}/s · ${bytes(s.network.tx_bytes_per_s)}/s`;
    $('value-http').textContent = rate(s.http.requests_per_s);
    $('note-http').textContent =
      `p95 ${s.http.requests_per_s === 0 ? '–' : `${s.http.p95_ms.toFixed(1)} ms`} · ${rate(s.http.errors_per_s)} 5xx`;
    $('value-process').textContent = bytes(s.process.rss_bytes);
    $('note-process').textContent = `${percent(s.process.cpu_percent)} CPU · up ${Math.round(s.process.uptime_s / 60)} min`;
    $('value-websockets').textContent = String(s.websockets);
    $('last-sample').textContent = time(s.at);
    $('last-sample').dateTime = s.at;
  }

  /** Appends a sample (older or repeated ones are skipped: the history and the socket overlap). */
  function addSample(s, draw) {
    const last = samples[samples.length - 1];
    if (last && Date.parse(s.at) <= Date.parse(last.at)) return;
    samples.push(s);
    const cutoff = Date.parse(s.at) - WINDOW_MINUTES * 60 * 1000;
    while (samples.length && Date.parse(samples[0].at) < cutoff) samples.shift();
    charted += 1;
    $('points').textContent = String(charted);
    s.alerts.forEach(addAlert);
    showTiles(s);
    if (draw) redraw();
  }

  // --- Alerts ---------------------------------------------------------------------------------

  const alerts = new Map(); // metric|state|at -> alert

  function addAlert(alert) {
    const key = `${alert.metric}|${alert.state}|${alert.at}`;
    if (alerts.has(key)) return;
    alerts.set(key, alert);
    const newest = [...alerts.values()].sort((a, b) => Date.parse(b.at) - Date.parse(a.at)).slice(0, MAX_ALERTS);
    const list = $('alert-list');
    list.replaceChildren(
      ...newest.map((a) => {
        const item = document.createElement('li');
        item.dataset.state = a.state;
        item.dataset.metric = a.metric;
        const state = document.createElement('span');
        state.className = 'state';
        state.textContent = a.state;
        const what = document.createElement('span');
        what.textContent = `${METRIC_NAMES[a.metric] || a.metric} ${percent(a.value)} (threshold ${a.threshold} %)`;
        const when = document.createElement('time');
        when.dateTime = a.at;
        when.textContent = time(a.at);
        item.append(state, what, when);
        return item;
      }),
    );
    $('no-alerts').hidden = alerts.size > 0;
  }

  // --- The socket -----------------------------------------------------------------------------

  let socket = null;
  let retryIn = FIRST_RETRY_MS;
  let retryTimer = null;
  let stopped = true;

  function connect() {
    if (stopped) return;
    clearTimeout(retryTimer);
    setConnection('connecting', 'connecting…');
    freshToken().then((ok) => {
      if (stopped) return;
      if (!ok) {
        signOut('Your sign-in has expired; sign in again.');
        return;
      }
      const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
      const ws = new WebSocket(`${scheme}//${location.host}${API}/ws?token=${encodeURIComponent(session.access)}`);
      socket = ws;
      ws.onopen = () => {
        ws.send(JSON.stringify({ type: 'subscribe', topic: 'system' }));
        setConnection('live', 'live');
      };
      ws.onmessage = (message) => {
        let event;
        try {
          event = JSON.parse(message.data);
        } catch {
          return;
        }
        receive(event);
      };
      ws.onclose = () => {
        if (socket !== ws) return;
        socket = null;
        if (stopped) return;
        // Back off, doubling up to 30 s; a sample received resets it.
        const wait = retryIn;
        retryIn = Math.min(retryIn * 2, LAST_RETRY_MS);
        setConnection('reconnecting', `reconnecting in ${Math.round(wait / 1000)} s`);
        retryTimer = setTimeout(connect, wait);
      };
    });
  }

  function receive(event) {
    switch (event.type) {
      case 'system.metrics':
        retryIn = FIRST_RETRY_MS;
        addSample(event.data, true);
        break;
      case 'system.alert':
        addAlert(event.data);
        break;
      case 'error':
        if (event.data && event.data.code === 'forbidden') {
          // Not a moderator: retrying would be refused again.
          stop();
          notAllowed();
        }
        showError((event.data && event.data.message) || 'The server refused a request.');
        break;
      default:
        break;
    }
  }

  function stop() {
    stopped = true;
    clearTimeout(retryTimer);
    if (socket) {
      const ws = socket;
      socket = null;
      ws.close(1000);
    }
  }

  // --- Start, sign in, sign out -----------------------------------------------------------------

  /** Someone who may not see the metrics: only the error stays on the page. */
  function notAllowed() {
    setConnection('offline', 'not allowed');
    $('dashboard').dataset.allowed = 'false';
  }

  async function start() {
    show('dashboard');
    showError('');
    delete $('dashboard').dataset.allowed;
    makeCharts();
    const res = await api(`/system/metrics/history?minutes=${WINDOW_MINUTES}`);
    if (res.status === 401) {
      signOut('Your sign-in has expired; sign in again.');
      return;
    }
    if (res.status === 403) {
      notAllowed();
      showError(await detail(res));
      return;
    }
    if (res.ok) {
      const body = await res.json();
      for (const s of body.data) addSample(s, false);
      redraw();
    } else {
      showError(`The history could not be loaded: ${await detail(res)}`);
    }
    stopped = false;
    retryIn = FIRST_RETRY_MS;
    connect();
  }

  function signOut(message) {
    stop();
    const refreshToken = session.refresh;
    forget();
    if (refreshToken) {
      fetch(`${API}/auth/logout`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refresh_token: refreshToken }),
      }).catch(() => {});
    }
    setConnection('offline');
    show('sign-in');
    $('sign-in-error').textContent = message || '';
    $('sign-in-error').hidden = !message;
  }

  $('sign-in-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = $('sign-in-button');
    button.disabled = true;
    $('sign-in-error').hidden = true;
    try {
      const body = { email: $('email').value.trim(), password: $('password').value };
      if (!$('totp-row').hidden && $('totp').value.trim()) body.totp_code = $('totp').value.trim();
      const res = await fetch(`${API}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (res.ok) {
        keep(await res.json());
        $('password').value = '';
        $('totp').value = '';
        await start();
        return;
      }
      const problem = await res.json().catch(() => ({}));
      if (typeof problem.type === 'string' && problem.type.endsWith('/totp-required')) {
        $('totp-row').hidden = false;
        $('totp').focus();
      }
      $('sign-in-error').textContent = problem.detail || `Sign-in failed (${res.status}).`;
      $('sign-in-error').hidden = false;
    } catch (e) {
      $('sign-in-error').textContent = `The server could not be reached: ${e.message}`;
      $('sign-in-error').hidden = false;
    } finally {
      button.disabled = false;
    }
  });

  $('sign-out').addEventListener('click', () => signOut(''));

  $('download-csv').addEventListener('click', async () => {
    const res = await api(`/system/metrics/history?minutes=${WINDOW_MINUTES}&format=csv`);
    if (!res.ok) {
      showError(`The CSV could not be downloaded: ${await detail(res)}`);
      return;
    }
    const disposition = res.headers.get('content-disposition') || '';
    const name = (/filename="([^"]+)"/.exec(disposition) || [])[1] || 'system-metrics.csv';
    const url = URL.createObjectURL(await res.blob());
    const link = document.createElement('a');
    link.href = url;
    link.download = name;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  });

  if (session.access) {
    start();
  } else {
    show('sign-in');
  }
})();
