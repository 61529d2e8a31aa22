#!/usr/bin/env node
// Workbench OIDC test fixture: a real OpenID Provider (panva/oidc-provider) on loopback,
// plus a small JSON admin API under /admin/... for black-box tests. See README.md.
//
// Start:  node tests/oidc/provider.mjs [config.json]      (or config JSON in env OIDC_FIXTURE)
// Stdout: exactly one line "READY http://127.0.0.1:<port>"; everything else goes to stderr.
// Stops:  on SIGTERM / SIGINT, or when stdin reaches EOF (unless "exit_on_stdin_eof": false).

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';

import * as jose from 'jose';
import Provider from 'oidc-provider';

// ---------------------------------------------------------------------------------------------
// Logging: stdout is reserved for the READY line. oidc-provider prints NOTICEs via console.info
// (stdout), so every console method is redirected to stderr.
// ---------------------------------------------------------------------------------------------
let quiet = false;
const writeErr = (line) => { try { process.stderr.write(`[oidc-fixture] ${line}\n`); } catch { /* ignore */ } };
const log = (line) => { if (!quiet) writeErr(line); };
const logAlways = writeErr;
const fmt = (args) => args.map((a) => (a instanceof Error ? a.stack : typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
console.log = (...a) => log(fmt(a));
console.info = (...a) => log(fmt(a));
console.debug = (...a) => log(fmt(a));
console.warn = (...a) => log(fmt(a));
console.error = (...a) => logAlways(fmt(a));

const BCL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const epoch = () => Math.floor(Date.now() / 1000);
const rand = (n = 8) => crypto.randomBytes(n).toString('hex');
const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const b64u = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

class BadRequest extends Error {
  constructor(message, status = 400) { super(message); this.status = status; }
}

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------
function loadConfig() {
  let text = '{}';
  let source = 'defaults';
  if (process.argv[2]) {
    source = process.argv[2];
    text = fs.readFileSync(process.argv[2], 'utf8');
  } else if (process.env.OIDC_FIXTURE && process.env.OIDC_FIXTURE.trim()) {
    const v = process.env.OIDC_FIXTURE.trim();
    if (v.startsWith('{')) { source = 'env OIDC_FIXTURE'; text = v; } else { source = v; text = fs.readFileSync(v, 'utf8'); }
  }
  let cfg;
  try { cfg = JSON.parse(text); } catch (e) { throw new Error(`config (${source}) is not valid JSON: ${e.message}`); }
  if (!isObj(cfg)) throw new Error(`config (${source}) must be a JSON object`);
  const port = cfg.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('config.port must be an integer 0..65535');
  if (cfg.clients !== undefined && !Array.isArray(cfg.clients)) throw new Error('config.clients must be an array');
  if (cfg.accounts !== undefined && !isObj(cfg.accounts)) throw new Error('config.accounts must be an object');
  if (cfg.scope_claims !== undefined && !isObj(cfg.scope_claims)) throw new Error('config.scope_claims must be an object');
  return cfg;
}

// Which claims each scope releases (into the ID token too: conformIdTokenClaims is false).
const PROFILE_CLAIMS = ['name', 'family_name', 'given_name', 'middle_name', 'nickname', 'preferred_username',
  'profile', 'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale', 'updated_at'];
const DEFAULT_SCOPE_CLAIMS = {
  email: ['email', 'email_verified'],
  profile: [...PROFILE_CLAIMS, 'groups'],
  groups: ['groups'],
};

// ---------------------------------------------------------------------------------------------
// State (survives provider rebuilds: key rotation and client changes build a new Provider)
// ---------------------------------------------------------------------------------------------
const state = {
  issuer: undefined,
  clients: new Map(), // client_id -> client metadata (as given + fixture defaults)
  accounts: new Map(), // sub -> claims object
  keys: [], // private RSA JWKs; keys[0] signs, all are published in the JWKS
  scopeClaims: { ...DEFAULT_SCOPE_CLAIMS },
  conformIdTokenClaims: false,
  pendingTamper: undefined, // { mode, client_id? }
  lastIdTokenByClient: new Map(), // client_id -> last real id_token
  lastIdToken: undefined,
  lastAdminLogoutToken: undefined,
  nativeLogoutTokens: [], // logout tokens minted by oidc-provider itself: { client_id, sub, sid, jti, token }
  deliveries: [], // results of oidc-provider's own back-channel logout deliveries
  lastStatusByUrl: new Map(), // back-channel URL -> last HTTP status seen by the recording agent
};
let provider; // current Provider instance
let providerHandler; // its request handler
const COOKIE_KEYS = [rand(32)];

function normalizeClient(input, idFromPath) {
  if (!isObj(input)) throw new BadRequest('client metadata must be a JSON object');
  const md = { ...input };
  if (idFromPath !== undefined) {
    if (md.client_id !== undefined && md.client_id !== idFromPath) throw new BadRequest('client_id in body does not match the path');
    md.client_id = idFromPath;
  }
  if (typeof md.client_id !== 'string' || !md.client_id) throw new BadRequest('client_id must be a non-empty string');
  if (!Array.isArray(md.redirect_uris) || !md.redirect_uris.length || !md.redirect_uris.every((u) => typeof u === 'string')) {
    throw new BadRequest(`client ${md.client_id}: redirect_uris must be a non-empty array of strings`);
  }
  md.grant_types ??= ['authorization_code'];
  md.response_types ??= ['code'];
  md.token_endpoint_auth_method ??= 'client_secret_basic';
  md.id_token_signed_response_alg ??= 'RS256';
  if (md.backchannel_logout_uri !== undefined && md.backchannel_logout_session_required === undefined) {
    md.backchannel_logout_session_required = true; // fixture default: sid in ID tokens and logout tokens
  }
  return md;
}

function checkAccount(claims) {
  if (!isObj(claims)) throw new BadRequest('account claims must be a JSON object');
  if (claims.groups !== undefined && !(Array.isArray(claims.groups) && claims.groups.every((g) => typeof g === 'string'))) {
    throw new BadRequest('groups must be an array of strings');
  }
  const { sub, ...rest } = claims;
  return rest;
}

async function newSigningKey() {
  const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
  const jwk = await jose.exportJWK(privateKey);
  return { ...jwk, kid: `fixture-${Date.now().toString(36)}-${rand(4)}`, alg: 'RS256', use: 'sig' };
}

// A key that is never published: used for "bad-signature" / "unknown-kid" tampering.
let rogueKeyPromise;
const rogueKey = () => (rogueKeyPromise ??= newSigningKey().then((jwk) => jose.importJWK(jwk, 'RS256')));
const signingKey = () => jose.importJWK(state.keys[0], 'RS256');

async function signJws(header, payload, key) {
  return new jose.CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader(header).sign(key);
}
function hs256(header, payload, secret) {
  const input = `${b64u(header)}.${b64u(payload)}`;
  return `${input}.${crypto.createHmac('sha256', Buffer.from(secret, 'utf8')).update(input).digest('base64url')}`;
}
const unsigned = (payload, typ = 'JWT') => `${b64u({ alg: 'none', typ })}.${b64u(payload)}.`;

// ---------------------------------------------------------------------------------------------
// Storage adapter (one store shared by every Provider instance this process builds)
// ---------------------------------------------------------------------------------------------
const store = new Map(); // `${model}:${id}` -> { model, id, payload, expiresAt }
function storeGet(key) {
  const e = store.get(key);
  if (!e) return undefined;
  if (e.expiresAt !== undefined && e.expiresAt <= Date.now()) { store.delete(key); return undefined; }
  return e;
}
class FixtureAdapter {
  constructor(model) { this.model = model; }

  key(id) { return `${this.model}:${id}`; }

  async upsert(id, payload, expiresIn) {
    store.set(this.key(id), {
      model: this.model, id, payload, expiresAt: typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : undefined,
    });
  }

  async find(id) { return storeGet(this.key(id))?.payload; }

  async #findBy(prop, value) {
    for (const [key, e] of store) {
      if (e.model === this.model && e.payload?.[prop] === value) return storeGet(key)?.payload;
    }
    return undefined;
  }

  async findByUid(uid) { return this.#findBy('uid', uid); }

  async findByUserCode(userCode) { return this.#findBy('userCode', userCode); }

  async consume(id) { const e = storeGet(this.key(id)); if (e) e.payload.consumed = epoch(); }

  async destroy(id) { store.delete(this.key(id)); }

  async revokeByGrantId(grantId) {
    for (const [key, e] of store) if (e.model === this.model && e.payload?.grantId === grantId) store.delete(key);
  }
}
function liveSessions() {
  const out = [];
  for (const [key, e] of store) if (e.model === 'Session' && storeGet(key) && e.payload.accountId) out.push(e.payload);
  return out;
}
function revokeGrantEverywhere(grantId) {
  for (const [key, e] of store) if (e.payload?.grantId === grantId) store.delete(key);
  store.delete(`Grant:${grantId}`);
}

// ---------------------------------------------------------------------------------------------
// oidc-provider configuration
// ---------------------------------------------------------------------------------------------
const page = (title, body) => `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`;
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function loadExistingGrant(ctx) {
  // Auto-consent (first-party fixture): every requested OIDC scope / claim is granted, so the
  // only interaction ever needed is the login.
  const { oidc } = ctx;
  const accountId = oidc.account?.accountId ?? oidc.session.accountId;
  const clientId = oidc.client.clientId;
  const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(clientId);
  let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
  if (!grant || grant.accountId !== accountId || grant.clientId !== clientId) {
    grant = new oidc.provider.Grant({ accountId, clientId });
  }
  const scopes = [...oidc.requestParamOIDCScopes].join(' ');
  if (scopes) grant.addOIDCScope(scopes);
  const claims = [...oidc.requestParamClaims];
  if (claims.length) grant.addOIDCClaims(claims);
  await grant.save();
  return grant;
}

function urlKey(u) {
  try {
    const x = new URL(u);
    return `${x.hostname}:${x.port || (x.protocol === 'https:' ? 443 : 80)}${x.pathname}${x.search}`;
  } catch { return String(u); }
}
class RecordingAgent extends http.Agent {
  // Records the HTTP status the RPs answer to oidc-provider's own back-channel logout POSTs.
  addRequest(req, options) {
    const key = urlKey(`http://${options.host}:${options.port ?? 80}${req.path}`);
    req.once('response', (res) => state.lastStatusByUrl.set(key, res.statusCode));
    return super.addRequest(req, options);
  }
}
const recordingAgent = new RecordingAgent({ keepAlive: false });

function providerConfiguration() {
  return {
    adapter: FixtureAdapter,
    clients: [...state.clients.values()].map((c) => structuredClone(c)),
    jwks: { keys: state.keys.map((k) => ({ ...k })) },
    findAccount: async (ctx, sub) => {
      if (!state.accounts.has(sub)) return undefined;
      return {
        accountId: sub,
        claims: async () => ({ ...structuredClone(state.accounts.get(sub) ?? {}), sub }),
      };
    },
    claims: {
      acr: null, sid: null, auth_time: null, iss: null, openid: ['sub'], ...state.scopeClaims,
    },
    scopes: ['openid', 'offline_access', ...Object.keys(state.scopeClaims)],
    conformIdTokenClaims: state.conformIdTokenClaims,
    responseTypes: ['code'],
    pkce: { methods: ['S256'], required: () => true },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
    clientDefaults: {
      grant_types: ['authorization_code'],
      id_token_signed_response_alg: 'RS256',
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    cookies: {
      // keys silence oidc-provider's warning; signed: false keeps the jar simple (no *.sig cookies)
      keys: COOKIE_KEYS,
      long: { httpOnly: true, sameSite: 'lax', signed: false },
      short: { httpOnly: true, sameSite: 'lax', signed: false },
    },
    features: {
      devInteractions: { enabled: false },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          // Convenience for HTTP-driven tests: the xsrf value is also exposed as a header.
          const secret = ctx.oidc.session.state?.secret;
          if (secret) ctx.set('x-fixture-logout-xsrf', secret);
          ctx.body = page('Logout', `<h1>Sign out of ${esc(ctx.host)}?</h1>${form}`
            + '<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>'
            + '<button type="submit" form="op.logoutForm">No, stay signed in</button>');
        },
        postLogoutSuccessSource: async (ctx) => {
          ctx.body = page('Signed out', '<h1>Signed out</h1>');
        },
      },
    },
    loadExistingGrant,
    interactions: { url: async (ctx, interaction) => `/interaction/${interaction.uid}` },
    renderError: async (ctx, out, error) => {
      if (error && !error.expose) logAlways(`renderError: ${error.stack || error}`);
      ctx.type = 'json';
      ctx.body = out;
    },
    httpOptions: () => ({ agent: recordingAgent, signal: AbortSignal.timeout(5000) }),
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 120,
      ClientCredentials: 600,
      DeviceCode: 600,
      BackchannelAuthenticationRequest: 600,
      Grant: 86400,
      IdToken: 3600,
      Interaction: 3600,
      RefreshToken: 86400,
      Session: 86400,
    },
  };
}

function recordDelivery({ ok, client, accountId, sid, err }) {
  const url = client.backchannelLogoutUri;
  const tok = [...state.nativeLogoutTokens].reverse()
    .find((t) => t.client_id === client.clientId && (sid === undefined || t.sid === undefined || t.sid === sid));
  const entry = {
    at: new Date().toISOString(),
    client_id: client.clientId,
    url,
    sub: accountId,
    sid: sid ?? null,
    ok,
    status: err?.response?.statusCode ?? state.lastStatusByUrl.get(urlKey(url)) ?? null,
    body: err?.response?.body !== undefined ? String(err.response.body) : undefined,
    error: err ? String(err.message || err) : undefined,
    logout_token: tok?.token,
  };
  state.deliveries.push(entry);
  if (state.deliveries.length > 200) state.deliveries.shift();
  log(`back-channel logout by provider -> ${client.clientId} (${url}): ${ok ? 'ok' : 'FAILED'} status=${entry.status}${err ? ` ${entry.error}` : ''}`);
}

async function buildProvider() {
  const p = new Provider(state.issuer, providerConfiguration());

  // Every configured client must validate (oidc-provider validates static clients lazily).
  for (const id of state.clients.keys()) {
    await p.Client.find(id);
  }

  // Capture the logout tokens oidc-provider itself mints (for /admin/last-logout-deliveries).
  const { IdToken } = p;
  const origIssue = IdToken.prototype.issue;
  IdToken.prototype.issue = async function issue(...args) {
    const token = await origIssue.apply(this, args);
    if (args[0]?.use === 'logout') {
      try {
        const pl = jose.decodeJwt(token);
        state.nativeLogoutTokens.push({
          client_id: this.client?.clientId, sub: pl.sub, sid: pl.sid, jti: pl.jti, token,
        });
        if (state.nativeLogoutTokens.length > 200) state.nativeLogoutTokens.shift();
      } catch { /* ignore */ }
    }
    return token;
  };

  p.on('backchannel.success', (ctx, client, accountId, sid) => recordDelivery({
    ok: true, client, accountId, sid,
  }));
  p.on('backchannel.error', (ctx, err, client, accountId, sid) => recordDelivery({
    ok: false, client, accountId, sid, err,
  }));
  p.on('server_error', (ctx, err) => logAlways(`server_error: ${err?.stack || err}`));
  p.on('end_session.success', () => log('end_session.success'));
  p.on('grant.error', (ctx, err) => log(`token endpoint error: ${err.error || ''} ${err.error_description || err.message}`));
  p.on('authorization.error', (ctx, err) => log(`authorization error: ${err.error || ''} ${err.error_description || err.message}`));
  p.on('end_session.error', (ctx, err) => log(`end_session error: ${err.error || ''} ${err.error_description || err.message}`));
  p.on('end_session_confirm.error', (ctx, err) => log(`end_session confirm error: ${err.error || ''} ${err.error_description || err.message}`));

  // Token endpoint wrapper: one-shot id_token tampering for negative tests.
  p.use(async (ctx, next) => {
    await next();
    if (ctx.method !== 'POST' || ctx.path !== '/token' || ctx.status !== 200) return;
    if (!isObj(ctx.body) || typeof ctx.body.id_token !== 'string') return;
    const clientId = ctx.oidc?.client?.clientId;
    const real = ctx.body.id_token;
    const t = state.pendingTamper;
    if (t && (t.client_id === undefined || t.client_id === clientId)) {
      state.pendingTamper = undefined;
      try {
        ctx.body = { ...ctx.body, id_token: await tamperIdToken(real, t.mode, clientId) };
        log(`tamper: id_token for ${clientId} replaced (${t.mode})`);
      } catch (e) {
        logAlways(`tamper ${t.mode} failed: ${e.stack || e}`);
      }
    }
    state.lastIdTokenByClient.set(clientId, real);
    state.lastIdToken = real;
  });

  return p;
}

// ---------------------------------------------------------------------------------------------
// Tampering
// ---------------------------------------------------------------------------------------------
const TAMPER_MODES = new Set(['bad-signature', 'unknown-kid', 'wrong-iss', 'wrong-aud', 'multi-aud-no-azp', 'wrong-azp',
  'expired', 'future-iat', 'wrong-nonce', 'no-nonce', 'replay', 'alg-none', 'hs256']);

async function tamperIdToken(real, mode, clientId) {
  const header = jose.decodeProtectedHeader(real);
  const payload = jose.decodeJwt(real);
  const now = epoch();
  const resign = async () => signJws(header, payload, await signingKey());
  switch (mode) {
    case 'bad-signature': return signJws(header, payload, await rogueKey()); // real kid, wrong key
    case 'unknown-kid': return signJws({ ...header, kid: `unknown-${rand(6)}` }, payload, await rogueKey());
    case 'wrong-iss': payload.iss = 'http://127.0.0.1:9/wrong-issuer'; return resign();
    case 'wrong-aud': payload.aud = 'wrong-audience'; delete payload.azp; return resign();
    case 'multi-aud-no-azp': payload.aud = [clientId, 'other-audience']; delete payload.azp; return resign();
    case 'wrong-azp': payload.aud = [clientId, 'other-audience']; payload.azp = 'other-audience'; return resign();
    case 'expired': payload.iat = now - 1200; payload.exp = now - 600; return resign();
    case 'future-iat': payload.iat = now + 600; payload.exp = now + 600 + 3600; return resign();
    case 'wrong-nonce': payload.nonce = `wrong-${rand(8)}`; return resign();
    case 'no-nonce': delete payload.nonce; return resign();
    case 'replay': {
      const prev = state.lastIdTokenByClient.get(clientId) ?? state.lastIdToken;
      if (!prev) throw new Error('no previous id_token to replay');
      return prev;
    }
    case 'alg-none': return unsigned(payload, header.typ ?? 'JWT');
    case 'hs256': {
      const secret = state.clients.get(clientId)?.client_secret;
      if (typeof secret !== 'string') throw new Error(`client ${clientId} has no client_secret`);
      return hs256({ alg: 'HS256', typ: header.typ ?? 'JWT', kid: header.kid }, payload, secret);
    }
    default: throw new Error(`unknown tamper mode ${mode}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Back-channel logout helpers
// ---------------------------------------------------------------------------------------------
const LOGOUT_MODES = new Set(['normal', 'no-events', 'wrong-events', 'with-nonce', 'wrong-aud', 'wrong-iss', 'expired-iat',
  'bad-signature', 'no-sub-no-sid', 'replay', 'alg-none']);

async function postLogoutToken(url, token) {
  let u;
  try { u = new URL(url); } catch { throw new BadRequest(`invalid url: ${url}`); }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new BadRequest('url must be http(s)');
  let res;
  try {
    res = await fetch(u, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ logout_token: token }).toString(),
      signal: AbortSignal.timeout(10000),
    });
  } catch (e) {
    throw new BadRequest(`POST ${url} failed: ${e.cause?.code || e.cause?.message || e.message}`, 502);
  }
  const body = await res.text();
  log(`admin logout token -> ${url}: ${res.status}`);
  return {
    status: res.status, body, headers: Object.fromEntries(res.headers), logout_token: token,
  };
}

function sidFor(sub, clientId) {
  const sessions = liveSessions().filter((s) => s.accountId === sub && s.authorizations?.[clientId]?.sid);
  const latest = sessions.sort((a, b) => (b.loginTs ?? 0) - (a.loginTs ?? 0))[0];
  return latest?.authorizations[clientId].sid;
}

async function buildLogoutToken(body) {
  const mode = body.mode ?? 'normal';
  const clientId = body.client_id;
  if (!LOGOUT_MODES.has(mode)) throw new BadRequest(`unknown mode ${JSON.stringify(mode)}; one of ${[...LOGOUT_MODES].join(', ')}`);
  if (mode === 'replay') {
    if (!state.lastAdminLogoutToken) throw new BadRequest('no previous logout token to replay', 409);
    return state.lastAdminLogoutToken;
  }
  const { sub } = body;
  let { sid } = body;
  if (sub !== undefined && (typeof sub !== 'string' || !sub)) throw new BadRequest('sub must be a non-empty string');
  if (sid !== undefined && (typeof sid !== 'string' || !sid)) throw new BadRequest('sid must be a non-empty string');
  if (sid === 'auto') {
    if (!sub) throw new BadRequest('sid "auto" needs sub');
    sid = sidFor(sub, clientId);
    if (!sid) throw new BadRequest(`no live provider session of ${sub} with client ${clientId}`, 409);
  }
  if (!sub && !sid && mode !== 'no-sub-no-sid') throw new BadRequest('give sub and/or sid (or mode no-sub-no-sid)');
  const now = epoch();
  const payload = {
    iss: state.issuer, aud: clientId, iat: now, exp: now + 120, jti: crypto.randomUUID(), events: { [BCL_EVENT]: {} },
  };
  if (sub) payload.sub = sub;
  if (sid) payload.sid = sid;
  const header = { alg: 'RS256', typ: 'logout+jwt', kid: state.keys[0].kid };
  switch (mode) {
    case 'no-events': delete payload.events; break;
    case 'wrong-events': payload.events = { 'http://schemas.openid.net/event/something-else': {} }; break;
    case 'with-nonce': payload.nonce = rand(8); break;
    case 'wrong-aud': payload.aud = 'wrong-audience'; break;
    case 'wrong-iss': payload.iss = 'http://127.0.0.1:9/wrong-issuer'; break;
    case 'expired-iat': payload.iat = now - 3600; payload.exp = now - 3600 + 120; break;
    case 'no-sub-no-sid': delete payload.sub; delete payload.sid; break;
    case 'alg-none': return unsigned(payload, 'logout+jwt');
    case 'bad-signature': return signJws(header, payload, await rogueKey());
    default: break;
  }
  return signJws(header, payload, await signingKey());
}

async function endSessionsNatively(body) {
  const { sub, sid, session_id: sessionId } = body;
  if ([sub, sid, sessionId].filter((v) => v !== undefined).length !== 1) throw new BadRequest('give exactly one of sub, sid, session_id');
  for (const v of [sub, sid, sessionId]) if (v !== undefined && (typeof v !== 'string' || !v)) throw new BadRequest('sub/sid/session_id must be non-empty strings');
  const p = provider;
  const matches = liveSessions().filter((s) => (sub !== undefined && s.accountId === sub)
    || (sessionId !== undefined && s.jti === sessionId)
    || (sid !== undefined && Object.values(s.authorizations ?? {}).some((a) => a.sid === sid)));
  const before = state.deliveries.length;
  const ended = [];
  for (const payload of matches) {
    const session = await p.Session.find(payload.jti);
    if (!session) continue;
    const { accountId } = session;
    const jobs = [];
    for (const clientId of Object.keys(session.authorizations ?? {})) {
      const client = await p.Client.find(clientId).catch(() => undefined);
      if (!client?.backchannelLogoutUri) continue;
      const clientSid = session.sidFor(clientId);
      jobs.push(client.backchannelLogout(accountId, clientSid).then(
        () => p.emit('backchannel.success', undefined, client, accountId, clientSid),
        (err) => p.emit('backchannel.error', undefined, err, client, accountId, clientSid),
      ));
    }
    await Promise.all(jobs);
    for (const { grantId } of Object.values(session.authorizations ?? {})) if (grantId) revokeGrantEverywhere(grantId);
    ended.push({ session_id: session.jti, sub: accountId, clients: Object.keys(session.authorizations ?? {}) });
    await session.destroy();
  }
  return { ended, deliveries: state.deliveries.slice(before) };
}

// ---------------------------------------------------------------------------------------------
// HTTP plumbing
// ---------------------------------------------------------------------------------------------
function sendJson(res, status, value) {
  if (res.headersSent) return;
  const body = value === undefined ? '' : JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function readBody(req, limit = 1 << 20) {
  const chunks = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > limit) throw new BadRequest('body too large', 413);
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function readJson(req) {
  const text = (await readBody(req)).trim();
  if (!text) return {};
  let v;
  try { v = JSON.parse(text); } catch (e) { throw new BadRequest(`invalid JSON body: ${e.message}`); }
  if (!isObj(v)) throw new BadRequest('JSON body must be an object');
  return v;
}

async function readForm(req, url) {
  const params = Object.fromEntries(url.searchParams);
  if (req.method === 'POST') {
    const text = await readBody(req);
    const ct = String(req.headers['content-type'] || '');
    if (ct.includes('application/json')) {
      try { Object.assign(params, JSON.parse(text || '{}')); } catch { throw new BadRequest('invalid JSON body'); }
    } else {
      Object.assign(params, Object.fromEntries(new URLSearchParams(text)));
    }
  }
  return params;
}

// ---------------------------------------------------------------------------------------------
// Interaction routes: /interaction/:uid (page), /interaction/:uid/login, /interaction/:uid/abort
// ---------------------------------------------------------------------------------------------
async function handleInteraction(req, res, url) {
  const m = url.pathname.match(/^\/interaction\/([^/]+)(?:\/(login|abort))?\/?$/);
  if (!m) return sendJson(res, 404, { error: 'not_found' });
  const [, uid, action] = m;
  const p = provider;
  let details;
  try {
    details = await p.interactionDetails(req, res);
  } catch (e) {
    return sendJson(res, 400, { error: e.error || 'invalid_request', error_description: e.error_description || e.message });
  }
  if (details.uid !== uid) {
    return sendJson(res, 400, { error: 'invalid_request', error_description: 'interaction cookie does not match the uid in the path' });
  }
  const { prompt, params } = details;

  if (!action) {
    if (req.method !== 'GET') return sendJson(res, 405, { error: 'method_not_allowed' });
    const info = {
      uid, prompt: { name: prompt.name, reasons: prompt.reasons }, client_id: params.client_id, scope: params.scope,
      login_url: `/interaction/${uid}/login`, abort_url: `/interaction/${uid}/abort`,
    };
    if (String(req.headers.accept || '').includes('application/json')) return sendJson(res, 200, info);
    const html = page('Sign-in', `<h1>Sign in to ${esc(params.client_id)}</h1>`
      + `<form method="post" action="/interaction/${esc(uid)}/login"><input name="login" placeholder="account (sub)" autofocus>`
      + '<button type="submit">Sign in</button></form>'
      + `<form method="post" action="/interaction/${esc(uid)}/abort"><button type="submit">Abort</button></form>`
      + `<pre>${esc(JSON.stringify(info, null, 2))}</pre>`);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    return res.end(html);
  }

  if (req.method !== 'GET' && req.method !== 'POST') return sendJson(res, 405, { error: 'method_not_allowed' });
  const form = await readForm(req, url);

  if (action === 'abort') {
    log(`interaction ${uid}: abort`);
    return p.interactionFinished(req, res, { error: 'access_denied', error_description: 'End-User aborted interaction' }, { mergeWithLastSubmission: false });
  }

  const accountId = form.login ?? form.sub;
  if (typeof accountId !== 'string' || !accountId) return sendJson(res, 400, { error: 'invalid_request', error_description: 'missing login' });
  if (!state.accounts.has(accountId)) return sendJson(res, 400, { error: 'invalid_request', error_description: `unknown account ${accountId}` });

  const result = { login: { accountId } };
  if (prompt.name === 'consent') {
    // Not expected (loadExistingGrant auto-consents) but handled: grant everything requested.
    const grant = details.grantId ? await p.Grant.find(details.grantId) : new p.Grant({ accountId, clientId: params.client_id });
    if (prompt.details?.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
    if (prompt.details?.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    result.consent = { grantId: await grant.save() };
  }
  log(`interaction ${uid}: login ${accountId} (client ${params.client_id})`);
  return p.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

// ---------------------------------------------------------------------------------------------
// Admin API
// ---------------------------------------------------------------------------------------------
async function rebuild() {
  const next = await buildProvider();
  provider = next;
  providerHandler = next.callback();
}

async function handleAdmin(req, res, url) {
  const path = url.pathname.replace(/\/+$/, '');
  const method = req.method;
  const seg = path.split('/').slice(2).map((s) => { try { return decodeURIComponent(s); } catch { throw new BadRequest('bad path encoding'); } });
  const route = `${method} /${seg[0] ?? ''}${seg.length > 1 ? '/:x' : ''}`;

  switch (route) {
    case 'GET /health':
      return sendJson(res, 200, { ok: true, issuer: state.issuer });

    case 'GET /config':
      return sendJson(res, 200, {
        issuer: state.issuer,
        clients: [...state.clients.values()],
        accounts: Object.fromEntries(state.accounts),
        scope_claims: state.scopeClaims,
        signing_kid: state.keys[0].kid,
      });

    case 'GET /accounts':
      return sendJson(res, 200, Object.fromEntries(state.accounts));
    case 'GET /accounts/:x':
      if (!state.accounts.has(seg[1])) return sendJson(res, 404, { error: `unknown account ${seg[1]}` });
      return sendJson(res, 200, { sub: seg[1], ...state.accounts.get(seg[1]) });
    case 'PUT /accounts/:x': {
      if (!seg[1]) throw new BadRequest('empty sub');
      const claims = checkAccount(await readJson(req));
      const existed = state.accounts.has(seg[1]);
      state.accounts.set(seg[1], claims);
      log(`account ${seg[1]} ${existed ? 'replaced' : 'created'}`);
      return sendJson(res, 200, { sub: seg[1], ...claims });
    }
    case 'DELETE /accounts/:x':
      state.accounts.delete(seg[1]);
      return sendJson(res, 204);

    case 'GET /clients':
      return sendJson(res, 200, [...state.clients.values()]);
    case 'PUT /clients/:x': {
      const md = normalizeClient(await readJson(req), seg[1]);
      const prev = state.clients.get(md.client_id);
      state.clients.set(md.client_id, md);
      try {
        await rebuild();
      } catch (e) {
        if (prev) state.clients.set(md.client_id, prev); else state.clients.delete(md.client_id);
        throw new BadRequest(`invalid client metadata: ${e.error_description || e.message}`);
      }
      log(`client ${md.client_id} ${prev ? 'replaced' : 'added'}`);
      return sendJson(res, 200, md);
    }
    case 'DELETE /clients/:x':
      if (state.clients.delete(seg[1])) await rebuild();
      return sendJson(res, 204);

    case 'GET /keys':
      return sendJson(res, 200, { signing_kid: state.keys[0].kid, kids: state.keys.map((k) => k.kid) });
    case 'POST /rotate-keys': {
      const body = await readJson(req);
      if (body.keep_old !== undefined && typeof body.keep_old !== 'boolean') throw new BadRequest('keep_old must be a boolean');
      const key = await newSigningKey();
      const prevKeys = state.keys;
      state.keys = body.keep_old ? [key, ...prevKeys] : [key];
      try { await rebuild(); } catch (e) { state.keys = prevKeys; throw e; }
      log(`keys rotated: signing kid ${key.kid}; published ${state.keys.map((k) => k.kid).join(', ')}`);
      return sendJson(res, 200, { kid: key.kid, kids: state.keys.map((k) => k.kid) });
    }

    case 'GET /tamper':
      return sendJson(res, 200, { pending: state.pendingTamper ?? null });
    case 'DELETE /tamper':
      state.pendingTamper = undefined;
      return sendJson(res, 204);
    case 'POST /tamper': {
      const body = await readJson(req);
      if (!TAMPER_MODES.has(body.mode)) throw new BadRequest(`unknown mode ${JSON.stringify(body.mode)}; one of ${[...TAMPER_MODES].join(', ')}`);
      if (body.client_id !== undefined && !state.clients.has(body.client_id)) throw new BadRequest(`unknown client_id ${body.client_id}`);
      if (body.mode === 'replay' && !state.lastIdTokenByClient.get(body.client_id) && !state.lastIdToken) {
        throw new BadRequest('no previous id_token to replay yet', 409);
      }
      state.pendingTamper = { mode: body.mode, client_id: body.client_id };
      log(`tamper armed: ${body.mode}${body.client_id ? ` for ${body.client_id}` : ''}`);
      return sendJson(res, 204);
    }

    case 'POST /backchannel-logout': {
      const body = await readJson(req);
      if (typeof body.client_id !== 'string' || !state.clients.has(body.client_id)) throw new BadRequest(`unknown client_id ${JSON.stringify(body.client_id)}`);
      const target = body.url ?? state.clients.get(body.client_id).backchannel_logout_uri;
      if (typeof target !== 'string') throw new BadRequest(`client ${body.client_id} has no backchannel_logout_uri (and no url given)`);
      const token = await buildLogoutToken(body);
      state.lastAdminLogoutToken = token;
      return sendJson(res, 200, await postLogoutToken(target, token));
    }
    case 'POST /post-logout-token': {
      const body = await readJson(req);
      if (typeof body.url !== 'string' || typeof body.logout_token !== 'string') throw new BadRequest('url and logout_token (strings) are required');
      return sendJson(res, 200, await postLogoutToken(body.url, body.logout_token));
    }

    case 'GET /sessions':
      return sendJson(res, 200, liveSessions().map((s) => ({
        session_id: s.jti,
        uid: s.uid,
        sub: s.accountId,
        login_ts: s.loginTs,
        clients: Object.entries(s.authorizations ?? {}).map(([clientId, a]) => ({ client_id: clientId, sid: a.sid, grant_id: a.grantId })),
      })));
    case 'POST /end-session': {
      const out = await endSessionsNatively(await readJson(req));
      log(`admin end-session: ended ${out.ended.length} session(s), ${out.deliveries.length} back-channel deliveries`);
      return sendJson(res, 200, out);
    }

    case 'GET /last-logout-deliveries':
      return sendJson(res, 200, state.deliveries);
    case 'DELETE /last-logout-deliveries':
      state.deliveries = [];
      return sendJson(res, 204);

    default:
      return sendJson(res, 404, { error: `no admin route ${method} ${path}` });
  }
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------
async function main() {
  let cfg;
  try {
    cfg = loadConfig();
    quiet = cfg.quiet === true;
    for (const c of cfg.clients ?? []) {
      const md = normalizeClient(c);
      if (state.clients.has(md.client_id)) throw new Error(`duplicate client_id ${md.client_id}`);
      state.clients.set(md.client_id, md);
    }
    for (const [sub, claims] of Object.entries(cfg.accounts ?? {})) state.accounts.set(sub, checkAccount(claims));
    // true: the ID token carries only what oidc-provider puts there by default; the scopes' claims
    // come from userinfo (oidc-provider's own default, and many providers').
    state.conformIdTokenClaims = cfg.conform_id_token_claims === true;
    if (cfg.scope_claims) {
      for (const [scope, claims] of Object.entries(cfg.scope_claims)) {
        if (!Array.isArray(claims) || !claims.every((c) => typeof c === 'string')) throw new Error(`scope_claims.${scope} must be an array of strings`);
      }
      state.scopeClaims = { ...DEFAULT_SCOPE_CLAIMS, ...cfg.scope_claims };
    }
  } catch (e) {
    logAlways(`bad config: ${e.message}`);
    process.exit(2);
  }

  const [key] = await Promise.all([newSigningKey(), rogueKey()]);
  state.keys = [key];

  const server = http.createServer(async (req, res) => {
    let url;
    try {
      url = new URL(req.url, 'http://127.0.0.1');
    } catch {
      return sendJson(res, 400, { error: 'bad url' });
    }
    try {
      if (url.pathname === '/admin' || url.pathname.startsWith('/admin/')) return await handleAdmin(req, res, url);
      if (url.pathname.startsWith('/interaction/')) return await handleInteraction(req, res, url);
      return providerHandler(req, res);
    } catch (e) {
      if (e instanceof BadRequest) return sendJson(res, e.status, { error: e.message });
      logAlways(`internal error on ${req.method} ${url.pathname}: ${e.stack || e}`);
      return sendJson(res, 500, { error: String(e.message || e) });
    }
  });
  server.keepAliveTimeout = 1000;

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.port ?? 0, '127.0.0.1', resolve);
  });
  state.issuer = `http://127.0.0.1:${server.address().port}`;

  try {
    await rebuild();
  } catch (e) {
    logAlways(`cannot start provider: ${e.error_description || e.message}`);
    process.exit(2);
  }

  const stop = (why) => {
    log(`stopping (${why})`);
    process.exit(0);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  if (cfg.exit_on_stdin_eof !== false) {
    process.stdin.on('end', () => stop('stdin closed'));
    process.stdin.on('close', () => stop('stdin closed'));
    process.stdin.on('error', () => stop('stdin error'));
    process.stdin.resume();
  }
  process.on('uncaughtException', (e) => logAlways(`uncaught: ${e.stack || e}`));
  process.on('unhandledRejection', (e) => logAlways(`unhandled rejection: ${e?.stack || e}`));

  log(`issuer ${state.issuer}; clients: ${[...state.clients.keys()].join(', ') || '(none)'}; accounts: ${[...state.accounts.keys()].join(', ') || '(none)'}`);
  process.stdout.write(`READY ${state.issuer}\n`);
}

main().catch((e) => {
  logAlways(`fatal: ${e.stack || e}`);
  process.exit(1);
});
