// The demo page, loaded from the real seatphone host in headless Chromium:
// every openEyeCall method is called once from the page and its callback
// checked against PROTOCOL.md; the SDK's life-cycle against the real host
// (defaults, one page at a time, engine crash, host restart); a page from
// another origin cannot connect; a screenshot for reviewers. Tests named
// [smoke] also run against the installed package (scripts/test-package.sh).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./harness');

const missing = h.hostBinaryMissing();

// PROTOCOL.md's command table, written out independently of the SDK's own.
const PROTOCOL = {
  config: [65539, 'tsdk_set_config_param'],
  register: [65537, 'tsdk_login'],
  deRegister: [65538, 'tsdk_logout'],
  holdCall: [67804, 'tsdk_hold_call'],
  unholdCall: [67805, 'tsdk_unhold_call'],
  startCall: [67537, 'tsdk_start_call'],
  startAnonymousCall: [67541, 'tsdk_start_anonymous_call'],
  acceptCall: [67538, 'tsdk_accept_call'],
  endCall: [67539, 'tsdk_end_call'],
  dtmf: [67540, 'tsdk_send_dtmf'],
  operateMic: [67547, 'tsdk_mute_mic'],
  setAnswerWay: [67767, 'SetAnswerWay'],
  getMediaDevices: [67550, 'tsdk_get_devices'],
  setMicIndex: [67551, 'tsdk_set_mic_index'],
  mediaGetMicIndex: [67552, 'tsdk_get_mic_index'],
  setSpeakIndex: [67553, 'tsdk_set_speak_index'],
  mediaGetSpeakIndex: [67554, 'tsdk_get_speak_index'],
  setSpkVol: [67557, 'tsdk_set_speak_volume'],
  getSpkVol: [67558, 'tsdk_get_speak_volume'],
  setMicVol: [67577, 'tsdk_set_mic_volume'],
  getMicVol: [67578, 'tsdk_get_mic_volume'],
  setVideoWindowParam: [67745, 'tsdk_set_video_rect'],
  setVideoLayoutMode: [67749, 'tsdk_set_video_layout_mode'],
  setVideoDisplayMode: [67751, 'tsdk_set_video_display_mode'],
  openCamera: [67759, 'tsdk_control_camera'],
  closeCamera: [67759, 'tsdk_control_camera'],
  addVideo: [67801, 'tsdk_add_video'],
  replyAddVideo: [67802, 'tsdk_reply_add_video'],
  delVideo: [67803, 'tsdk_del_video'],
  getAppList: [67753, 'tsdk_share_evt_getapplist'],
  setShareWindow: [67754, 'tsdk_share_evt_setshareapp'],
  startShareWindow: [67755, 'tsdk_share_evt_startsharewindow'],
  stopShareWindow: [67756, 'tsdk_share_evt_stopsharewindow'],
  shareControl: [67760, 'tsdk_share_evt_sharecontrol'],
  screenShot: [67762, 'OEScreenShot'],
  screenShotBase64: [67762, 'OEScreenShot'],
  videoCatch: [67763, 'OECatchVideo'],
  videoCatchBase64: [67763, 'OECatchVideo'],
};

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const isNum = (v) => typeof v === 'number' && Number.isFinite(v);

/** What a successful (result 0) response carries, per PROTOCOL.md's "param (response)" column. */
const SUCCESS_SHAPE = {
  config: (d) => assert.equal(typeof d.local_ip, 'string', 'config answers local_ip'),
  startCall: (d) => { assert.ok(isNum(d.param.callId)); assert.equal(d.param.call_id, d.param.callId); },
  startAnonymousCall: (d) => { assert.ok(isNum(d.param.callId)); assert.equal(d.param.call_id, d.param.callId); },
  setAnswerWay: (d) => assert.equal(typeof d.errMsg, 'string', 'SetAnswerWay always carries errMsg'),
  getMediaDevices: (d) => {
    assert.ok(Array.isArray(d.param.deviceInfo));
    assert.ok(isNum(d.param.deviceType));
    assert.equal(d.param.num, d.param.deviceInfo.length);
    for (const dev of d.param.deviceInfo) {
      assert.ok(isNum(dev.cameraOrient) && isNum(dev.deviceId) && isNum(dev.index));
      assert.equal(typeof dev.deviceName, 'string');
    }
  },
  mediaGetMicIndex: (d) => assert.ok(isNum(d.param.index)),
  mediaGetSpeakIndex: (d) => assert.ok(isNum(d.param.index)),
  getSpkVol: (d) => assert.ok(d.param.volume >= 0 && d.param.volume <= 100),
  getMicVol: (d) => assert.ok(d.param.volume >= 0 && d.param.volume <= 100),
  getAppList: (d) => { assert.ok(isObj(d.param)); for (const v of Object.values(d.param)) assert.equal(typeof v, 'string'); },
  screenShot: (d) => assert.equal(typeof d.path, 'string'),
  screenShotBase64: (d) => assert.equal(typeof d.base64, 'string'),
};

// PROTOCOL.md's event table.
const EVENTS = {
  1004: 'TSDK_E_LOGIN_EVT_LOGIN_SUCCESS', 1005: 'TSDK_E_LOGIN_EVT_LOGIN_FAILED',
  1006: 'TSDK_E_LOGIN_EVT_LOGOUT_SUCCESS', 1007: 'TSDK_E_LOGIN_EVT_LOGOUT_FAILED',
  1008: 'TSDK_E_LOGIN_EVT_FORCE_LOGOUT', 1009: 'TSDK_E_LOGIN_EVT_VOIP_ACCOUNT_STATUS',
  2002: 'TSDK_E_CALL_EVT_CALL_INCOMING', 2003: 'TSDK_E_CALL_EVT_CALL_OUTGOING',
  2004: 'TSDK_E_CALL_EVT_CALL_RINGBACK', 2005: 'TSDK_E_CALL_EVT_CALL_RTP_CREATED',
  2006: 'TSDK_E_CALL_EVT_CALL_CONNECTED', 2007: 'TSDK_E_CALL_EVT_CALL_ENDED',
  2009: 'TSDK_E_CALL_EVT_OPEN_VIDEO_REQ', 2011: 'TSDK_E_CALL_EVT_CLOSE_VIDEO_IND',
  2012: 'TSDK_E_CALL_EVT_OPEN_VIDEO_IND', 2018: 'TSDK_E_CALL_EVT_HOLD_SUCCESS',
  2019: 'TSDK_E_CALL_EVT_HOLD_FAILED', 2020: 'TSDK_E_CALL_EVT_UNHOLD_SUCCESS',
  2021: 'TSDK_E_CALL_EVT_UNHOLD_FAILED', 2022: 'TSDK_E_CALL_EVT_ENDCALL_FAILED',
  2028: 'TSDK_E_CALL_EVT_STATISTIC_LOCAL_QOS',
};

function checkEvent(d) {
  assert.ok(Number.isInteger(d.notify), `event ${JSON.stringify(d)} has a notify number`);
  if (EVENTS[d.notify]) assert.equal(d.description, EVENTS[d.notify], `notify ${d.notify}`);
  assert.ok(isObj(d.param), `${d.description} has a param object`);
  assert.equal(d.rsp, undefined);
  if (d.notify === 1009) {
    assert.equal(typeof d.param.user_number, 'string');
    assert.ok([0, 1, 2, 3, 4].includes(d.param.register_state), `1009 register_state ${d.param.register_state}`);
    assert.ok(isNum(d.param.reason_code));
  }
  if (d.notify === 2022) {
    assert.ok(isNum(d.param.callId));
    assert.equal(d.param.result, 50331670);
  }
}

/** Checks one response against PROTOCOL.md; returns a one-line summary. */
function checkResponse(method, data, sent) {
  const [cmd, description] = PROTOCOL[method];
  assert.ok(isObj(data), `${method}: response is an object`);
  assert.equal(data.description, description, `${method}: description`);
  assert.equal(data.rsp, cmd, `${method}: rsp echoes cmd`);
  assert.ok(Number.isInteger(data.result) && data.result >= 0 && data.result <= 7, `${method}: result ${data.result}`);
  assert.equal(data.seq, sent.seq, `${method}: seq echoed`);
  assert.equal(data.notify, undefined);
  if (data.result === 0) {
    if (SUCCESS_SHAPE[method]) SUCCESS_SHAPE[method](data);
  } else {
    assert.equal(typeof data.errMsg, 'string', `${method}: errMsg on failure`);
    assert.ok(data.errMsg.length > 0, `${method}: errMsg not empty`);
  }
  return `${method} → ${data.result}${data.errMsg ? ' ' + data.errMsg : ''}`;
}

/**
 * How the demo page calls each method: controls to set, then a click. Every
 * method of the reference and PROTOCOL.md appears once.
 */
const DRIVERS = [
  ['config', async (p, ctx) => {
    await p.fill('#sipServer', '127.0.0.1');
    await p.fill('#sipPort', String(ctx.deadSipPort));
    await p.click('#btn-config');
  }],
  ['register', async (p) => { await p.fill('#phoneNumber', '1001'); await p.fill('#password', 'pw1001'); await p.click('#btn-register'); }],
  ['deRegister', (p) => p.click('#btn-deRegister')],
  ['startCall', async (p) => { await p.fill('#calloutNumber', '1002'); await p.click('#btn-startCall'); }],
  ['startAnonymousCall', async (p) => { await p.check('#anonymous'); await p.click('#btn-startCall'); await p.uncheck('#anonymous'); }],
  ['acceptCall', async (p) => { await p.fill('#callId', '12345'); await p.click('#btn-acceptCall'); }],
  ['holdCall', (p) => p.click('#btn-holdCall')],
  ['unholdCall', (p) => p.click('#btn-unholdCall')],
  ['dtmf', (p) => p.click('#dtmf-5')],
  ['operateMic', (p) => p.check('#mute')],
  ['endCall', (p) => p.click('#btn-endCall')],
  ['setAnswerWay', async (p) => { await p.selectOption('#answerWay', '2'); await p.fill('#answerTimes', '3'); await p.click('#btn-setAnswerWay'); }],
  ['getMediaDevices', async (p) => { await p.selectOption('#deviceType', '0'); await p.click('#btn-getMediaDevices'); }],
  ['setMicIndex', (p) => p.click('#btn-setMicIndex')],
  ['mediaGetMicIndex', (p) => p.click('#btn-mediaGetMicIndex')],
  ['setSpeakIndex', (p) => p.click('#btn-setSpeakIndex')],
  ['mediaGetSpeakIndex', (p) => p.click('#btn-mediaGetSpeakIndex')],
  ['setMicVol', (p) => p.click('#btn-setMicVol')],
  ['getMicVol', (p) => p.click('#btn-getMicVol')],
  ['setSpkVol', (p) => p.click('#btn-setSpkVol')],
  ['getSpkVol', (p) => p.click('#btn-getSpkVol')],
  ['setVideoWindowParam', (p) => p.click('#btn-setVideoWindowParam')],
  ['setVideoLayoutMode', async (p) => { await p.check('#layoutSide'); await p.click('#btn-setVideoLayoutMode'); }],
  ['setVideoDisplayMode', async (p) => { await p.check('#displayCrop'); await p.click('#btn-setVideoDisplayMode'); }],
  ['openCamera', (p) => p.click('#btn-openCamera')],
  ['closeCamera', (p) => p.click('#btn-closeCamera')],
  ['addVideo', (p) => p.click('#btn-addVideo')],
  // The accept button shows when the peer asks for video (onCallOpenVideoReq).
  ['replyAddVideo', (p) => p.evaluate(() => document.getElementById('btn-replyAddVideo').click())],
  ['delVideo', (p) => p.click('#btn-delVideo')],
  ['shareControl', (p) => p.check('#shareControl')],
  ['getAppList', (p) => p.click('#btn-getAppList')],
  ['setShareWindow', async (p) => { await p.fill('#shareHwnd', '65552'); await p.click('#btn-setShareWindow'); }],
  ['startShareWindow', (p) => p.click('#btn-startShareWindow')],
  ['stopShareWindow', (p) => p.click('#btn-stopShareWindow')],
  ['screenShot', (p) => p.click('#btn-screenShot')],
  ['screenShotBase64', (p) => p.click('#btn-screenShotBase64')],
  ['videoCatch', (p) => p.click('#btn-videoCatchStart')],
  ['videoCatchBase64', async (p) => { await p.fill('#catchTime', '1'); await p.click('#btn-videoCatchBase64Start'); }],
];

/** The request frame the page sent on the call socket with this seq. */
function sentFrame(page, seq) {
  for (const f of page.wsFrames) {
    if (f.dir !== 'sent') continue;
    const obj = JSON.parse(f.payload);
    if (obj.seq === seq) return obj;
  }
  return null;
}

test.describe('demo page against the real host', { skip: missing || false }, () => {
  const s = h.stage({ closePages: true });

  test('the host serves the SDK with its own address and ports as defaults, otherwise unchanged [smoke]', { timeout: 90000 }, async () => {
    const { host } = s;
    const r = await h.httpGet(`${host.base}/OpenEye_SDK.js`);
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /javascript/);
    const lines = r.body.split('\n');
    const i = lines.findIndex((l) => l.includes('var SEATPHONE_DEFAULTS = '));
    const m = /var SEATPHONE_DEFAULTS = (\{.*\});/.exec(lines[i]);
    assert.deepEqual(JSON.parse(m[1]), { host: '127.0.0.1', daemonPort: host.daemonPort, port: host.port });
    const disk = fs.readFileSync(path.join(h.REPO, 'web', 'OpenEye_SDK.js'), 'utf8').split('\n');
    lines.splice(i, 1);
    disk.splice(i, 1);
    assert.ok(lines.join('\n') === disk.join('\n'),
      'the SDK the host serves differs from web/OpenEye_SDK.js: the host binary embeds web/ at build time, rebuild it');
  });

  test('Init connects with the served defaults: daemon, service, login and call come up, version shown [smoke]', { timeout: 90000 }, async () => {
    const { host, browser } = s;
    const page = await h.openDemo(browser, host);
    for (const name of ['onOpeneyeDeamonReady', 'serviceStartUp', 'onOpeneyeLoginReady', 'onVersionInfoNotify']) {
      await h.waitForLog(page, (e) => e.kind === 'callback' && e.name === name);
    }
    const version = await h.waitForLog(page, (e) => e.name === 'onVersionInfoNotify');
    assert.equal(version.data.notify, 4);
    assert.equal(version.data.description, 'VERSION_INFO');
    assert.equal(typeof version.data.param.version, 'string');
    assert.ok(Array.isArray(version.data.param.plugins));
    const startup = await h.waitForLog(page, (e) => e.name === 'serviceStartUp');
    assert.ok([1, 3].includes(startup.data.notify));
    assert.equal(await page.textContent('#stateCall'), 'open');
    const withoutId = await page.evaluate(() => [...document.querySelectorAll('input, select, button, textarea')]
      .filter((el) => !el.id).map((el) => el.outerHTML));
    assert.deepEqual(withoutId, [], 'every control of the demo page has an id');
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  test('every openEyeCall method called once from the demo page gets a callback shaped as PROTOCOL.md says [smoke]', { timeout: 90000 }, async () => {
    const { host, browser } = s;
    const page = await h.openDemo(browser, host);
    const ctx = { deadSipPort: await h.freePort() };
    const summary = [];
    const seen = new Set();
    for (const [method, drive] of DRIVERS) {
      const from = await h.logLength(page);
      await drive(page, ctx);
      const entry = await h.waitForLog(page, (e) => e.kind === 'response' && e.name === method, { from, timeout: 20000 });
      const data = entry.data;
      assert.ok(isNum(data.seq), `${method}: the response carries the request's seq (got ${JSON.stringify(data)})`);
      const sent = sentFrame(page, data.seq);
      assert.ok(sent, `${method}: a request with seq ${data.seq} was sent`);
      assert.equal(sent.cmd, PROTOCOL[method][0], `${method}: cmd sent`);
      assert.equal(sent.description, PROTOCOL[method][1], `${method}: description sent`);
      summary.push(checkResponse(method, data, sent));
      seen.add(method);
      if (method === 'endCall' && data.result === 5) {
        // PROTOCOL.md: an unknown call also gets notify 2022 with the reference's value.
        const failed = await h.waitForLog(page, (e) => e.kind === 'event' && e.data.notify === 2022, { from });
        assert.equal(failed.data.param.callId, 12345);
      }
    }
    const events = (await page.evaluate(() => window.demoLog)).filter((e) => e.kind === 'event').map((e) => e.data);
    events.forEach(checkEvent);
    summary.push(`events: ${events.map((d) => d.notify).join(' ')}`);
    const all = await page.evaluate(() => Object.keys(OpenEye_SDK.COMMANDS));
    assert.deepEqual(all.filter((m) => !seen.has(m)), [], 'every method of the SDK was driven from the page');
    assert.deepEqual(Object.keys(PROTOCOL).filter((m) => !seen.has(m)), []);
    fs.mkdirSync(h.OUTPUT_DIR, { recursive: true });
    fs.writeFileSync(path.join(h.OUTPUT_DIR, 'api-responses.txt'), summary.join('\n') + '\n');
    await page.screenshot({ path: path.join(h.OUTPUT_DIR, 'demo-page.png'), fullPage: true });
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  test('on the real page, calls before the call socket is ready or with wrong types answer result 2', { timeout: 90000 }, async () => {
    const { host, browser } = s;
    const page = await h.sdkPage(browser, host);
    const results = await page.evaluate(async () => {
      const sdk = new OpenEye_SDK({});
      const early = await new Promise((r) => sdk.openEyeCall.getMicVol({ response: r }));
      await window.callReady(sdk);
      const wrong = await new Promise((r) => sdk.openEyeCall.setSpkVol('loud', 0, { response: r }));
      const missingArgs = await new Promise((r) => sdk.openEyeCall.startCall({ response: r }));
      sdk.uninit();
      return { early, wrong, missingArgs };
    });
    for (const [name, d] of Object.entries(results)) {
      assert.equal(d.result, 2, name);
      assert.ok(d.errMsg, name);
    }
    assert.equal(results.early.rsp, 67578);
    assert.equal(results.wrong.description, 'tsdk_set_speak_volume');
    await page.close();
  });

  test('the host answers bad requests with result 2 and errMsg, and the page goes on', { timeout: 90000 }, async () => {
    const { host, browser } = s;
    const page = await h.sdkPage(browser, host);
    const got = await page.evaluate(async () => {
      const sdk = new OpenEye_SDK({});
      await window.callReady(sdk);
      const ask = (cmd, description, param) => new Promise((r) => sdk.openEyeCall.request(cmd, description, param, { response: r }));
      const out = {
        unknown: await ask(69999, 'no_such_command', {}),
        mismatch: await ask(67558, 'tsdk_get_mic_volume', {}),
        wrongType: await ask(67557, 'tsdk_set_speak_volume', { volume: 'loud', device: 0 }),
        outOfRange: await ask(67557, 'tsdk_set_speak_volume', { volume: 1000, device: 0 }),
        tooBig: await ask(67557, 'tsdk_set_speak_volume', { volume: 1, pad: 'x'.repeat(1 << 20) }),
        logPath: await new Promise((r) => sdk.openEyeCall.config({ log_path: '/etc' }, { response: r })),
        after: await ask(67749, 'tsdk_set_video_layout_mode', { layoutMode: 0 }),
      };
      sdk.uninit();
      return out;
    });
    for (const name of ['unknown', 'mismatch', 'wrongType', 'outOfRange', 'tooBig']) {
      const d = got[name];
      assert.equal(d.result, 2, `${name}: ${JSON.stringify(d)}`);
      assert.ok(d.errMsg, `${name}: errMsg`);
    }
    assert.equal(got.unknown.description, 'no_such_command');
    assert.equal(got.unknown.rsp, 69999);
    assert.ok(isNum(got.unknown.seq), 'the host echoes seq on a refused request');
    // PROTOCOL.md: a path outside [api] page_paths is ignored, result 0, errMsg says so.
    assert.equal(got.logPath.result, 0, JSON.stringify(got.logPath));
    assert.match(got.logPath.errMsg, /log_path/);
    assert.equal(got.after.rsp, 67749, 'the socket still answers');
    assert.notEqual(got.after.result, 2);
    await page.close();
  });

  test('two outstanding calls of one method each get their own answer (seq)', { timeout: 90000 }, async () => {
    const { host, browser } = s;
    const page = await h.sdkPage(browser, host);
    const got = await page.evaluate(async () => {
      const sdk = new OpenEye_SDK({});
      await window.callReady(sdk);
      const one = new Promise((r) => sdk.openEyeCall.setVideoLayoutMode(0, { response: r }));
      const two = new Promise((r) => sdk.openEyeCall.setVideoLayoutMode(1, { response: r }));
      const out = await Promise.all([one, two]);
      sdk.uninit();
      return out;
    });
    assert.ok(isNum(got[0].seq) && isNum(got[1].seq));
    assert.notEqual(got[0].seq, got[1].seq);
    for (const d of got) assert.equal(d.rsp, 67749);
    await page.close();
  });

  test('second_page_is_refused_with_4001, and takeover moves the softphone with 4002', { timeout: 90000 }, async () => {
    const { host, browser } = s;
    const first = await h.openDemo(browser, host);
    const second = await h.openDemo(browser, host, { waitReady: false });
    const refused = await h.waitForLog(second, (e) => e.name === 'onOpeneyeCallClose');
    assert.deepEqual(refused.data, { code: 4001, reason: 'another page holds the softphone' });
    assert.match(await second.textContent('#initStatus'), /another page holds the softphone/);
    // The refused page does not keep knocking.
    await h.sleep(1500);
    const closes = (await second.evaluate(() => window.demoLog)).filter((e) => e.name === 'onOpeneyeCallClose');
    assert.equal(closes.length, 1);

    const third = await h.openDemo(browser, host, { takeover: true });
    const taken = await h.waitForLog(first, (e) => e.name === 'onOpeneyeCallClose');
    assert.deepEqual(taken.data, { code: 4002, reason: 'taken over by another page' });
    const r = await third.evaluate(() => new Promise((res) => global_openEye_SDK.openEyeCall.getSpkVol({ response: res })));
    assert.equal(r.rsp, 67558);
    assert.notEqual(r.result, 2, 'the page that took over is answered by the host');
    await Promise.all([first.close(), second.close(), third.close()]);
  });

  test('UnInitOpeneye frees the softphone for another page, and refresh connects again', { timeout: 90000 }, async () => {
    const { host, browser } = s;
    const first = await h.openDemo(browser, host);
    await first.click('#btn-uninit');
    assert.equal(await first.textContent('#stateCall'), 'closed');
    const second = await h.openDemo(browser, host);
    assert.equal(await second.textContent('#stateCall'), 'open', 'no 4001: the first page let go');
    await second.click('#btn-uninit');
    const from = await h.logLength(first);
    await first.click('#btn-refresh');
    await h.waitForLog(first, (e) => e.name === 'onOpeneyeCallReady', { from });
    await Promise.all([first.close(), second.close()]);
  });

  test('a page from another origin cannot connect [smoke]', { timeout: 90000 }, async () => {
    const { host, browser } = s;
    const other = await h.startOtherOrigin({
      '/': `<!DOCTYPE html><html><body><script src="${host.base}/OpenEye_SDK.js"></script><script>
        window.seen = [];
        const cb = (n) => (d) => window.seen.push(n);
        window.sdk = new OpenEye_SDK({
          onOpeneyeDeamonReady: cb('daemonReady'), onOpeneyeDeamonClose: cb('daemonClose'),
          serviceStartUp: cb('startUp'), serviceShutDown: cb('shutDown'),
          onOpeneyeLoginReady: cb('loginReady'), onOpeneyeLoginClose: cb('loginClose'),
          onOpeneyeCallReady: cb('callReady'), onOpeneyeCallClose: cb('callClose'),
          onVersionInfoNotify: cb('version'), onLog: () => {} });
        window.raw = {};
        for (const [name, url, proto] of [
            ['daemon', 'ws://127.0.0.1:${host.daemonPort}/', 'protocol_ws_deamon_service'],
            ['call', 'ws://127.0.0.1:${host.port}/', 'openeye_call_service_protocol'],
            ['login', 'ws://127.0.0.1:${host.port}/', 'openeye_login_service_protocol']]) {
          const ws = new WebSocket(url, proto);
          window.raw[name] = 'pending';
          ws.onopen = () => { window.raw[name] = 'open'; };
          ws.onclose = (e) => { if (window.raw[name] !== 'open') window.raw[name] = 'refused ' + e.code; };
        }
      </script></body></html>`,
    });
    try {
      const page = await browser.newPage();
      await h.gotoHost(page, host, `${other.base}/`);
      await page.waitForFunction(() => Object.values(window.raw).every((v) => v !== 'pending'), null, { timeout: 10000 });
      await h.sleep(1000);
      const { seen, raw, call } = await page.evaluate(async () => ({
        seen: window.seen,
        raw: window.raw,
        call: await new Promise((r) => window.sdk.openEyeCall.getMicVol({ response: r })),
      }));
      assert.deepEqual(raw, { daemon: 'refused 1006', call: 'refused 1006', login: 'refused 1006' });
      assert.deepEqual(seen, ['daemonClose'], 'the SDK reports the daemon unreachable once and nothing ever opens');
      assert.equal(call.result, 2);
      const logs = host.log();
      assert.match(logs, new RegExp(`origin not allowed.*${other.port}|${other.port}.*origin not allowed`),
        'the host logs the refused origin');
      await page.evaluate(() => window.sdk.uninit());
      await page.close();
    } finally {
      await other.close();
    }
  });
});

test.describe('the page survives the engine and the host restarting', { skip: missing || h.needsOwnHost() || false }, () => {
  const s = h.stage({ closePages: true });

  test('engine crash: serviceShutDown, then serviceStartUp, and the call socket comes back', { timeout: 90000 }, async () => {
    const { host, browser } = s;
    const page = await h.openDemo(browser, host);
    const engines = h.childPids(host.child.pid);
    assert.equal(engines.length, 1, 'the daemon runs one engine');
    const from = await h.logLength(page);
    process.kill(engines[0], 'SIGKILL');
    const down = await h.waitForLog(page, (e) => e.name === 'serviceShutDown', { from });
    assert.equal(down.data.notify, 2);
    assert.equal(typeof down.data.param.reason, 'string');
    const up = await h.waitForLog(page, (e) => e.name === 'serviceStartUp', { from, timeout: 30000 });
    assert.equal(up.data.notify, 3, 'SERVICE_RECOVER');
    const at = page.evaluate(() => window.demoLog.length);
    await h.waitForLog(page, (e) => e.name === 'onOpeneyeCallReady', { from: Math.min(from + 1, await at), timeout: 30000 });
    const r = await page.evaluate(() => new Promise((res) => global_openEye_SDK.openEyeCall.setVideoLayoutMode(0, { response: res })));
    assert.equal(r.rsp, 67749);
    assert.notEqual(r.result, 2);
    await page.close();
  });

  test('host restart: the page reconnects without a reload', { timeout: 90000 }, async () => {
    const { host, browser } = s;
    const page = await h.openDemo(browser, host);
    const from = await h.logLength(page);
    await host.stop();
    await h.waitForLog(page, (e) => e.name === 'serviceShutDown', { from });
    await h.waitForLog(page, (e) => e.name === 'onOpeneyeCallClose', { from });
    s.host = await h.startHost({ tmp: host.tmp, ports: { port: host.port, daemonPort: host.daemonPort } });
    const back = await h.waitForLog(page, (e) => e.name === 'onOpeneyeCallReady', { from, timeout: 30000 });
    assert.ok(back);
    const names = (await page.evaluate(() => window.demoLog)).slice(from).map((e) => e.name);
    const order = ['serviceShutDown', 'onOpeneyeDeamonReady', 'serviceStartUp', 'onOpeneyeCallReady'].map((n) => names.indexOf(n));
    assert.ok(order.every((i, k) => i >= 0 && (k === 0 || i > order[k - 1])), `order of callbacks: ${names.join(', ')}`);
    const r = await page.evaluate(() => new Promise((res) => global_openEye_SDK.openEyeCall.setVideoLayoutMode(1, { response: res })));
    assert.notEqual(r.result, 2);
    await page.close();
  });
});

if (missing) {
  test('browser tests against the host', { skip: missing }, () => {});
}
