// A portal served over https from a company host, as in production: the
// host serves wss:// (and still ws://) on its ports with a certificate from
// a test CA that Chromium trusts; the portal's origin is allowed by a
// wildcard (https://*.example.test:<port>); Chromium resolves the portal's
// names to 127.0.0.1. The SDK learns from the host that it serves TLS and
// uses wss:// from the https page; without TLS at the host it uses ws://
// to 127.0.0.1, which browsers allow from https pages.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const https = require('node:https');
const h = require('./harness');

const missing = h.hostBinaryMissing() || h.needsOwnHost();

/** A portal page that loads the SDK from `sdkUrl` and starts it on demand. */
function portalPage(sdkUrl) {
  return `<!DOCTYPE html><html><body><script src="${sdkUrl}"></script><script>
    window.seen = [];
    const cb = (n) => (d) => window.seen.push({ name: n, data: d });
    window.start = (takeover) => {
      window.sdk = new OpenEye_SDK({ takeover,
        onOpeneyeDeamonReady: cb('daemonReady'), onOpeneyeDeamonClose: cb('daemonClose'),
        serviceStartUp: cb('startUp'), onOpeneyeLoginReady: cb('loginReady'),
        onOpeneyeCallReady: cb('callReady'), onOpeneyeCallClose: cb('callClose'),
        onVersionInfoNotify: cb('version'), onLog: () => {} });
    };
    window.ask = () => new Promise((r) => window.sdk.openEyeCall.getMicVol({ response: r }));
  </script></body></html>`;
}

/** Opens `url`, starts the SDK and waits until `until` was seen; the page records its socket URLs. */
async function openPortal(browser, url, { takeover = false, until = 'callReady' } = {}) {
  const page = await browser.newPage();
  page.sockets = [];
  page.on('console', (m) => { if (process.env.DEBUG_WSS) console.log('console:', m.text()); });
  page.on('websocket', (ws) => page.sockets.push(ws.url()));
  await page.goto(url);
  await page.evaluate((t) => window.start(t), takeover);
  if (until) await waitSeen(page, until);
  return page;
}

async function waitSeen(page, name, timeout = 15000) {
  await page.waitForFunction((n) => window.seen.some((e) => e.name === n), name, { timeout });
  return (await page.evaluate(() => window.seen)).find((e) => e.name === name);
}

function httpsGet(url, ca) {
  return new Promise((resolve, reject) => {
    https.get(url, { ca: fs.readFileSync(ca) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    }).on('error', reject);
  });
}

const defaultsOf = (sdk) => JSON.parse(/var SEATPHONE_DEFAULTS = (\{.*\});/.exec(sdk)[1]);

test.describe('wss: a portal served over https, the host serving wss with a test CA', { skip: missing || false }, () => {
  let certs;
  let portalPort;
  let portal;
  const s = h.stage({
    prepare: async () => {
      certs = h.makeTestCerts(s.tempDir('seatphone-wss-'), ['127.0.0.1', 'localhost', '*.example.test', 'example.test.evil.test']);
      portalPort = await h.freePort();
    },
    host: () => ({
      extraApi: [
        `tls_cert = ${JSON.stringify(certs.cert)}`,
        `tls_key = ${JSON.stringify(certs.key)}`,
        `allowed_origins = ["https://*.example.test:${portalPort}"]`,
      ].join('\n'),
    }),
    browser: () => ({ ca: certs.ca, resolve: ['*.example.test', '*.evil.test'] }),
    setUp: async () => {
      portal = await h.startOtherOrigin({ '/': portalPage(`https://127.0.0.1:${s.host.port}/OpenEye_SDK.js`) }, portalPort, certs);
      s.defer(() => portal.close());
    },
    closePages: true,
  });

  test('one port serves https and http: the SDK over https says "tls": true', { timeout: 60000 }, async () => {
    const { host } = s;
    const secure = await httpsGet(`https://127.0.0.1:${host.port}/OpenEye_SDK.js`, certs.ca);
    assert.equal(secure.status, 200);
    assert.deepEqual(defaultsOf(secure.body), { host: '127.0.0.1', daemonPort: host.daemonPort, port: host.port, tls: true });
    const plain = await h.httpGet(`${host.base}/OpenEye_SDK.js`);
    assert.equal(plain.status, 200);
    assert.equal(defaultsOf(plain.body).tls, true);
    const health = await httpsGet(`https://127.0.0.1:${host.port}/health`, certs.ca);
    assert.equal(health.status, 200);
  });

  test('the https portal connects over wss: daemon, login and call come up and a command is answered', { timeout: 90000 }, async () => {
    const { host, browser } = s;
    const page = await openPortal(browser, `https://portal.example.test:${portal.port}/`);
    for (const name of ['daemonReady', 'startUp', 'loginReady']) await waitSeen(page, name);
    const sockets = [...new Set(page.sockets)];
    assert.deepEqual(sockets.sort(), [
      `wss://127.0.0.1:${host.daemonPort}/`,
      `wss://127.0.0.1:${host.port}/`,
    ].sort(), 'every socket is wss');
    const r = await page.evaluate(() => window.ask());
    assert.equal(r.rsp, 67578);
    assert.notEqual(r.result, 2, JSON.stringify(r));
    await page.evaluate(() => window.sdk.uninit());
    await page.close();
  });

  test('over wss, one page at a time: a second page gets 4001, a takeover closes the first with 4002', { timeout: 90000 }, async () => {
    const { browser } = s;
    const url = `https://portal.example.test:${portal.port}/`;
    const first = await openPortal(browser, url);
    const second = await openPortal(browser, url, { until: 'callClose' });
    assert.deepEqual((await waitSeen(second, 'callClose')).data, { code: 4001, reason: 'another page holds the softphone' });
    const third = await openPortal(browser, `https://agents.example.test:${portal.port}/`, { takeover: true });
    assert.deepEqual((await waitSeen(first, 'callClose')).data, { code: 4002, reason: 'taken over by another page' });
    assert.ok(third.sockets.every((u) => u.startsWith('wss://')), third.sockets.join(' '));
    const r = await third.evaluate(() => window.ask());
    assert.notEqual(r.result, 2);
    for (const p of [first, second, third]) await p.evaluate(() => window.sdk.uninit());
  });

  test('a look-alike origin cannot connect over wss', { timeout: 90000 }, async () => {
    const { host, browser } = s;
    const lookAlike = `https://example.test.evil.test:${portal.port}/`;
    const page = await openPortal(browser, lookAlike, { until: 'daemonClose' });
    await h.sleep(1000);
    const seen = (await page.evaluate(() => window.seen)).map((e) => e.name);
    assert.deepEqual(seen, ['daemonClose'], 'nothing opens');
    assert.ok(page.sockets.length > 0 && page.sockets.every((u) => u.startsWith('wss://')), page.sockets.join(' '));
    assert.match(host.log(), /origin not allowed.*example\.test\.evil\.test|example\.test\.evil\.test.*origin not allowed/);
    await page.evaluate(() => window.sdk.uninit());
  });

  test('the demo page served over https by the host connects over wss, and over http with ws', { timeout: 90000 }, async () => {
    const { host, browser } = s;
    for (const [base, scheme] of [[`https://127.0.0.1:${host.port}`, 'wss'], [host.base, 'ws']]) {
      const page = await h.openDemo(browser, Object.assign({}, host, { base }));
      assert.equal(await page.textContent('#stateCall'), 'open');
      assert.ok(page.wsFrames.length > 0);
      assert.ok(page.wsFrames.every((f) => f.url.startsWith(`${scheme}://`)), `${base}: ${page.wsFrames[0].url}`);
      await page.click('#btn-uninit');
      await page.close();
    }
  });
});

test.describe('an https portal and a host without TLS', { skip: missing || false }, () => {
  let certs;
  let portalPort;
  let portal;
  const s = h.stage({
    prepare: async () => {
      certs = h.makeTestCerts(s.tempDir('seatphone-wss-'), ['*.example.test']);
      portalPort = await h.freePort();
    },
    host: () => ({ extraApi: `allowed_origins = ["https://portal.example.test:${portalPort}"]` }),
    browser: () => ({ ca: certs.ca, resolve: ['*.example.test'] }),
    setUp: async () => {
      portal = await h.startOtherOrigin({ '/': portalPage(`http://127.0.0.1:${s.host.port}/OpenEye_SDK.js`) }, portalPort, certs);
      s.defer(() => portal.close());
    },
  });

  test('the SDK connects with ws:// to 127.0.0.1 from the https page', { timeout: 90000 }, async () => {
    const { browser } = s;
    const page = await openPortal(browser, `https://portal.example.test:${portal.port}/`);
    assert.ok(page.sockets.length >= 2 && page.sockets.every((u) => u.startsWith('ws://127.0.0.1:')), page.sockets.join(' '));
    const r = await page.evaluate(() => window.ask());
    assert.notEqual(r.result, 2);
    await page.evaluate(() => window.sdk.uninit());
    await page.close();
  });
});
