#!/usr/bin/env node
// Self-test of the OIDC fixture: starts provider.mjs as a subprocess and acts as a relying party
// (two RP "instances" served by one tiny HTTP server), driving everything with plain HTTP.
// Run: node tests/oidc/selftest.mjs      (exit code 0 = all checks passed)

import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as jose from 'jose';

const here = path.dirname(fileURLToPath(import.meta.url));
const SECRET1 = 's3cret-s3cret-s3cret-s3cret-s3cret';
const SECRET2 = 'another-secret-another-secret-0002';
const BCL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const epoch = () => Math.floor(Date.now() / 1000);
const b64u = (buf) => Buffer.from(buf).toString('base64url');

let passed = 0;
let failed = 0;
function check(cond, name, extra) {
  if (cond) { passed += 1; console.log(`ok   - ${name}`); } else { failed += 1; console.log(`FAIL - ${name}${extra !== undefined ? ` :: ${typeof extra === 'string' ? extra : JSON.stringify(extra)}` : ''}`); }
  return cond;
}
async function rejects(promise, name, codeOrPredicate) {
  try {
    await promise;
    return check(false, name, 'did not reject');
  } catch (e) {
    const ok = typeof codeOrPredicate === 'function' ? codeOrPredicate(e) : (codeOrPredicate === undefined || e.code === codeOrPredicate);
    return check(ok, name, `${e.code}: ${e.message}`);
  }
}

// ------------------------------------------------------------------------------------------
// The relying party's back-channel endpoint: validates logout tokens like a strict RP would.
// ------------------------------------------------------------------------------------------
const received = []; // { rp, token, status, reason }
let ISSUER;
let rpBase;
let JWKS;
const seenJti = new Set();

async function validateLogoutToken(token, expectedAud) {
  const { payload, protectedHeader } = await jose.jwtVerify(token, JWKS, {
    issuer: ISSUER, audience: expectedAud, algorithms: ['RS256'], requiredClaims: ['iat', 'jti'],
  });
  if (!payload.events || typeof payload.events !== 'object' || !(BCL_EVENT in payload.events)) throw new Error('events claim missing back-channel logout event');
  if ('nonce' in payload) throw new Error('nonce present');
  if (!payload.sub && !payload.sid) throw new Error('neither sub nor sid');
  if (payload.iat < epoch() - 300) throw new Error('iat too old');
  if (seenJti.has(payload.jti)) throw new Error('jti replayed');
  seenJti.add(payload.jti);
  return { payload, protectedHeader };
}

const rpServer = http.createServer(async (req, res) => {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const body = new URLSearchParams(Buffer.concat(chunks).toString());
  const m = req.url.match(/^\/(rp1|rp2)\/backchannel-logout$/);
  if (req.method !== 'POST' || !m) { res.writeHead(404); res.end(); return; }
  const rp = m[1];
  const token = body.get('logout_token');
  const entry = { rp, token };
  try {
    const { payload } = await validateLogoutToken(token, rp === 'rp1' ? 'wb1' : 'wb2');
    entry.payload = payload;
    entry.status = 200;
    res.writeHead(200, { 'cache-control': 'no-store', 'x-rp': rp });
    res.end();
  } catch (e) {
    entry.status = 400;
    entry.reason = `${e.code || e.name}: ${e.message}`;
    res.writeHead(400, { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-rp': rp });
    res.end(JSON.stringify({ error: 'invalid_request', error_description: entry.reason }));
  }
  received.push(entry);
});

// ------------------------------------------------------------------------------------------
// Minimal HTTP client with a cookie jar (cookie paths ignored: provider cookie names are distinct)
// ------------------------------------------------------------------------------------------
class Jar {
  constructor() { this.cookies = new Map(); }

  header() { return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '); }

  store(res) {
    for (const sc of res.headers.getSetCookie()) {
      const [pair, ...attrs] = sc.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      const expired = attrs.some((a) => /^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]) < Date.now())
        || attrs.some((a) => /^\s*max-age=\s*(0|-)/i.test(a));
      if (!value || expired) this.cookies.delete(name); else this.cookies.set(name, value);
    }
  }
}

async function req(method, url, { jar, form, json, headers = {}, basic } = {}) {
  const h = { ...headers };
  if (jar && jar.cookies.size) h.cookie = jar.header();
  let body;
  if (form) { h['content-type'] = 'application/x-www-form-urlencoded'; body = new URLSearchParams(form).toString(); }
  if (json !== undefined) { h['content-type'] = 'application/json'; body = typeof json === 'string' ? json : JSON.stringify(json); }
  if (basic) h.authorization = `Basic ${Buffer.from(`${encodeURIComponent(basic[0])}:${encodeURIComponent(basic[1])}`).toString('base64')}`;
  const res = await fetch(new URL(url, ISSUER), { method, headers: h, body, redirect: 'manual' });
  if (jar) jar.store(res);
  const text = await res.text();
  let data;
  try { data = JSON.parse(text); } catch { data = undefined; }
  return { status: res.status, headers: res.headers, text, json: data, location: res.headers.get('location') };
}
const admin = (method, p, json) => req(method, `/admin${p}`, { json });

// ------------------------------------------------------------------------------------------
// RP sign-in: authorization code + PKCE S256 + nonce + state, login via one interaction request
// ------------------------------------------------------------------------------------------
const CLIENTS = {};
async function authorize(client, jar, login, extra = {}) {
  const verifier = b64u(crypto.randomBytes(32));
  const challenge = b64u(crypto.createHash('sha256').update(verifier).digest());
  const stateParam = b64u(crypto.randomBytes(12));
  const nonce = b64u(crypto.randomBytes(12));
  const q = new URLSearchParams({
    client_id: client.client_id,
    redirect_uri: client.redirect_uris[0],
    response_type: 'code',
    scope: 'openid email profile groups',
    state: stateParam,
    nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  });
  let r = await req('GET', `/auth?${q}`, { jar });
  const steps = [`GET /auth -> ${r.status}`];
  if (r.status === 303 && r.location.startsWith('/interaction/')) {
    const uid = r.location.split('/')[2];
    r = await req('POST', `/interaction/${uid}/login`, { jar, form: { login } });
    steps.push(`POST /interaction/${uid}/login -> ${r.status}`);
    if (r.status !== 303) throw new Error(`login failed: ${r.status} ${r.text}`);
    r = await req('GET', r.location, { jar });
    steps.push(`GET /auth/${uid} -> ${r.status}`);
  }
  if (r.status !== 303 || !r.location.startsWith(client.redirect_uris[0])) throw new Error(`expected redirect to the RP, got ${r.status} ${r.location} ${r.text}`);
  const cb = new URL(r.location);
  return {
    verifier, state: stateParam, nonce, callback: cb, steps, code: cb.searchParams.get('code'),
  };
}

// Log in as a different user in a browser that already has a provider session (prompt=login).
async function authorizeSwitch(client, jar, login) {
  const verifier = b64u(crypto.randomBytes(32));
  const challenge = b64u(crypto.createHash('sha256').update(verifier).digest());
  const q = new URLSearchParams({
    client_id: client.client_id, redirect_uri: client.redirect_uris[0], response_type: 'code', scope: 'openid email', state: 's', nonce: 'n', prompt: 'login', code_challenge: challenge, code_challenge_method: 'S256',
  });
  const steps = [];
  let r = await req('GET', `/auth?${q}`, { jar });
  steps.push(`GET /auth -> ${r.status}`);
  const uid = r.location.split('/')[2];
  r = await req('POST', `/interaction/${uid}/login`, { jar, form: { login } });
  steps.push(`POST login -> ${r.status}`);
  r = await req('GET', r.location, { jar });
  steps.push(`GET /auth/${uid} -> ${r.status} (auto-submit form)`);
  const xsrf = r.text.match(/name="xsrf" value="([^"]+)"/)?.[1];
  r = await req('POST', '/session/end/confirm', { jar, form: { xsrf, logout: 'yes' } });
  steps.push(`POST /session/end/confirm -> ${r.status} ${r.location}`);
  r = await req('GET', r.location, { jar });
  steps.push(`GET /auth/${uid} -> ${r.status}`);
  const cb = new URL(r.location);
  return { verifier, steps, code: cb.searchParams.get('code') };
}

async function exchange(client, a, method = 'basic') {
  const form = {
    grant_type: 'authorization_code', code: a.code, redirect_uri: client.redirect_uris[0], code_verifier: a.verifier,
  };
  let r;
  if (method === 'basic') r = await req('POST', '/token', { form, basic: [client.client_id, client.client_secret] });
  else r = await req('POST', '/token', { form: { ...form, client_id: client.client_id, client_secret: client.client_secret } });
  if (r.status !== 200) throw new Error(`token endpoint ${r.status}: ${r.text}`);
  return r.json;
}

async function signIn(client, jar, login, method = 'basic') {
  const a = await authorize(client, jar, login);
  const tokens = await exchange(client, a, method);
  return { a, tokens };
}

// ------------------------------------------------------------------------------------------
async function main() {
  await new Promise((r) => rpServer.listen(0, '127.0.0.1', r));
  rpBase = `http://127.0.0.1:${rpServer.address().port}`;
  CLIENTS.wb1 = {
    client_id: 'wb1',
    client_secret: SECRET1,
    redirect_uris: [`${rpBase}/rp1/auth/oauth/corp/callback`],
    post_logout_redirect_uris: [`${rpBase}/rp1/logged-out`],
    backchannel_logout_uri: `${rpBase}/rp1/backchannel-logout`,
    backchannel_logout_session_required: true,
  };
  CLIENTS.wb2 = {
    client_id: 'wb2',
    client_secret: SECRET2,
    redirect_uris: [`${rpBase}/rp2/auth/oauth/corp/callback`],
    backchannel_logout_uri: `${rpBase}/rp2/backchannel-logout`,
    // backchannel_logout_session_required omitted: fixture defaults it to true
  };
  const config = {
    port: 0,
    clients: [CLIENTS.wb1],
    accounts: {
      alice: {
        email: 'alice@corp.example', email_verified: true, groups: ['wb-admins'], name: 'Alice', preferred_username: 'alice',
      },
    },
  };

  const t0 = Date.now();
  const child = spawn(process.execPath, [path.join(here, 'provider.mjs')], {
    env: { ...process.env, OIDC_FIXTURE: JSON.stringify(config) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  let stdout = '';
  ISSUER = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no READY line; stderr:\n${stderr}`)), 10000);
    child.stdout.on('data', (d) => {
      stdout += d;
      const m = stdout.match(/^READY (http:\/\/127\.0\.0\.1:\d+)\n/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on('exit', (code) => reject(new Error(`provider exited ${code}; stderr:\n${stderr}`)));
  });
  const startupMs = Date.now() - t0;
  try {
    await run(child, startupMs, () => stdout);
  } catch (e) {
    check(false, 'selftest crashed', e.stack || String(e));
  } finally {
    child.stdin.end(); // the fixture exits when stdin closes
    const code = await new Promise((r) => { child.on('exit', (c) => r(c)); setTimeout(() => r('timeout'), 3000); });
    check(code === 0, 'provider exits (code 0) when its stdin is closed', code);
    check(stdout.trim().split('\n').length === 1, 'stdout carried only the READY line', stdout);
    rpServer.close();
    if (failed || process.env.SELFTEST_VERBOSE) console.log(`--- provider stderr ---\n${stderr}--- end ---`);
    console.log(`\n${passed} passed, ${failed} failed`);
    process.exitCode = failed ? 1 : 0;
  }
}

async function run(child, startupMs, getStdout) {
  check(/^http:\/\/127\.0\.0\.1:\d+$/.test(ISSUER), `READY line with issuer ${ISSUER} after ${startupMs} ms`);
  check(startupMs < 2000, 'startup under ~1-2 s', startupMs);

  // --- discovery -------------------------------------------------------------------------
  const disc = (await req('GET', '/.well-known/openid-configuration')).json;
  check(disc.issuer === ISSUER, 'discovery issuer equals the READY URL');
  check(disc.jwks_uri === `${ISSUER}/jwks` && disc.token_endpoint === `${ISSUER}/token`, 'discovery endpoints');
  check(disc.code_challenge_methods_supported?.join() === 'S256', 'PKCE S256 only');
  check(['client_secret_basic', 'client_secret_post'].every((m) => disc.token_endpoint_auth_methods_supported.includes(m)), 'basic+post auth advertised');
  check(disc.backchannel_logout_supported === true && disc.backchannel_logout_session_supported === true, 'back-channel logout advertised');
  check(disc.end_session_endpoint === `${ISSUER}/session/end`, 'end_session_endpoint advertised');
  check(['openid', 'email', 'profile', 'groups'].every((s) => disc.scopes_supported.includes(s)), 'scopes openid email profile groups');
  JWKS = jose.createRemoteJWKSet(new URL(disc.jwks_uri), { cooldownDuration: 0, cacheMaxAge: 0 });

  // --- add the second client at runtime (two Workbench instances, one client each) -------
  let r = await admin('PUT', '/clients/wb2', CLIENTS.wb2);
  check(r.status === 200 && r.json.backchannel_logout_session_required === true, 'PUT /admin/clients/wb2 registers a client at runtime', r.text);

  // --- sign-in ---------------------------------------------------------------------------
  const jar = new Jar();
  const { a, tokens } = await signIn(CLIENTS.wb1, jar, 'alice', 'basic');
  console.log(`     sign-in steps: ${a.steps.join(' | ')}`);
  check(a.steps.length === 3, 'first sign-in takes 3 provider requests (auth, login, resume)', a.steps);
  check(a.callback.searchParams.get('state') === a.state, 'state echoed to redirect_uri');
  check(a.callback.searchParams.get('iss') === ISSUER, 'iss parameter in authorization response (RFC 9207)');
  check([...jar.cookies.keys()].includes('_session'), 'provider session cookie _session set', [...jar.cookies.keys()]);
  check(tokens.token_type === 'Bearer' && typeof tokens.access_token === 'string', 'token response has access_token');
  const { payload: id1, protectedHeader: h1 } = await jose.jwtVerify(tokens.id_token, JWKS, {
    issuer: ISSUER, audience: 'wb1', algorithms: ['RS256'],
  });
  check(h1.alg === 'RS256' && typeof h1.kid === 'string', 'ID token RS256 with kid', h1);
  check(id1.nonce === a.nonce, 'nonce passed through into the ID token');
  check(id1.sub === 'alice', 'sub = alice');
  check(typeof id1.sid === 'string' && id1.sid.length > 0, 'ID token has sid', id1);
  check(id1.email === 'alice@corp.example' && id1.email_verified === true, 'ID token has email + email_verified', id1);
  check(JSON.stringify(id1.groups) === '["wb-admins"]', 'ID token has groups', id1);
  check(id1.name === 'Alice' && id1.preferred_username === 'alice', 'ID token has name + preferred_username', id1);
  console.log(`     ID token claims: ${Object.keys(id1).join(', ')}`);
  const ui = await req('GET', '/me', { headers: { authorization: `Bearer ${tokens.access_token}` } });
  check(ui.status === 200 && ui.json.sub === 'alice' && ui.json.email === 'alice@corp.example', 'userinfo works', ui.text);

  // second sign-in with the same browser (session exists): no interaction, client_secret_post
  const s2 = await signIn(CLIENTS.wb1, jar, 'alice', 'post');
  check(s2.a.steps.length === 1, 'with a provider session, /auth redirects straight back (1 request)', s2.a.steps);
  const { payload: id2 } = await jose.jwtVerify(s2.tokens.id_token, JWKS, { issuer: ISSUER, audience: 'wb1' });
  check(id2.nonce === s2.a.nonce && id2.sid === id1.sid, 'client_secret_post exchange works; same sid within one session');

  // the code is single use
  const reuse = await req('POST', '/token', {
    form: {
      grant_type: 'authorization_code', code: s2.a.code, redirect_uri: CLIENTS.wb1.redirect_uris[0], code_verifier: s2.a.verifier,
    },
    basic: [CLIENTS.wb1.client_id, SECRET1],
  });
  check(reuse.status === 400 && reuse.json.error === 'invalid_grant', 'authorization code reuse refused', reuse.text);

  // PKCE is required
  const noPkce = new URLSearchParams({
    client_id: 'wb1', redirect_uri: CLIENTS.wb1.redirect_uris[0], response_type: 'code', scope: 'openid', state: 'x', nonce: 'n',
  });
  r = await req('GET', `/auth?${noPkce}`, { jar });
  check(r.status === 303 && new URL(r.location).searchParams.get('error') === 'invalid_request', 'authorization without code_challenge is refused', r.location);
  // wrong verifier
  const a3 = await authorize(CLIENTS.wb1, jar, 'alice');
  r = await req('POST', '/token', {
    form: {
      grant_type: 'authorization_code', code: a3.code, redirect_uri: CLIENTS.wb1.redirect_uris[0], code_verifier: b64u(crypto.randomBytes(32)),
    },
    basic: ['wb1', SECRET1],
  });
  check(r.status === 400 && r.json.error === 'invalid_grant', 'wrong code_verifier refused', r.text);
  // wrong secret
  const a4 = await authorize(CLIENTS.wb1, jar, 'alice');
  r = await req('POST', '/token', {
    form: {
      grant_type: 'authorization_code', code: a4.code, redirect_uri: CLIENTS.wb1.redirect_uris[0], code_verifier: a4.verifier,
    },
    basic: ['wb1', 'wrong'],
  });
  check(r.status === 401 && r.json.error === 'invalid_client', 'wrong client secret refused', r.text);

  // --- accounts: promote / demote -----------------------------------------------------------
  r = await admin('PUT', '/accounts/alice', {
    email: 'alice@corp.example', email_verified: true, groups: ['wb-users', 'wb-auditors'], name: 'Alice A.', preferred_username: 'alice',
  });
  check(r.status === 200, 'PUT /admin/accounts/alice');
  let s = await signIn(CLIENTS.wb1, jar, 'alice');
  let { payload: p } = await jose.jwtVerify(s.tokens.id_token, JWKS, { issuer: ISSUER, audience: 'wb1' });
  check(JSON.stringify(p.groups) === '["wb-users","wb-auditors"]' && p.name === 'Alice A.', 'account change visible in the next ID token (same session)', p);
  r = await admin('PUT', '/accounts/bob', { email: 'bob@corp.example', email_verified: false, name: 'Bob' });
  const jarBob = new Jar();
  s = await signIn(CLIENTS.wb1, jarBob, 'bob');
  ({ payload: p } = await jose.jwtVerify(s.tokens.id_token, JWKS, { issuer: ISSUER, audience: 'wb1' }));
  check(p.sub === 'bob' && p.email_verified === false && !('groups' in p) && !('preferred_username' in p), 'new account bob: absent claims are omitted', p);
  r = await req('POST', `/interaction/nope/login`, { form: { login: 'alice' } });
  check(r.status === 400, 'login without interaction cookie -> 400', r.text);

  // --- key rotation -----------------------------------------------------------------------
  const oldKid = (await admin('GET', '/keys')).json.signing_kid;
  r = await admin('POST', '/rotate-keys', { keep_old: false });
  const newKid = r.json?.kid;
  check(r.status === 200 && newKid && newKid !== oldKid, 'rotate-keys returns a new kid', r.text);
  let jwks = (await req('GET', '/jwks')).json;
  check(jwks.keys.length === 1 && jwks.keys[0].kid === newKid, 'JWKS publishes only the new key (keep_old false)', jwks.keys.map((k) => k.kid));
  s = await signIn(CLIENTS.wb1, jar, 'alice');
  let verified = await jose.jwtVerify(s.tokens.id_token, JWKS, { issuer: ISSUER, audience: 'wb1' });
  check(verified.protectedHeader.kid === newKid, 'next ID token signed with the new kid (session survived the rotation)');
  r = await admin('POST', '/rotate-keys', { keep_old: true });
  const newerKid = r.json.kid;
  jwks = (await req('GET', '/jwks')).json;
  check(jwks.keys.map((k) => k.kid).join() === [newerKid, newKid].join(), 'keep_old true publishes new + old', jwks.keys.map((k) => k.kid));
  s = await signIn(CLIENTS.wb1, jar, 'alice');
  verified = await jose.jwtVerify(s.tokens.id_token, JWKS, { issuer: ISSUER, audience: 'wb1' });
  check(verified.protectedHeader.kid === newerKid, 'signing uses the newest key');
  r = await admin('GET', '/keys');
  check(r.json.signing_kid === newerKid && r.json.kids.length === 2, 'GET /admin/keys', r.json);

  // --- tampering --------------------------------------------------------------------------
  const currentKid = newerKid;
  async function tampered(mode) {
    const t = await admin('POST', '/tamper', { mode });
    if (t.status !== 204) throw new Error(`tamper ${mode}: ${t.status} ${t.text}`);
    const res = await signIn(CLIENTS.wb1, jar, 'alice');
    return { ...res, header: jose.decodeProtectedHeader(res.tokens.id_token), payload: jose.decodeJwt(res.tokens.id_token) };
  }
  const verify = (tok, opts = {}) => jose.jwtVerify(tok, JWKS, { issuer: ISSUER, audience: 'wb1', algorithms: ['RS256'], ...opts });

  let t = await tampered('bad-signature');
  check(t.header.kid === currentKid, 'bad-signature: carries the real kid');
  await rejects(verify(t.tokens.id_token), 'bad-signature: signature check fails', 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');

  t = await tampered('unknown-kid');
  check(!jwks.keys.some((k) => k.kid === t.header.kid), 'unknown-kid: kid not in JWKS', t.header.kid);
  await rejects(verify(t.tokens.id_token), 'unknown-kid: no matching key', 'ERR_JWKS_NO_MATCHING_KEY');

  t = await tampered('wrong-iss');
  await verify(t.tokens.id_token, { issuer: undefined }).then(() => check(true, 'wrong-iss: signature still valid'), (e) => check(false, 'wrong-iss: signature still valid', e.message));
  await rejects(verify(t.tokens.id_token), 'wrong-iss: iss check fails', (e) => e.code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && e.claim === 'iss');

  t = await tampered('wrong-aud');
  await rejects(verify(t.tokens.id_token), 'wrong-aud: aud check fails', (e) => e.claim === 'aud');

  t = await tampered('multi-aud-no-azp');
  await verify(t.tokens.id_token).then(() => true, () => false).then((ok) => check(ok, 'multi-aud-no-azp: valid signature, aud contains client'));
  check(Array.isArray(t.payload.aud) && t.payload.aud.length === 2 && !('azp' in t.payload), 'multi-aud-no-azp: aud=[wb1,other], no azp', t.payload);

  t = await tampered('wrong-azp');
  check(Array.isArray(t.payload.aud) && t.payload.azp === 'other-audience', 'wrong-azp: azp=other-audience', t.payload);
  await verify(t.tokens.id_token).then(() => true, () => false).then((ok) => check(ok, 'wrong-azp: signature valid (RP must check azp)'));

  t = await tampered('expired');
  check(t.payload.exp < epoch() - 500 && t.payload.iat < epoch() - 1100, 'expired: exp 10 min ago, iat 20 min ago', t.payload);
  await rejects(verify(t.tokens.id_token), 'expired: exp check fails', 'ERR_JWT_EXPIRED');

  t = await tampered('future-iat');
  check(t.payload.iat > epoch() + 500, 'future-iat: iat 10 min ahead', t.payload);
  await verify(t.tokens.id_token).then(() => true, () => false).then((ok) => check(ok, 'future-iat: signature valid (RP must check iat)'));

  t = await tampered('wrong-nonce');
  check(t.payload.nonce && t.payload.nonce !== t.a.nonce, 'wrong-nonce: nonce differs', t.payload.nonce);

  t = await tampered('no-nonce');
  check(!('nonce' in t.payload), 'no-nonce: nonce absent');
  await verify(t.tokens.id_token).then(() => true, () => false).then((ok) => check(ok, 'no-nonce: signature valid'));

  const before = await signIn(CLIENTS.wb1, jar, 'alice');
  t = await tampered('replay');
  check(t.tokens.id_token === before.tokens.id_token, 'replay: previous response id_token verbatim');
  check(t.payload.nonce === before.a.nonce && t.payload.nonce !== t.a.nonce, 'replay: nonce belongs to the previous flow');

  t = await tampered('alg-none');
  check(t.header.alg === 'none' && t.tokens.id_token.endsWith('.'), 'alg-none: header alg none, empty signature', t.header);
  await rejects(verify(t.tokens.id_token), 'alg-none: rejected by a verifier');

  t = await tampered('hs256');
  check(t.header.alg === 'HS256', 'hs256: header alg HS256', t.header);
  const hsOk = await jose.jwtVerify(t.tokens.id_token, new TextEncoder().encode(SECRET1)).then(() => true, () => false);
  check(hsOk, 'hs256: HMAC verifies with the client secret');
  await rejects(verify(t.tokens.id_token), 'hs256: rejected when only RS256 is allowed');

  s = await signIn(CLIENTS.wb1, jar, 'alice');
  await verify(s.tokens.id_token).then(() => check(true, 'tamper is one-shot: following token is genuine'), (e) => check(false, 'tamper is one-shot', e.message));
  r = await admin('POST', '/tamper', { mode: 'nope' });
  check(r.status === 400 && r.json.error, 'unknown tamper mode -> 400', r.text);

  // --- admin back-channel logout (RP perspective) -----------------------------------------
  const sWb2 = await signIn(CLIENTS.wb2, jar, 'alice');
  const idWb2 = jose.decodeJwt(sWb2.tokens.id_token);
  const idWb1 = jose.decodeJwt(s.tokens.id_token);
  check(idWb2.sid && idWb2.sid !== idWb1.sid, 'each client gets its own sid within one provider session', [idWb1.sid, idWb2.sid]);
  const sessions = (await admin('GET', '/sessions')).json;
  const aliceSess = sessions.find((x) => x.sub === 'alice');
  check(aliceSess && aliceSess.clients.find((c) => c.client_id === 'wb1')?.sid === idWb1.sid
    && aliceSess.clients.find((c) => c.client_id === 'wb2')?.sid === idWb2.sid, 'GET /admin/sessions lists sid per client', sessions);

  r = await admin('POST', '/backchannel-logout', { client_id: 'wb1', sub: 'alice', sid: idWb1.sid, mode: 'normal' });
  check(r.status === 200 && r.json.status === 200, 'admin back-channel logout (normal) accepted by the RP', r.json);
  const lt = jose.decodeJwt(r.json.logout_token);
  check(lt.sid === idWb1.sid && lt.sub === 'alice' && lt.aud === 'wb1' && lt.iss === ISSUER && lt.events?.[BCL_EVENT] && lt.jti, 'admin logout token claims', lt);
  check(r.json.headers['x-rp'] === 'rp1', 'admin call returns the RP response headers', r.json.headers);
  const normalToken = r.json.logout_token;
  r = await admin('POST', '/backchannel-logout', { client_id: 'wb1', sub: 'alice', sid: 'auto' });
  check(r.status === 200 && r.json.status === 200 && jose.decodeJwt(r.json.logout_token).sid === idWb1.sid, 'sid "auto" resolves the live sid', r.json);

  const negative = {
    replay: /replayed/, // re-sends the previous token of this endpoint (the accepted "sid auto" one) verbatim
    'no-events': /events/, 'wrong-events': /events/, 'with-nonce': /nonce/, 'wrong-aud': /aud/, 'wrong-iss': /iss/,
    'expired-iat': /exp|iat/, 'bad-signature': /signature/, 'no-sub-no-sid': /neither sub nor sid/, 'alg-none': /alg|Unsupported|JWS/i,
  };
  for (const [mode, reason] of Object.entries(negative)) {
    r = await admin('POST', '/backchannel-logout', { client_id: 'wb1', sub: 'alice', sid: idWb1.sid, mode });
    check(r.status === 200 && r.json.status === 400 && reason.test(r.json.body), `admin back-channel logout ${mode}: RP answers 400 (${r.json.body})`, r.json);
  }
  const expiredPayload = jose.decodeJwt((await admin('POST', '/backchannel-logout', { client_id: 'wb1', sub: 'alice', mode: 'expired-iat' })).json.logout_token);
  check(expiredPayload.iat < epoch() - 3500 && expiredPayload.exp < epoch(), 'expired-iat: iat 1 h ago, exp in the past', expiredPayload);
  // replay the normal token to the second RP instance (different aud -> refused there)
  r = await admin('POST', '/post-logout-token', { url: CLIENTS.wb2.backchannel_logout_uri, logout_token: normalToken });
  check(r.status === 200 && r.json.status === 400 && /aud/.test(r.json.body), 'post-logout-token: arbitrary token to another RP', r.json);
  r = await admin('POST', '/backchannel-logout', { client_id: 'wb1', mode: 'normal' });
  check(r.status === 400, 'admin back-channel logout without sub/sid -> 400', r.text);
  r = await admin('POST', '/backchannel-logout', { client_id: 'nope', sub: 'alice' });
  check(r.status === 400, 'unknown client -> 400', r.text);

  // --- native RP-initiated logout over HTTP: provider sends the logout tokens --------------
  received.length = 0;
  await admin('DELETE', '/last-logout-deliveries');
  const hint = s.tokens.id_token; // valid ID token for wb1 (signed with the current key)
  r = await req('GET', `/session/end?${new URLSearchParams({ id_token_hint: hint, post_logout_redirect_uri: CLIENTS.wb1.post_logout_redirect_uris[0], state: 'bye' })}`, { jar });
  const xsrf = r.text.match(/name="xsrf" value="([^"]+)"/)?.[1];
  check(r.status === 200 && xsrf && r.headers.get('x-fixture-logout-xsrf') === xsrf, 'GET /session/end renders the confirm form with xsrf', r.status);
  r = await req('POST', '/session/end/confirm', { jar, form: { xsrf, logout: 'yes' } });
  check(r.status === 303 && r.location === `${CLIENTS.wb1.post_logout_redirect_uris[0]}?state=bye`, 'confirm (logout=yes) -> 303 to post_logout_redirect_uri?state', r.location);
  check(!jar.cookies.has('_session'), '_session cookie cleared');
  const got1 = received.find((x) => x.rp === 'rp1');
  const got2 = received.find((x) => x.rp === 'rp2');
  check(received.length === 2 && got1?.status === 200 && got2?.status === 200, 'provider delivered valid logout tokens to both RPs of the session', received.map((x) => [x.rp, x.status, x.reason]));
  check(got1?.payload.sid === idWb1.sid && got2?.payload.sid === idWb2.sid && got1?.payload.sub === 'alice', 'native logout tokens carry each client\'s sid and sub', [got1?.payload, got2?.payload]);
  if (got1) {
    const hdr = jose.decodeProtectedHeader(got1.token);
    console.log(`     native logout token header ${JSON.stringify(hdr)} payload ${JSON.stringify(got1.payload)}`);
    check(got1.payload.exp - got1.payload.iat === 120 && hdr.typ === 'logout+jwt', 'native logout token: typ logout+jwt, exp = iat + 120');
  }
  let deliveries = (await admin('GET', '/last-logout-deliveries')).json;
  check(deliveries.length === 2 && deliveries.every((d) => d.ok && d.status === 200 && d.logout_token), 'GET /admin/last-logout-deliveries: both ok with status 200 and the token', deliveries);
  r = await req('GET', `/auth?${new URLSearchParams({
    client_id: 'wb1', redirect_uri: CLIENTS.wb1.redirect_uris[0], response_type: 'code', scope: 'openid', code_challenge: b64u(crypto.randomBytes(32)), code_challenge_method: 'S256',
  })}`, { jar });
  check(r.status === 303 && r.location.startsWith('/interaction/'), 'after logout, /auth needs a new login');
  r = await req('GET', r.location, { jar, headers: { accept: 'application/json' } });
  check(r.status === 200 && r.json.prompt.name === 'login', 'GET /interaction/<uid> (JSON) shows the login prompt', r.text);

  // --- admin end-session: native logout of a sub --------------------------------------------
  const jar2 = new Jar();
  const e1 = await signIn(CLIENTS.wb1, jar2, 'alice');
  const e2 = await signIn(CLIENTS.wb2, jar2, 'alice');
  received.length = 0;
  r = await admin('POST', '/end-session', { sub: 'alice' });
  check(r.status === 200 && r.json.ended.length === 1 && r.json.deliveries.length === 2 && r.json.deliveries.every((d) => d.ok && d.status === 200), 'POST /admin/end-session ends the session and reports deliveries', r.json);
  check(received.length === 2 && received.every((x) => x.status === 200)
    && received.find((x) => x.rp === 'rp1')?.payload.sid === jose.decodeJwt(e1.tokens.id_token).sid
    && received.find((x) => x.rp === 'rp2')?.payload.sid === jose.decodeJwt(e2.tokens.id_token).sid, 'both RPs got valid provider-minted logout tokens', received.map((x) => [x.rp, x.status, x.reason]));
  r = await admin('GET', '/sessions');
  check(!r.json.some((x) => x.sub === 'alice'), 'no alice session left');
  r = await req('GET', `/auth?${new URLSearchParams({
    client_id: 'wb1', redirect_uri: CLIENTS.wb1.redirect_uris[0], response_type: 'code', scope: 'openid', code_challenge: b64u(crypto.randomBytes(32)), code_challenge_method: 'S256',
  })}`, { jar: jar2 });
  check(r.status === 303 && r.location.startsWith('/interaction/'), 'after admin end-session the browser must log in again');
  // switching user inside one provider session: oidc-provider first logs the old user out
  const jar4 = new Jar();
  const sa = await signIn(CLIENTS.wb1, jar4, 'alice');
  const saSid = jose.decodeJwt(sa.tokens.id_token).sid;
  received.length = 0;
  const sw = await authorizeSwitch(CLIENTS.wb1, jar4, 'bob');
  check(sw.steps.length === 5, 'switch user in one session: auth, login, resume (form_post), confirm, resume', sw.steps);
  check(received.length === 1 && received[0].rp === 'rp1' && received[0].payload.sub === 'alice' && received[0].payload.sid === saSid, 'switching user sends alice\'s back-channel logout', received.map((x) => x.payload));
  const swTokens = await exchange(CLIENTS.wb1, sw);
  check(jose.decodeJwt(swTokens.id_token).sub === 'bob', 'after the switch the ID token is bob\'s');
  await admin('POST', '/end-session', { sub: 'bob' });

  r = await admin('POST', '/end-session', { sub: 'nobody' });
  check(r.status === 200 && r.json.ended.length === 0, 'end-session for a sub without sessions is a no-op');

  // RP failure is reported
  await admin('PUT', '/clients/wb3', {
    client_id: 'wb3', client_secret: 'x'.repeat(32), redirect_uris: [`${rpBase}/rp3/cb`], backchannel_logout_uri: `${rpBase}/rp3/backchannel-logout`,
  });
  const jar3 = new Jar();
  await signIn({ ...CLIENTS.wb1, client_id: 'wb3', client_secret: 'x'.repeat(32), redirect_uris: [`${rpBase}/rp3/cb`] }, jar3, 'bob');
  r = await admin('POST', '/end-session', { sub: 'bob' });
  const d3 = r.json.deliveries.find((d) => d.client_id === 'wb3');
  check(r.json.ended.length === 1 && d3?.ok === false && d3.status === 404 && /404/.test(d3.error), 'failed delivery reported (RP answered 404)', r.json);

  // --- robustness -----------------------------------------------------------------------------
  r = await admin('PUT', '/accounts/x', '{not json');
  check(r.status === 400 && r.json.error, 'invalid JSON -> 400 JSON', r.text);
  r = await admin('PUT', '/accounts/x', { groups: 'admins' });
  check(r.status === 400, 'groups not an array -> 400', r.text);
  r = await admin('PUT', '/accounts/x', [1, 2]);
  check(r.status === 400, 'non-object body -> 400', r.text);
  r = await admin('POST', '/rotate-keys', { keep_old: 'yes' });
  check(r.status === 400, 'rotate-keys bad keep_old -> 400', r.text);
  r = await admin('PUT', '/clients/bad', { client_id: 'bad', redirect_uris: ['not a url'] });
  check(r.status === 400, 'invalid client metadata -> 400 (provider keeps running)', r.text);
  r = await admin('POST', '/end-session', {});
  check(r.status === 400, 'end-session without selector -> 400', r.text);
  r = await admin('GET', '/nope');
  check(r.status === 404, 'unknown admin route -> 404', r.text);
  r = await admin('POST', '/post-logout-token', { url: 'http://127.0.0.1:1/x', logout_token: 'x' });
  check(r.status === 502, 'post to a dead URL -> 502', r.text);
  r = await req('GET', '/.well-known/openid-configuration');
  check(r.status === 200 && child.exitCode === null, 'provider still alive after bad input');
  check(getStdout().trim().split('\n').length === 1, 'stdout still only the READY line');
}

main().catch((e) => {
  console.log(`FAIL - selftest crashed: ${e.stack || e}`);
  failed += 1;
  console.log(`\n${passed} passed, ${failed} failed`);
  process.exit(1);
});
