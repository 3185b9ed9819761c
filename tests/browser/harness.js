// Shared pieces of the browser tests: the real seatphone host on free ports
// with a temp config, headless Chromium with a fresh profile, a second HTTP
// server (another origin), and helpers to read the demo page's log.
'use strict';

const { spawn } = require('node:child_process');
const dgram = require('node:dgram');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const REPO = path.resolve(__dirname, '..', '..');
const HOST_BIN = process.env.SEATPHONE_BIN
  ? path.resolve(process.env.SEATPHONE_BIN)
  : path.join(REPO, 'target', 'release', 'seatphone');
const OUTPUT_DIR = path.join(REPO, 'test-output');
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Process groups this test process started (hosts, peers): killed if the
// runner is interrupted before the tests' own after() hooks could stop them.
const groups = new Set();
function trackGroup(child) {
  groups.add(child.pid);
  child.once('exit', () => groups.delete(child.pid));
}
function killGroups() {
  for (const pid of groups) { try { process.kill(-pid, 'SIGKILL'); } catch (e) { /* gone */ } }
  groups.clear();
}
process.once('exit', killGroups);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => { killGroups(); process.exit(130); });
}

function udpFree(port) {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

function tcpFree(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * `span` consecutive ports free for UDP and TCP on 127.0.0.1 (baresip takes
 * port and port + 1, its RTP a range), from a random place in 40000–59999:
 * the one free-port helper of the browser tests (hosts, peers, servers).
 */
async function freePorts(span = 1) {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 40000 + Math.floor(Math.random() * (20000 - span));
    let ok = true;
    for (let p = base; p < base + span && ok; p++) ok = (await udpFree(p)) && (await tcpFree(p));
    if (ok) return base;
  }
  throw new Error(`no ${span} free consecutive ports on 127.0.0.1`);
}

/** A port free for UDP and TCP on 127.0.0.1 right now. */
const freePort = () => freePorts(1);

/**
 * Asks `check` (sync or async) every `every` ms until it answers something
 * truthy, and resolves with that; after `timeout` ms, throws an Error saying
 * what `fail()` says (asked then, so it can show the state it gave up on).
 */
async function waitFor(check, { timeout = 15000, every = 50, fail = () => `nothing within ${timeout} ms` } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const hit = await check();
    if (hit) return hit;
    if (Date.now() > deadline) throw new Error(await fail());
    await sleep(every);
  }
}

/** Mono 16-bit PCM WAV of a sine tone: the host's virtual microphone. */
function writeToneWav(file, { rate = 8000, seconds = 10, freq = 440 } = {}) {
  const n = rate * seconds;
  const buf = Buffer.alloc(44 + n * 2);
  buf.write('RIFF', 0); buf.writeUInt32LE(36 + n * 2, 4); buf.write('WAVE', 8);
  buf.write('fmt ', 12); buf.writeUInt32LE(16, 16); buf.writeUInt16LE(1, 20); buf.writeUInt16LE(1, 22);
  buf.writeUInt32LE(rate, 24); buf.writeUInt32LE(rate * 2, 28); buf.writeUInt16LE(2, 32); buf.writeUInt16LE(16, 34);
  buf.write('data', 36); buf.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) {
    buf.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * freq * i) / rate)), 44 + i * 2);
  }
  fs.writeFileSync(file, buf);
}

/**
 * What a 16-bit PCM WAV (the host's virtual speaker) holds: its length, how
 * much of it is not silence, and how much of the sound's power is at `freq`
 * (1 for a pure tone of that frequency, near 0 for anything else).
 */
function analyzeWav(file, freq) {
  const buf = fs.readFileSync(file);
  let off = 12;
  let rate = 0;
  let channels = 1;
  let data = null;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    let size = buf.readUInt32LE(off + 4);
    if (id === 'fmt ') { channels = buf.readUInt16LE(off + 10); rate = buf.readUInt32LE(off + 12); }
    if (id === 'data') {
      if (size === 0 || off + 8 + size > buf.length) size = buf.length - off - 8;
      data = buf.subarray(off + 8, off + 8 + size);
      break;
    }
    off += 8 + size + (size % 2);
  }
  if (!data || !rate) throw new Error(`${file} is not a PCM WAV`);
  const frames = Math.floor(data.length / 2 / channels);
  const x = new Float64Array(frames);
  for (let i = 0; i < frames; i++) x[i] = data.readInt16LE(i * 2 * channels) / 32768;
  const block = Math.floor(rate / 10);
  let loud = 0;
  let tone = 0;
  let total = 0;
  for (let b = 0; b + block <= frames; b += block) {
    let energy = 0;
    for (let i = b; i < b + block; i++) energy += x[i] * x[i];
    if (energy / block < 1e-5) continue; // quieter than -50 dBFS: silence
    loud++;
    // Goertzel at freq over this block.
    const w = (2 * Math.PI * freq) / rate;
    const c = 2 * Math.cos(w);
    let s1 = 0;
    let s2 = 0;
    for (let i = b; i < b + block; i++) { const s0 = x[i] + c * s1 - s2; s2 = s1; s1 = s0; }
    const power = (s1 * s1 + s2 * s2 - c * s1 * s2) * 2 / (block * block);
    tone += power;
    total += energy / block;
  }
  return { rate, seconds: frames / rate, loudSeconds: loud / 10, toneRatio: total > 0 ? tone / total : 0 };
}

function httpGet(url, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.setTimeout(3000, () => req.destroy(new Error('timeout')));
  });
}

// SEATPHONE_ATTACH=PORT,DAEMON_PORT: the tests use a Seatphone that is
// already running (the installed package, started by scripts/test-package.sh)
// instead of starting their own; SEATPHONE_ATTACH_LOGS names its log folder.
const ATTACH = process.env.SEATPHONE_ATTACH || '';

function hostBinaryMissing() {
  if (ATTACH) return null;
  return fs.existsSync(HOST_BIN) ? null
    : `the host binary ${HOST_BIN} does not exist: build it (cargo build --release -p seatphone ...) or set SEATPHONE_BIN`;
}

/** Why a test that starts, stops or reconfigures its own host cannot run now. */
function needsOwnHost() {
  return ATTACH ? 'runs against a Seatphone it starts itself (SEATPHONE_ATTACH is set)' : null;
}

/** The running Seatphone named by SEATPHONE_ATTACH: nothing is started or stopped. */
async function attachedHost() {
  const [port, daemonPort] = ATTACH.split(',').map(Number);
  const logs = process.env.SEATPHONE_ATTACH_LOGS || '';
  const host = {
    tmp: null, config: null, port, daemonPort, child: null, exited: null,
    base: `http://127.0.0.1:${port}`,
    health: async () => JSON.parse((await httpGet(`http://127.0.0.1:${port}/health`)).body),
    log: () => (logs ? readLogs(path.dirname(logs), path.basename(logs)) : ''),
    stop: async () => { throw new Error('an attached Seatphone is not stopped by the tests'); },
    dispose: async () => {},
  };
  const r = await httpGet(`${host.base}/health`);
  if (r.status !== 200 || !(await canConnect(daemonPort))) {
    throw new Error(`SEATPHONE_ATTACH=${ATTACH}: no Seatphone answers there`);
  }
  return host;
}

/**
 * Starts `seatphone --config <tmp>/seatphone.toml` on free ports and waits
 * until /health answers and the daemon port accepts connections.
 * `extraToml` is appended to the config (e.g. [api] allowed_origins is not
 * used by these tests: the default allow-list is what they check).
 */
async function startHost({ extraApi = '', extraToml = '', ports, tmp } = {}) {
  if (ATTACH) {
    if (extraApi || extraToml) throw new Error(`this test configures its host: ${needsOwnHost()}`);
    return attachedHost();
  }
  tmp = tmp || fs.mkdtempSync(path.join(os.tmpdir(), 'seatphone-browser-'));
  const daemonPort = ports ? ports.daemonPort : await freePort();
  let port = ports ? ports.port : await freePort();
  while (port === daemonPort) port = await freePort();
  const wav = path.join(tmp, 'in.wav');
  if (!fs.existsSync(wav)) writeToneWav(wav);
  const config = path.join(tmp, 'seatphone.toml');
  fs.writeFileSync(config, [
    '[api]',
    'bind = "127.0.0.1"',
    `daemon_port = ${daemonPort}`,
    `port = ${port}`,
    extraApi,
    '[plugins]',
    `dir = ${JSON.stringify(path.dirname(HOST_BIN))}`,
    '[sip]',
    'local_port = 0',
    '[log]',
    `dir = ${JSON.stringify(path.join(tmp, 'log'))}`,
    '[audio]',
    `input = ${JSON.stringify('file:' + wav)}`,
    `output = ${JSON.stringify('file:' + path.join(tmp, 'out.wav'))}`,
    extraToml,
    '',
  ].join('\n'));

  const out = fs.openSync(path.join(tmp, 'host.stdout.log'), 'a');
  const child = spawn(HOST_BIN, ['--config', config], {
    cwd: tmp, detached: true, stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  trackGroup(child);
  let exited = null;
  child.on('exit', (code, signal) => { exited = { code, signal }; });

  const host = {
    tmp, config, port, daemonPort, child,
    base: `http://127.0.0.1:${port}`,
    get exited() { return exited; },
    health: async () => JSON.parse((await httpGet(`http://127.0.0.1:${port}/health`)).body),
    log: () => readLogs(tmp),
    stop: () => stopProcessGroup(child),
    /** Stops the host and removes its temp folder (config, logs, WAV files). */
    async dispose() {
      await stopProcessGroup(child);
      if (!process.env.SEATPHONE_KEEP_TMP) fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
  try {
    await waitFor(async () => {
      if (exited) {
        throw new Error(`seatphone exited at start (${JSON.stringify(exited)}):\n${readLogs(tmp).slice(-3000)}`);
      }
      try {
        const r = await httpGet(`${host.base}/health`);
        return r.status === 200 && await canConnect(daemonPort);
      } catch (e) { return false; } // not up yet
    }, { timeout: 30000, every: 100, fail: () => `seatphone did not answer /health within 30 s:\n${readLogs(tmp).slice(-3000)}` });
  } catch (e) {
    await host.stop();
    throw e;
  }
  return host;
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

/** Everything the host wrote: stdout/stderr and its log folder. */
function readLogs(tmp, logDir = 'log') {
  let text = '';
  const add = (f) => { try { text += `--- ${path.basename(f)}\n` + fs.readFileSync(f, 'utf8'); } catch (e) { /* absent */ } };
  add(path.join(tmp, 'host.stdout.log'));
  try {
    for (const f of fs.readdirSync(path.join(tmp, logDir))) add(path.join(tmp, logDir, f));
  } catch (e) { /* no log dir yet */ }
  return text;
}

/** SIGTERM to the process group we started, SIGKILL after 5 s. */
async function stopProcessGroup(child, graceMs = 5000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise((r) => child.once('exit', r));
  try { process.kill(-child.pid, 'SIGTERM'); } catch (e) { return; }
  const t = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch (e) { /* gone */ } }, graceMs);
  await done;
  clearTimeout(t);
  // The engine child may outlive the daemon for a moment.
  try { process.kill(-child.pid, 0); await sleep(200); process.kill(-child.pid, 'SIGKILL'); } catch (e) { /* group gone */ }
}

/** The children of a process we started (the daemon's engine). */
function childPids(pid) {
  try {
    return fs.readdirSync(`/proc/${pid}/task`).flatMap((t) =>
      fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
  } catch (e) { return []; }
}

/**
 * Headless Chromium with a fresh profile; close() also removes the profile.
 * `ca`: a test CA (PEM file) Chromium trusts, put in the NSS database of a
 * home folder of its own, as an administrator adds a company CA.
 * `resolve`: names Chromium resolves to 127.0.0.1 (`*.example.test`).
 */
async function launchBrowser({ ca, resolve = [] } = {}) {
  const { chromium } = require('playwright-core');
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'seatphone-chromium-'));
  const env = Object.assign({}, process.env);
  if (ca) {
    env.HOME = path.join(profile, 'home');
    const nssdb = path.join(env.HOME, '.pki', 'nssdb');
    fs.mkdirSync(nssdb, { recursive: true });
    const certutil = (...args) => require('node:child_process').execFileSync('certutil', ['-d', `sql:${nssdb}`, ...args]);
    certutil('-N', '--empty-password');
    certutil('-A', '-t', 'C,,', '-n', 'seatphone-test-ca', '-i', ca);
  }
  // Pages fulfilled by the test (SEATPHONE_WEB_FROM_TREE) have no loopback
  // address, and Chromium's Local Network Access checks would then block
  // their sockets to 127.0.0.1; pages loaded from the host need no such flag.
  let args = process.env.SEATPHONE_WEB_FROM_TREE === '1'
    ? CHROMIUM_ARGS.concat(['--disable-features=LocalNetworkAccessChecks'])
    : CHROMIUM_ARGS;
  if (resolve.length) args = args.concat([`--host-resolver-rules=${resolve.map((n) => `MAP ${n} 127.0.0.1`).join(',')}`]);
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    env,
    args,
    viewport: { width: 1400, height: 1000 },
  });
  return {
    context,
    async newPage() {
      const page = await context.newPage();
      page.errors = [];
      page.on('pageerror', (e) => page.errors.push(String(e)));
      return page;
    },
    async close() {
      await context.close().catch(() => {});
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * A test CA and a certificate it signs for `names` (DNS names and IPs), made
 * with openssl in `dir`: { ca, cert, key } (PEM file paths).
 */
function makeTestCerts(dir, names) {
  const run = (...args) => require('node:child_process').execFileSync('openssl', args, { stdio: 'pipe' });
  const f = (n) => path.join(dir, n);
  run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', '/CN=Seatphone test CA', '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-keyout', f('ca.key'), '-out', f('ca.pem'));
  run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=localhost',
    '-keyout', f('host.key'), '-out', f('host.csr'));
  const san = names.map((n) => (/^[0-9.]+$/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
  fs.writeFileSync(f('host.ext'), `subjectAltName=${san}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`);
  run('x509', '-req', '-in', f('host.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial',
    '-days', '2', '-extfile', f('host.ext'), '-out', f('host.pem'));
  return { ca: f('ca.pem'), cert: f('host.pem'), key: f('host.key') };
}

/** A plain HTTP server on another port (or https with `tls`: {cert, key}): pages from it are another origin. */
async function startOtherOrigin(pages, port, tls) {
  port = port || await freePort();
  const handler = (req, res) => {
    const body = pages[new URL(req.url, 'http://x').pathname];
    if (body === undefined) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(body);
  };
  const server = tls
    ? require('node:https').createServer({ cert: fs.readFileSync(tls.cert), key: fs.readFileSync(tls.key) }, handler)
    : http.createServer(handler);
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return {
    port,
    base: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    close: () => new Promise((r) => { server.close(r); server.closeAllConnections(); }),
  };
}

/** Opens the demo page from the host and presses Init; resolves when the call socket is ready. */
async function openDemo(browser, host, { takeover = false, waitReady = true } = {}) {
  const page = await browser.newPage();
  page.wsFrames = [];
  page.on('websocket', (ws) => {
    ws.on('framesent', (f) => page.wsFrames.push({ dir: 'sent', url: ws.url(), payload: f.payload }));
    ws.on('framereceived', (f) => page.wsFrames.push({ dir: 'received', url: ws.url(), payload: f.payload }));
  });
  await gotoHost(page, host);
  if (takeover) await page.check('#takeover');
  await page.click('#btn-init');
  if (waitReady) await waitForLog(page, (e) => e.kind === 'callback' && e.name === 'onOpeneyeCallReady');
  return page;
}

/**
 * The demo page from the host, not initialised, for a test's own SDK:
 * `await window.callReady(sdk)` in the page waits until that SDK's call
 * socket is open (rejects after 10 s).
 */
async function sdkPage(browser, host) {
  const page = await browser.newPage();
  await gotoHost(page, host);
  await page.evaluate(() => {
    window.callReady = (sdk) => new Promise((resolve, reject) => {
      const t = setInterval(() => { if (sdk.state().call) { clearInterval(t); resolve(); } }, 20);
      setTimeout(() => { clearInterval(t); reject(new Error('call socket not ready within 10 s')); }, 10000);
    });
  });
  return page;
}

/** Loads the demo page from the host (or, as a development aid, from the tree). */
async function gotoHost(page, host, url = `${host.base}/`) {
  if (process.env.SEATPHONE_WEB_FROM_TREE === '1') await serveTreeAssets(page, host);
  await page.goto(url);
}

/**
 * Development aid, off by default: the host embeds web/ when it is built, so
 * with SEATPHONE_WEB_FROM_TREE=1 the page gets the working tree's demo and SDK
 * (defaults substituted as the host does) without rebuilding the host.
 */
async function serveTreeAssets(page, host) {
  const web = path.join(REPO, 'web');
  const files = {
    '/': ['demo/index.html', 'text/html'],
    '/demo.js': ['demo/demo.js', 'text/javascript'],
    '/demo.css': ['demo/demo.css', 'text/css'],
    '/OpenEye_SDK.js': ['OpenEye_SDK.js', 'text/javascript'],
  };
  await page.route(`${host.base}/**`, (route) => {
    const u = new URL(route.request().url());
    const f = files[u.pathname];
    if (!f) return route.continue();
    let body = fs.readFileSync(path.join(web, f[0]), 'utf8');
    if (u.pathname === '/OpenEye_SDK.js') {
      const defaults = JSON.stringify({ host: '127.0.0.1', daemonPort: host.daemonPort, port: host.port });
      body = body.replace(/(var SEATPHONE_DEFAULTS = )\{.*\};/, `$1${defaults};`);
    }
    return route.fulfill({ status: 200, contentType: f[1], body });
  });
}

/** Waits for a demo log entry matching `pred` that appeared after index `from`. */
async function waitForLog(page, pred, { from = 0, timeout = 15000 } = {}) {
  let log = [];
  return waitFor(async () => {
    log = await page.evaluate(() => window.demoLog);
    return log.slice(from).find(pred);
  }, {
    timeout,
    fail: () => `no matching log entry within ${timeout} ms; log:\n` +
      log.slice(-30).map((e) => `${e.kind} ${e.name} ${JSON.stringify(e.data)}`).join('\n'),
  });
}

const logLength = (page) => page.evaluate(() => window.demoLog.length);

/** Whether a demo log entry is the event `notify` (a number of PROTOCOL.md). */
const isEvent = (notify) => (e) => e.kind === 'event' && e.data && e.data.notify === notify;

/** Whether a demo log entry is the response to the SDK method `method`. */
const isResponse = (method) => (e) => e.kind === 'response' && e.name === method;

/** Runs `act` (a click, a check) on the demo page and resolves with the data its `method` response callback got. */
async function answerTo(page, method, act, timeout = 15000) {
  const from = await logLength(page);
  await act();
  return (await waitForLog(page, isResponse(method), { from, timeout })).data;
}

/** Clicks `button` on the demo page and resolves with the data its `method` response callback got. */
function clickFor(page, button, method, timeout = 15000) {
  return answerTo(page, method, () => page.click(button), timeout);
}

/** A response's data that must say success (result 0); `what` names it in the failure. */
function ok(data, what) {
  if (data.result !== 0) throw new Error(`${what} failed: ${JSON.stringify(data)}`);
  return data;
}

/**
 * From the demo page: config for Kamailio on 127.0.0.1:`kamPort` (UDP) and
 * register `user` (password pass<user>), until the page shows it registered.
 * Resolves with the config and register responses; throws on a failure.
 */
async function demoRegister(page, kamPort, user = '1001') {
  await page.fill('#sipServer', '127.0.0.1');
  await page.fill('#sipPort', String(kamPort));
  await page.selectOption('#sipTransport', '0');
  const config = ok(await clickFor(page, '#btn-config', 'config'), 'config');
  await page.fill('#phoneNumber', user);
  await page.fill('#password', `pass${user}`);
  const register = ok(await clickFor(page, '#btn-register', 'register'), 'register');
  await page.waitForFunction(() => /registered/.test(document.getElementById('phoneStatus').textContent));
  return { config, register };
}

/**
 * From the demo page: register 1001 at Kamailio on 127.0.0.1:`kamPort`
 * (demoRegister), place a video call to `callee` and wait until it is
 * connected (2006). Resolves with startCall's response; throws on a failure.
 */
async function demoVideoCall(page, kamPort, callee) {
  await demoRegister(page, kamPort);
  await page.fill('#calloutNumber', callee);
  const started = ok(await clickFor(page, '#btn-startVideoCall', 'startCall'), 'startCall');
  await waitForLog(page, isEvent(2006));
  return started;
}

/**
 * What the tests of one describe block share, made in its before hook and
 * undone in its after hook, the last made first. Called in the describe
 * block, it returns the stage, filled in by the time the tests run:
 *
 *     const s = h.stage({ host: { extraToml }, peer: {}, demo: true });
 *     test('…', async (t) => { if (s.skip) return t.skip(s.skip); … s.page … });
 *
 * - `prepare(s)`: runs first (temp folders with `s.tempDir`, ports).
 * - `host`: startHost's options, or a function of the stage giving them
 *   (after `prepare`): `s.host`.
 * - `sip`: the tests need the host's SIP layer: skipped while its /health
 *   has no "sip" section or says "available": false.
 * - `peer`: a Kamailio (`s.kam`) and baresip 1002 registered there
 *   (`s.baresip`), with these startBaresip options (answermode 'auto').
 * - `browser`: launchBrowser's options, or a function of the stage giving
 *   them; false: no browser. `s.browser`.
 * - `demo`: the demo page from the host, Init pressed (`s.page`).
 * - `setUp(s)`: runs last (servers that need the host's ports).
 * - `closePages`: after each test, close the pages it left open (a failed
 *   test's page would hold the call socket for the next).
 *
 * `s.skip` says why the tests cannot run here (no host binary, a host of
 * their own while SEATPHONE_ATTACH is set, no kamailio or baresip, no SIP),
 * else null. `s.defer(fn)` adds something of the tests' own to undo.
 */
function stage({ prepare, host = {}, sip = false, peer, browser = {}, demo = false, setUp, closePages = false } = {}) {
  const test = require('node:test');
  const undo = [];
  const s = {
    skip: null, host: null, kam: null, baresip: null, browser: null, page: null,
    defer: (fn) => { undo.push(fn); },
    /** A temp folder removed in the after hook. */
    tempDir(prefix) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
      undo.push(() => fs.rmSync(dir, { recursive: true, force: true }));
      return dir;
    },
  };
  const configured = typeof host === 'function' || Object.keys(host).length > 0;
  const missingPeers = peer ? require('./peers').missingPeers() : [];
  s.skip = hostBinaryMissing() || (configured ? needsOwnHost() : null) ||
    (missingPeers.length ? `${missingPeers.join(' and ')} not installed (apt-get install kamailio baresip)` : null);

  test.before(async () => {
    if (s.skip) return;
    if (prepare) await prepare(s);
    s.host = await startHost(typeof host === 'function' ? await host(s) : host);
    undo.push(() => s.host.dispose());
    if (sip) {
      const health = await s.host.health();
      if (!health || typeof health.sip !== 'object' || health.sip === null || health.sip.available === false) {
        s.skip = 'SIP is not wired into the host yet: GET /health has no "sip" section, or it says ' +
          `"available": false (it reports ${JSON.stringify(health && health.sip)})`;
        return;
      }
    }
    if (peer) {
      const peers = require('./peers');
      s.kam = await peers.startKamailioRetrying();
      undo.push(() => s.kam.stop());
      s.baresip = await peers.startBaresip('1002', s.kam, Object.assign({ answermode: 'auto' }, peer));
      undo.push(() => s.baresip.stop());
    }
    if (browser) {
      s.browser = await launchBrowser(typeof browser === 'function' ? await browser(s) : browser);
      undo.push(() => s.browser.close());
    }
    if (demo) s.page = await openDemo(s.browser, s.host);
    if (setUp) await setUp(s);
  });

  if (closePages) {
    test.afterEach(async () => {
      if (s.browser) for (const p of s.browser.context.pages()) await p.close().catch(() => {});
    });
  }

  test.after(async () => {
    while (undo.length) await undo.pop()();
  });
  return s;
}

module.exports = {
  trackGroup, REPO, HOST_BIN, OUTPUT_DIR, sleep, waitFor, freePort, freePorts, writeToneWav, analyzeWav, httpGet, hostBinaryMissing, needsOwnHost,
  startHost, stopProcessGroup, childPids, readLogs, launchBrowser, makeTestCerts, startOtherOrigin, openDemo, sdkPage, gotoHost, waitForLog, logLength,
  isEvent, isResponse, answerTo, clickFor, ok, demoRegister, demoVideoCall, stage,
};
