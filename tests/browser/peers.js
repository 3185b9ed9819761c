// Real SIP peers on 127.0.0.1 for the browser story test: Kamailio as
// registrar + proxy, baresip as the phone at the other end. Kamailio's
// config comes from the project's template in tests/peers/ (the one the
// Rust SIP tests use), baresip's is written here; both on free ports, in a
// temp folder. Each peer runs in its own process group and is stopped with it.
'use strict';

const { spawn, execFileSync } = require('node:child_process');
const dgram = require('node:dgram');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { REPO, freePorts, sleep, stopProcessGroup, trackGroup, waitFor } = require('./harness');

const TEMPLATES = path.join(REPO, 'tests', 'peers');

/** Which of kamailio and baresip are missing from PATH (empty when both are there). */
function missingPeers() {
  return ['kamailio', 'baresip'].filter((bin) => {
    try { execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }); return false; } catch (e) { return true; }
  });
}

function fill(template, values) {
  let text = fs.readFileSync(path.join(TEMPLATES, template), 'utf8');
  for (const [key, value] of Object.entries(values)) {
    if (!text.includes(key)) {
      throw new Error(`tests/peers/${template} no longer has the placeholder ${key}: update tests/browser/peers.js`);
    }
    text = text.split(key).join(String(value));
  }
  // Placeholders this harness does not know are optional features of the
  // Rust harness (TLS …): left empty, they stay off.
  return text.replace(/@[A-Z][A-Z0-9_]*@/g, '');
}

/** Sends OPTIONS to 127.0.0.1:port until a 200 comes back. */
async function waitForOptions(port, timeoutMs = 10000) {
  const sock = dgram.createSocket('udp4');
  await new Promise((r) => sock.bind(0, '127.0.0.1', r));
  const local = sock.address().port;
  let answered = false;
  sock.on('message', (m) => { if (m.toString().startsWith('SIP/2.0 200')) answered = true; });
  const deadline = Date.now() + timeoutMs;
  for (let n = 1; !answered && Date.now() < deadline; n++) {
    const msg = `OPTIONS sip:127.0.0.1:${port} SIP/2.0\r\n` +
      `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bKbrowser${n};rport\r\n` +
      'Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=probe\r\n' +
      `To: <sip:127.0.0.1:${port}>\r\nCall-ID: browser-probe-${port}-${n}@127.0.0.1\r\n` +
      `CSeq: ${n} OPTIONS\r\nContent-Length: 0\r\n\r\n`;
    sock.send(msg, port, '127.0.0.1');
    await sleep(200);
  }
  sock.close();
  return answered;
}

function spawnGroup(cmd, args, dir, logName) {
  const log = fs.openSync(path.join(dir, logName), 'a');
  const child = spawn(cmd, args, { cwd: dir, detached: true, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  child.on('error', () => {});
  trackGroup(child);
  return child;
}

/**
 * Kamailio with users 1001…1005 (password pass<user>), MD5 digest, usrloc in
 * memory. Resolves once it answers OPTIONS.
 */
async function startKamailio({ users = ['1001', '1002', '1003', '1004', '1005'], maxExpires = 3600 } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seatphone-browser-kam-'));
  const port = await freePorts(1);
  const cfg = fill('kamailio.cfg', {
    '@PORT@': port,
    '@CTL@': path.join(dir, 'ctl.sock'),
    '@MAX_EXPIRES@': maxExpires,
    '@AUTH_PARAMS@': '',
    '@USERS@': users.map((u) => `    $sht(users=>${u}) = "pass${u}";`).join('\n'),
  });
  fs.writeFileSync(path.join(dir, 'kamailio.cfg'), cfg);
  const child = spawnGroup('kamailio', ['-f', path.join(dir, 'kamailio.cfg'), '-DD', '-E', '-m', '256', '-M', '16',
    '-Y', dir, '-P', path.join(dir, 'kamailio.pid')], dir, 'kamailio.log');
  const kam = {
    port, dir, child,
    log: () => { try { return fs.readFileSync(path.join(dir, 'kamailio.log'), 'utf8'); } catch (e) { return ''; } },
    /** `kamcmd ul.dump`: the registered contacts. */
    ulDump: () => {
      try { return execFileSync('kamcmd', ['-s', `unix:${path.join(dir, 'ctl.sock')}`, 'ul.dump'], { encoding: 'utf8' }); } catch (e) { return ''; }
    },
    async stop() {
      await stopProcessGroup(child, 3000);
      if (!process.env.SEATPHONE_KEEP_TMP) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  if (!(await waitForOptions(port, 20000))) {
    const log = kam.log();
    await kam.stop();
    throw new Error(`kamailio did not answer OPTIONS on ${port} within 20 s:\n${log.slice(-3000)}`);
  }
  return kam;
}

/** startKamailio, tried again on other ports if the first start fails (a port taken meanwhile). */
async function startKamailioRetrying(opts, tries = 3) {
  for (let i = 1; ; i++) {
    try { return await startKamailio(opts); } catch (e) { if (i >= tries) throw e; }
  }
}

/**
 * baresip's config: SIP on `port`, ctrl_tcp on `ctrl`, RTP on `rtp`..`rtp + 39`;
 * no sound device (ausine as source, no player), G.711. The Rust harness
 * writes the same in tests/src/peers/baresip.rs (BaresipOptions).
 */
function baresipConfig(port, ctrl, rtp) {
  return [
    'poll_method\t\tepoll', 'call_local_timeout\t120', 'call_max_calls\t\t4',
    `sip_listen\t\t127.0.0.1:${port}`, 'net_interface\t\t127.0.0.1', 'dns_server\t\t127.0.0.1:53',
    'audio_source\t\tausine,440', 'audio_alert\t\tausine,440', 'ausrc_srate\t\t48000',
    // baresip 1.0's ausine makes stereo only.
    'ausrc_channels\t\t2', 'audio_buffer\t\t20-160', `rtp_ports\t\t${rtp}-${rtp + 39}`, 'rtcp_mux\t\tno',
    'jitter_buffer_delay\t5-10', 'module_path\t\t/usr/lib/baresip/modules',
    'module\t\t\tg711.so', 'module\t\t\tausine.so',
    'module_tmp\t\tuuid.so', 'module_tmp\t\taccount.so', 'module_app\t\tmenu.so', 'module_app\t\tctrl_tcp.so',
    `ctrl_tcp_listen\t\t127.0.0.1:${ctrl}`, '',
  ].join('\n');
}

/**
 * baresip registered as `user` (password pass<user>) at `kam`, answering
 * calls itself when `answermode` is 'auto'. Driven through ctrl_tcp
 * (netstring JSON); `events` collects what it reports.
 */
/**
 * `extraConfig`: lines appended to baresip's config (modules, a video
 * source), as the Rust harness's `Baresip::start_with` does.
 */
async function startBaresip(user, kam, { answermode = 'auto', extraConfig = '' } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seatphone-browser-baresip-'));
  const port = await freePorts(2);
  const ctrlPort = await freePorts(1);
  const rtp = await freePorts(40);
  fs.writeFileSync(path.join(dir, 'config'), baresipConfig(port, ctrlPort, rtp) + extraConfig);
  fs.writeFileSync(path.join(dir, 'accounts'), `<sip:${user}@127.0.0.1:${kam.port}>;auth_pass=pass${user};` +
    `outbound="sip:127.0.0.1:${kam.port}";answermode=${answermode};audio_codecs=PCMU/8000/1,PCMA/8000/1;regint=600\n`);
  fs.writeFileSync(path.join(dir, 'contacts'), '');
  const child = spawnGroup('baresip', ['-f', dir], dir, 'baresip.log');

  const events = [];
  const b = {
    user, port, dir, child, events,
    log: () => { try { return fs.readFileSync(path.join(dir, 'baresip.log'), 'utf8'); } catch (e) { return ''; } },
    command(command, params = '') {
      const body = JSON.stringify({ command, params, token: 't' });
      b.ctrl.write(`${Buffer.byteLength(body)}:${body},`);
    },
    dial: (target) => b.command('dial', target),
    accept: () => b.command('accept'),
    hangup: () => b.command('hangup'),
    has: (type, pred = () => true) => events.some((e) => e.type === type && pred(e)),
    waitEvent: (type, { timeout = 15000, pred = () => true } = {}) => waitFor(
      () => events.find((e) => e.type === type && pred(e)),
      {
        timeout,
        fail: () => `baresip ${user}: no ${type} event within ${timeout} ms; events: ` +
          JSON.stringify(events.map((e) => [e.type, e.param])) + `\n${b.log().slice(-2000)}`,
      }),
    async stop() {
      if (b.ctrl) b.ctrl.destroy();
      await stopProcessGroup(child, 2000);
      if (!process.env.SEATPHONE_KEEP_TMP) fs.rmSync(dir, { recursive: true, force: true });
    },
  };

  // A peer that does not come up is stopped before the error goes on.
  const orStop = async (waiting) => {
    try { return await waiting; } catch (e) { await b.stop(); throw e; }
  };
  b.ctrl = await orStop(waitFor(() => new Promise((resolve) => {
    const s = net.connect(ctrlPort, '127.0.0.1');
    s.once('connect', () => resolve(s));
    s.once('error', () => resolve(null));
  }), { timeout: 15000, every: 100, fail: () => `baresip's ctrl_tcp did not open:\n${b.log().slice(-2000)}` }));
  let buf = Buffer.alloc(0);
  b.ctrl.on('data', (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      const colon = buf.indexOf(':');
      if (colon < 0) break;
      const len = Number(buf.subarray(0, colon).toString());
      if (!Number.isInteger(len)) { buf = Buffer.alloc(0); break; }
      if (buf.length < colon + 1 + len + 1) break;
      try { events.push(JSON.parse(buf.subarray(colon + 1, colon + 1 + len).toString())); } catch (e) { /* not JSON */ }
      buf = buf.subarray(colon + 1 + len + 1);
    }
  });
  b.ctrl.on('error', () => {});

  // Registration may have finished before ctrl_tcp connected: then ask Kamailio.
  await orStop(waitFor(() => b.has('REGISTER_OK') || kam.ulDump().includes(`AoR: ${user}`), {
    timeout: 10000, every: 100, fail: () => `baresip ${user} did not register at ${kam.port}:\n${b.log().slice(-2000)}`,
  }));
  return b;
}

module.exports = { missingPeers, startKamailio, startKamailioRetrying, startBaresip, waitForOptions };
