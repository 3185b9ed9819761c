// Unit tests of OpenEye_SDK.js's own logic (socket life-cycle, seq matching,
// argument checks, event dispatch) in Node with a fake WebSocket. Everything
// about the real host is in the browser tests beside this file.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const SDK_PATH = path.join(__dirname, '..', '..', 'web', 'OpenEye_SDK.js');
const OpenEye_SDK = require(SDK_PATH);

/** A WebSocket stand-in that records what the SDK does and lets a test play the host. */
class FakeSocket {
  constructor(url, protocol) {
    this.url = url;
    this.protocol = protocol;
    this.sent = [];
    this.closedWith = null;
    FakeSocket.all.push(this);
  }
  // The video socket's one page message is the text `keyframe`.
  send(text) { this.sent.push(text === 'keyframe' ? text : JSON.parse(text)); }
  close(code, reason) { this.closedWith = { code, reason }; }
  // host side
  hostOpen() { this.readyState = 1; this.onopen && this.onopen({}); }
  hostSend(obj) { this.onmessage && this.onmessage({ data: typeof obj === 'string' ? obj : JSON.stringify(obj) }); }
  hostClose(code = 1006, reason = '') { this.onclose && this.onclose({ code, reason }); }
  lastSent() { return this.sent[this.sent.length - 1]; }
}
FakeSocket.all = [];

// Every SDK a test makes is shut at the end, so no timer outlives its test.
const made = [];
test.afterEach(() => { while (made.length) made.pop().uninit(); });
class TrackedSDK extends OpenEye_SDK {
  constructor(opts) { super(opts); made.push(this); }
}

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

function recorder() {
  const log = [];
  const names = ['onOpeneyeDeamonReady', 'onOpeneyeDeamonClose', 'serviceStartUp', 'serviceShutDown',
    'onOpeneyeLoginReady', 'onOpeneyeLoginClose', 'onOpeneyeCallReady', 'onOpeneyeCallClose', 'onVersionInfoNotify'];
  const opts = {};
  for (const n of names) opts[n] = (data) => log.push([n, data]);
  return { log, opts, names: () => log.map((e) => e[0]) };
}

/** An SDK whose three sockets are open and whose service is up. */
function connected(extra = {}) {
  FakeSocket.all = [];
  const rec = recorder();
  const sdk = new TrackedSDK(Object.assign({ WebSocket: FakeSocket, onLog: () => {} }, rec.opts, extra));
  const daemon = FakeSocket.all[0];
  daemon.hostOpen();
  daemon.hostSend({ description: 'SERVICE_STARTUP', notify: 1, param: {} });
  const login = FakeSocket.all.find((s) => s.protocol === 'openeye_login_service_protocol');
  const call = FakeSocket.all.find((s) => s.protocol === 'openeye_call_service_protocol');
  login.hostOpen();
  call.hostOpen();
  return { sdk, rec, daemon, login, call };
}

function responseTo(frame, extra = {}) {
  return Object.assign({ description: frame.description, result: 0, rsp: frame.cmd, seq: frame.seq }, extra);
}

/** Calls a method and resolves with what its response callback got. */
function callMethod(sdk, method, args) {
  return new Promise((resolve) => {
    sdk.openEyeCall[method](...args, { response: resolve });
  });
}

test('the file carries exactly one SEATPHONE_DEFAULTS line the host can rewrite', () => {
  const text = fs.readFileSync(SDK_PATH, 'utf8');
  const lines = text.split('\n').filter((l) => l.includes('var SEATPHONE_DEFAULTS = '));
  assert.equal(lines.length, 1);
  const m = /var SEATPHONE_DEFAULTS = (\{.*\});\s*$/.exec(lines[0]);
  assert.ok(m, lines[0]);
  assert.deepEqual(JSON.parse(m[1]), { host: '127.0.0.1', daemonPort: 7682, port: 7684 });
});

test('sockets use the defaults, then opts, with the sub-protocols of PROTOCOL.md', () => {
  FakeSocket.all = [];
  new TrackedSDK({ WebSocket: FakeSocket });
  assert.equal(FakeSocket.all[0].url, 'ws://127.0.0.1:7682/');
  assert.equal(FakeSocket.all[0].protocol, 'protocol_ws_deamon_service');

  const { login, call, daemon } = connected({ host: 'localhost', daemonPort: 9001, port: 9002, takeover: true });
  assert.equal(daemon.url, 'ws://localhost:9001/');
  assert.equal(login.url, 'ws://localhost:9002/');
  assert.equal(call.url, 'ws://localhost:9002/?takeover=1');
});

/** The SDK as the host serves it (`defaults` on its defaults line), run on a page at `protocol`. */
function sdkOnPage(defaults, protocol) {
  const vm = require('node:vm');
  const text = fs.readFileSync(SDK_PATH, 'utf8')
    .replace(/(var SEATPHONE_DEFAULTS = )\{.*\};/, `$1${JSON.stringify(defaults)};`);
  const context = { module: { exports: {} }, location: { protocol }, setTimeout, clearTimeout, console };
  vm.runInNewContext(text, context);
  return context.module.exports;
}

test('an https page uses wss:// only when the host says it serves it, or when told to', () => {
  const served = { host: '127.0.0.1', daemonPort: 7682, port: 7684 };
  const urls = (Sdk, opts = {}) => {
    FakeSocket.all = [];
    made.push(new Sdk(Object.assign({ WebSocket: FakeSocket, onLog: () => {} }, opts)));
    return FakeSocket.all[0].url;
  };
  assert.equal(urls(sdkOnPage(Object.assign({ tls: true }, served), 'https:')), 'wss://127.0.0.1:7682/');
  assert.equal(urls(sdkOnPage(served, 'https:')), 'ws://127.0.0.1:7682/', 'no tls from the host: ws to loopback');
  assert.equal(urls(sdkOnPage(Object.assign({ tls: true }, served), 'http:')), 'ws://127.0.0.1:7682/');
  assert.equal(urls(sdkOnPage(served, 'https:'), { secure: true }), 'wss://127.0.0.1:7682/');
  assert.equal(urls(sdkOnPage(Object.assign({ tls: true }, served), 'https:'), { secure: false }), 'ws://127.0.0.1:7682/');
});

test('login and call sockets open only after SERVICE_STARTUP; callbacks fire in order', () => {
  FakeSocket.all = [];
  const rec = recorder();
  new TrackedSDK(Object.assign({ WebSocket: FakeSocket }, rec.opts));
  const daemon = FakeSocket.all[0];
  daemon.hostOpen();
  assert.equal(FakeSocket.all.length, 1, 'no login/call socket before the service runs');
  daemon.hostSend({ description: 'VERSION_INFO', notify: 4, param: { version: '0.1.0', plugins: [] } });
  daemon.hostSend({ description: 'SERVICE_STARTUP', notify: 1, param: {} });
  assert.equal(FakeSocket.all.length, 3);
  FakeSocket.all[1].hostOpen();
  FakeSocket.all[2].hostOpen();
  assert.deepEqual(rec.names(), ['onOpeneyeDeamonReady', 'onVersionInfoNotify', 'serviceStartUp',
    'onOpeneyeLoginReady', 'onOpeneyeCallReady']);
  assert.equal(rec.log[1][1].param.version, '0.1.0', 'onVersionInfoNotify gets the frame as sent');
});

test('a method called before onOpeneyeCallReady answers result 2 with errMsg and does not throw', async () => {
  FakeSocket.all = [];
  const sdk = new TrackedSDK({ WebSocket: FakeSocket });
  const data = await callMethod(sdk, 'startCall', ['1002', false]);
  assert.equal(data.result, 2);
  assert.equal(data.rsp, 67537);
  assert.equal(data.description, 'tsdk_start_call');
  assert.match(data.errMsg, /not ready/);
});

test('wrong argument types answer result 2 with errMsg and send nothing', async () => {
  const { sdk, call } = connected();
  const cases = [
    ['config', ['not an object']],
    ['register', [{}, '1001', 'pw', 4]],
    ['startCall', [['1002'], false]],
    ['startCall', ['1002', 'yes']],
    ['endCall', ['abc']],
    ['dtmf', [1, 17]],
    ['setSpkVol', [101, 0]],
    ['getMediaDevices', [7]],
    ['setAnswerWay', ['3', 0]],
    ['setVideoLayoutMode', [5]],
    ['videoCatchBase64', [0, 60]],
    ['shareControl', []],
  ];
  for (const [method, args] of cases) {
    const data = await callMethod(sdk, method, args);
    assert.equal(data.result, 2, `${method}(${JSON.stringify(args)})`);
    assert.equal(typeof data.errMsg, 'string');
    assert.ok(data.errMsg.length > 0);
  }
  assert.equal(call.sent.length, 0);
});

test('every method sends the cmd, description and param of PROTOCOL.md', () => {
  const { sdk, call } = connected();
  const c = sdk.openEyeCall;
  const expected = [
    [() => c.config({ networkInfo: { serverAddr: '127.0.0.1', sipServerPort: 5060 } }), 65539, 'tsdk_set_config_param',
      { networkInfo: { serverAddr: '127.0.0.1', sipServerPort: 5060 } }],
    [() => c.register('1001@127.0.0.1', '1001', 'pw', 4), 65537, 'tsdk_login',
      { sipNum: '1001@127.0.0.1', sipName: '1001', sipPwd: 'pw', sipMode: 4 }],
    [() => c.deRegister('1001@127.0.0.1'), 65538, 'tsdk_logout', { sipNum: '1001@127.0.0.1' }],
    [() => c.holdCall(7), 67804, 'tsdk_hold_call', { callId: 7 }],
    [() => c.unholdCall(7), 67805, 'tsdk_unhold_call', { callId: 7 }],
    [() => c.startCall('1002', false), 67537, 'tsdk_start_call', { calleeNumber: '1002', isVideo: false }],
    [() => c.startAnonymousCall('1002', 1), 67541, 'tsdk_start_anonymous_call', { calleeNumber: '1002', isVideo: true }],
    [() => c.acceptCall(7, 0), 67538, 'tsdk_accept_call', { callId: 7, isVideo: false }],
    [() => c.endCall('7'), 67539, 'tsdk_end_call', { callId: 7 }],
    [() => c.dtmf(7, '#'), 67540, 'tsdk_send_dtmf', { callId: 7, tone: 11 }],
    [() => c.operateMic(7, true), 67547, 'tsdk_mute_mic', { callId: 7, isMute: 1 }],
    [() => c.setAnswerWay('2', 3), 67767, 'SetAnswerWay', { answerWay: '2', times: 3 }],
    [() => c.getMediaDevices(1), 67550, 'tsdk_get_devices', { deviceType: 1 }],
    [() => c.setMicIndex(1), 67551, 'tsdk_set_mic_index', { index: 1 }],
    [() => c.mediaGetMicIndex(), 67552, 'tsdk_get_mic_index', undefined],
    [() => c.setSpeakIndex(0), 67553, 'tsdk_set_speak_index', { index: 0 }],
    [() => c.mediaGetSpeakIndex(), 67554, 'tsdk_get_speak_index', undefined],
    [() => c.setSpkVol(80, 0), 67557, 'tsdk_set_speak_volume', { volume: 80, device: 0 }],
    [() => c.getSpkVol(), 67558, 'tsdk_get_speak_volume', undefined],
    [() => c.setMicVol(20, 1), 67577, 'tsdk_set_mic_volume', { volume: 20, device: 1 }],
    [() => c.getMicVol(), 67578, 'tsdk_get_mic_volume', undefined],
    [() => c.setVideoWindowParam(20, 30, 720, 480), 67745, 'tsdk_set_video_rect', { posX: 20, posY: 30, width: 720, height: 480 }],
    [() => c.setVideoLayoutMode(1), 67749, 'tsdk_set_video_layout_mode', { layoutMode: 1 }],
    [() => c.setVideoDisplayMode(2), 67751, 'tsdk_set_video_display_mode', { displayMode: 2 }],
    [() => c.openCamera(-1), 67759, 'tsdk_control_camera', { callId: -1, open: true }],
    [() => c.closeCamera(7), 67759, 'tsdk_control_camera', { callId: 7, open: false }],
    [() => c.addVideo(7), 67801, 'tsdk_add_video', { callId: 7 }],
    [() => c.replyAddVideo(7, true), 67802, 'tsdk_reply_add_video', { callId: 7, accept: true }],
    [() => c.delVideo(7), 67803, 'tsdk_del_video', { callId: 7 }],
    [() => c.getAppList(), 67753, 'tsdk_share_evt_getapplist', undefined],
    [() => c.setShareWindow('65552'), 67754, 'tsdk_share_evt_setshareapp', { hwnd: 65552 }],
    [() => c.startShareWindow(), 67755, 'tsdk_share_evt_startsharewindow', undefined],
    [() => c.stopShareWindow(), 67756, 'tsdk_share_evt_stopsharewindow', undefined],
    [() => c.shareControl(true), 67760, 'tsdk_share_evt_sharecontrol', { enable: true }],
    [() => c.screenShot(), 67762, 'OEScreenShot', { format: 'path' }],
    [() => c.screenShotBase64(), 67762, 'OEScreenShot', { format: 'base64' }],
    [() => c.videoCatch(true), 67763, 'OECatchVideo', { operation: 0, format: 'path' }],
    [() => c.videoCatch(1), 67763, 'OECatchVideo', { operation: 1, format: 'path' }],
    [() => c.videoCatchBase64(0, 5), 67763, 'OECatchVideo', { operation: 0, format: 'base64', time: 5 }],
    [() => c.catchVideo(false), 67763, 'OECatchVideo', { operation: 1, format: 'path' }],
  ];
  let lastSeq = 0;
  for (const [invoke, cmd, description, param] of expected) {
    invoke();
    const f = call.lastSent();
    assert.equal(f.cmd, cmd, description);
    assert.equal(f.description, description);
    assert.deepEqual(f.param, param, description);
    assert.ok(f.seq > lastSeq, 'seq grows');
    lastSeq = f.seq;
  }
  // Every method of the command table was exercised above.
  const methods = new Set(Object.keys(OpenEye_SDK.COMMANDS));
  assert.equal(methods.size, 38);
});

test('two outstanding calls of one method each get their own answer, matched by seq', async () => {
  const { sdk, call } = connected();
  const a = callMethod(sdk, 'getMicVol', []);
  const b = callMethod(sdk, 'getMicVol', []);
  const [fa, fb] = call.sent;
  assert.notEqual(fa.seq, fb.seq);
  call.hostSend(responseTo(fb, { param: { volume: 22 } }));
  call.hostSend(responseTo(fa, { param: { volume: 11 } }));
  assert.equal((await a).param.volume, 11);
  assert.equal((await b).param.volume, 22);
});

test('a response without seq answers the oldest request of that command', async () => {
  const { sdk, call } = connected();
  const a = callMethod(sdk, 'getSpkVol', []);
  const b = callMethod(sdk, 'getMicVol', []);
  const c = callMethod(sdk, 'getSpkVol', []);
  call.hostSend({ description: 'tsdk_get_speak_volume', result: 0, rsp: 67558, param: { volume: 1 } });
  call.hostSend({ description: 'tsdk_get_mic_volume', result: 0, rsp: 67578, param: { volume: 2 } });
  call.hostSend({ description: 'tsdk_get_speak_volume', result: 0, rsp: 67558, param: { volume: 3 } });
  assert.equal((await a).param.volume, 1);
  assert.equal((await b).param.volume, 2);
  assert.equal((await c).param.volume, 3);
});

test('a response whose seq nobody waits for is not given to another request', async () => {
  const { sdk, call } = connected({ responseTimeout: 50 });
  const p = callMethod(sdk, 'getMicVol', []);
  call.hostSend({ description: 'tsdk_get_mic_volume', result: 0, rsp: 67578, seq: 999, param: { volume: 1 } });
  const data = await p;
  assert.equal(data.result, 6, 'the real request still waits for its own answer');
});

test('the response callback gets the host frame exactly as sent', async () => {
  const { sdk, call } = connected();
  const p = callMethod(sdk, 'startCall', ['1002', false]);
  const frame = responseTo(call.lastSent(), { param: { callId: 1541472256, call_id: 1541472256 } });
  call.hostSend(frame);
  assert.deepEqual(await p, frame);
});

test('optional arguments may be left out before the callbacks', async () => {
  const { sdk, call } = connected();
  const p = new Promise((r) => sdk.openEyeCall.setAnswerWay('4', { response: r }));
  assert.deepEqual(call.lastSent().param, { answerWay: '4', times: 0 });
  call.hostSend(responseTo(call.lastSent(), { errMsg: '' }));
  assert.equal((await p).result, 0);
  // A bare function works as callbacks too.
  const q = new Promise((r) => sdk.openEyeCall.getSpkVol(r));
  call.hostSend(responseTo(call.lastSent(), { param: { volume: 5 } }));
  assert.equal((await q).param.volume, 5);
});

test('events reach setBasicCallEvent, register callbacks and on() listeners', () => {
  const { sdk, call } = connected();
  const got = [];
  const cb = (name) => (d) => got.push([name, d.notify]);
  sdk.openEyeCall.setBasicCallEvent({
    onCallIncoming: cb('incoming'), onCallOutGoing: cb('outgoing'), onCallRingBack: cb('ringback'),
    onCallConnected: cb('connected'), onCallEnded: cb('ended'), onCallEndedFailed: cb('endfailed'),
    onCallRtpCreated: cb('rtp'), onCallOpenVideoReq: cb('videoreq'), onCallHold: cb('hold'),
  });
  sdk.openEyeCall.register('1001', '1001', 'pw', 4, { response: () => {}, onRegStatusUpdate: cb('reg'), onForceUnReg: cb('force') });
  const all = [];
  sdk.openEyeCall.on('*', (d) => all.push(d.notify));
  for (const n of [1009, 1004, 1008, 2002, 2003, 2004, 2005, 2006, 2009, 2018, 2007, 2022, 9999]) {
    call.hostSend({ description: 'X', notify: n, param: { callId: 1 } });
  }
  assert.deepEqual(got.map((g) => g[0]), ['reg', 'reg', 'force', 'incoming', 'outgoing', 'ringback', 'rtp',
    'connected', 'videoreq', 'hold', 'ended', 'endfailed']);
  assert.equal(all.length, 13, 'on("*") sees every event, including unknown ones');
});

test('a page callback that throws does not break the SDK', async () => {
  const { sdk, call } = connected();
  sdk.openEyeCall.setBasicCallEvent({ onCallIncoming: () => { throw new Error('page bug'); } });
  const origError = console.error;
  console.error = () => {};
  try {
    call.hostSend({ description: 'TSDK_E_CALL_EVT_CALL_INCOMING', notify: 2002, param: { callId: 1 } });
  } finally {
    console.error = origError;
  }
  const p = callMethod(sdk, 'getMicVol', []);
  call.hostSend(responseTo(call.lastSent(), { param: { volume: 9 } }));
  assert.equal((await p).param.volume, 9);
});

test('requests outstanding when the call socket closes answer result 1', async () => {
  const { sdk, call } = connected({ reconnect: false });
  const p = callMethod(sdk, 'startCall', ['1002', false]);
  call.hostClose(1006);
  const data = await p;
  assert.equal(data.result, 1);
  assert.match(data.errMsg, /closed/);
});

test('a request the host never answers times out with result 6', async () => {
  const { sdk } = connected({ responseTimeout: 30 });
  const data = await callMethod(sdk, 'getMicVol', []);
  assert.equal(data.result, 6);
  assert.ok(data.errMsg);
});

test('after the host restarts the SDK reconnects: serviceShutDown, then serviceStartUp, without reload', async () => {
  const { sdk, rec, daemon, call, login } = connected({ retryMinMs: 5, retryMaxMs: 20 });
  // The engine stops: daemon says so, the API sockets drop.
  daemon.hostSend({ description: 'SERVICE_SHUTDOWN', notify: 2, param: { reason: 'restart' } });
  call.hostClose(1006);
  login.hostClose(1006);
  await tick(30);
  assert.equal(FakeSocket.all.length, 3, 'no API reconnect while the service is down');
  daemon.hostSend({ description: 'SERVICE_RECOVER', notify: 3, param: {} });
  assert.equal(FakeSocket.all.length, 5, 'login and call reopened on SERVICE_RECOVER');
  FakeSocket.all[3].hostOpen();
  FakeSocket.all[4].hostOpen();

  // The whole host process goes away and comes back.
  daemon.hostClose(1006);
  FakeSocket.all[3].hostClose(1006);
  FakeSocket.all[4].hostClose(1006);
  await tick(15);
  const daemon2 = FakeSocket.all[5];
  assert.equal(daemon2.protocol, 'protocol_ws_deamon_service');
  daemon2.hostOpen();
  daemon2.hostSend({ description: 'SERVICE_STARTUP', notify: 1, param: {} });
  const call3 = FakeSocket.all.filter((s) => s.protocol === 'openeye_call_service_protocol').pop();
  call3.hostOpen();
  const names = rec.names();
  const tail = names.slice(names.indexOf('onOpeneyeDeamonClose'));
  assert.deepEqual(tail.filter((n) => /service|Deamon|CallReady/.test(n)),
    ['onOpeneyeDeamonClose', 'serviceShutDown', 'onOpeneyeDeamonReady', 'serviceStartUp', 'onOpeneyeCallReady']);
  const p = callMethod(sdk, 'getMicVol', []);
  call3.hostSend(responseTo(call3.lastSent(), { param: { volume: 4 } }));
  assert.equal((await p).param.volume, 4);
  sdk.uninit();
});

test('a call socket refused with 4001 (another page holds the softphone) is not retried', async () => {
  const { sdk, rec, call } = connected({ retryMinMs: 5 });
  call.hostClose(4001, 'another page holds the softphone');
  await tick(30);
  assert.equal(FakeSocket.all.filter((s) => s.protocol === 'openeye_call_service_protocol').length, 1);
  const closeEvt = rec.log.find((e) => e[0] === 'onOpeneyeCallClose');
  assert.deepEqual(closeEvt[1], { code: 4001, reason: 'another page holds the softphone' });
  sdk.uninit();
});

test('a daemon that is not there is reported once, then retried quietly', async () => {
  FakeSocket.all = [];
  const rec = recorder();
  const sdk = new TrackedSDK(Object.assign({ WebSocket: FakeSocket, retryMinMs: 5, retryMaxMs: 5 }, rec.opts));
  FakeSocket.all[0].hostClose(1006);
  await tick(10);
  FakeSocket.all[1].hostClose(1006);
  await tick(10);
  assert.ok(FakeSocket.all.length >= 3, 'keeps retrying');
  assert.deepEqual(rec.names(), ['onOpeneyeDeamonClose']);
  sdk.uninit();
  const n = FakeSocket.all.length;
  await tick(20);
  assert.equal(FakeSocket.all.length, n, 'uninit stops retrying');
});

test('a new SDK object stops the previous one, as pages written for the reference expect', () => {
  const first = connected();
  const second = connected();
  assert.equal(first.sdk.state().call, false);
  assert.deepEqual(first.call.closedWith, { code: 1000, reason: 'page closed the SDK' });
  assert.equal(second.sdk.state().call, true);
});

test('a request over 1 MiB is refused with result 2 before it is sent', async () => {
  const { sdk, call } = connected();
  const big = { serverAddr: 'x'.repeat(1 << 20) };
  const data = await callMethod(sdk, 'config', [{ networkInfo: big }]);
  assert.equal(data.result, 2);
  assert.match(data.errMsg, /1 MiB/);
  assert.equal(call.sent.length, 0);
});

test('frames that are not JSON are ignored', () => {
  const { sdk, call } = connected();
  call.hostSend('this is not json');
  assert.deepEqual(sdk.state(), { daemon: true, service: true, login: true, call: true });
});

// ---- attachVideo: video in the page, with WebCodecs and a canvas faked ----

class FakeCanvas {
  constructor() { this.width = 0; this.height = 0; this.drawn = []; }
  getContext() { return { drawImage: (frame, x, y, w, h) => this.drawn.push([frame.timestamp, w, h]) }; }
}

/** A window with (or without) WebCodecs; `decoders` are the VideoDecoders the SDK made. */
function videoRoot({ webcodecs = true, secure = true } = {}) {
  const decoders = [];
  class VideoDecoder {
    constructor(init) { this.init = init; this.state = 'unconfigured'; this.decodeQueueSize = 0; this.chunks = []; decoders.push(this); }
    configure(config) { this.config = config; this.state = 'configured'; }
    decode(chunk) { this.chunks.push(chunk); }
    close() { this.state = 'closed'; }
    // The browser's side: a decoded picture, or a failure.
    output(timestamp) { this.init.output({ displayWidth: 320, displayHeight: 240, timestamp, close() { this.closed = true; } }); }
    fail(name) { this.state = 'closed'; this.init.error({ name, message: name }); }
  }
  class EncodedVideoChunk { constructor(init) { Object.assign(this, init); } }
  const root = { HTMLCanvasElement: FakeCanvas, HTMLVideoElement: class {}, isSecureContext: secure };
  if (webcodecs) Object.assign(root, { VideoDecoder, EncodedVideoChunk });
  return { root, decoders };
}

/** One binary message as the host sends it (PROTOCOL.md "Video in the page"). */
function picture({ key = false, codec = 1, call = 7, ts = 40000, data = [9, 8, 7], version = 1 } = {}) {
  const buf = new ArrayBuffer(16 + data.length);
  const dv = new DataView(buf);
  dv.setUint8(0, version); dv.setUint8(1, key ? 1 : 0); dv.setUint8(2, codec); dv.setUint8(3, 0);
  dv.setUint32(4, call); dv.setUint32(8, Math.floor(ts / 4294967296)); dv.setUint32(12, ts % 4294967296);
  new Uint8Array(buf, 16).set(data);
  return buf;
}

function videoSdk(opts) {
  const { root, decoders } = videoRoot(opts);
  const { sdk } = connected({ root });
  const errors = [];
  return { sdk, root, decoders, errors, onError: (e) => errors.push(e) };
}

test('attachVideo without WebCodecs says so in onError and returns null', async () => {
  const { sdk, errors, onError } = videoSdk({ webcodecs: false, secure: false });
  const before = FakeSocket.all.length;
  assert.equal(sdk.attachVideo(new FakeCanvas(), { onError }), null);
  await tick();
  assert.equal(errors.length, 1);
  assert.equal(errors[0].code, 'unsupported');
  assert.match(errors[0].message, /WebCodecs.*not available.*secure context/);
  assert.equal(FakeSocket.all.length, before, 'no socket opened');
});

test('attachVideo refuses what is not a canvas or video, and unknown streams', async () => {
  const { sdk, errors, onError } = videoSdk();
  assert.equal(sdk.attachVideo({}, { onError }), null);
  assert.equal(sdk.attachVideo(new FakeCanvas(), { stream: 'both', onError }), null);
  assert.equal(sdk.attachVideo(new FakeCanvas(), { callId: 'x', onError }), null);
  await tick();
  assert.deepEqual(errors.map((e) => e.code), ['invalid', 'invalid', 'invalid']);
  assert.match(errors[1].message, /stream must be "remote" or "local"/);
});

test('attachVideo decodes from a keyframe on, draws into the canvas and skips to a keyframe when behind', async () => {
  const { sdk, decoders, errors, onError } = videoSdk();
  const canvas = new FakeCanvas();
  const view = sdk.attachVideo(canvas, { stream: 'remote', callId: 7, onError });
  const ws = FakeSocket.all[FakeSocket.all.length - 1];
  assert.equal(ws.url, 'ws://127.0.0.1:7684/video?stream=remote&callId=7');
  assert.equal(ws.protocol, 'seatphone_video');
  assert.equal(ws.binaryType, 'arraybuffer');
  ws.hostOpen();

  ws.onmessage({ data: picture({ key: false }) });
  assert.equal(decoders.length, 1);
  assert.deepEqual(decoders[0].config, { codec: 'vp8', optimizeForLatency: true });
  assert.equal(decoders[0].chunks.length, 0, 'nothing before a keyframe');
  ws.onmessage({ data: picture({ key: true, ts: 2 ** 33 + 5 }) });
  ws.onmessage({ data: picture({ ts: 2 ** 33 + 40005 }) });
  assert.deepEqual(decoders[0].chunks.map((c) => [c.type, c.timestamp, [...c.data]]),
    [['key', 2 ** 33 + 5, [9, 8, 7]], ['delta', 2 ** 33 + 40005, [9, 8, 7]]]);
  decoders[0].output(5);
  assert.deepEqual([canvas.width, canvas.height, canvas.drawn], [320, 240, [[5, 320, 240]]]);
  assert.deepEqual([view.stats.decoded, view.stats.codec, view.stats.callId], [1, 'VP8', 7]);

  // The decoder falls behind: pictures up to the next keyframe are skipped
  // and the host is asked for one.
  decoders[0].decodeQueueSize = 4;
  ws.onmessage({ data: picture() });
  assert.deepEqual(ws.sent, ['keyframe']);
  decoders[0].decodeQueueSize = 0;
  ws.onmessage({ data: picture() });
  assert.equal(decoders[0].chunks.length, 2);
  ws.onmessage({ data: picture({ key: true }) });
  assert.equal(decoders[0].chunks.length, 3);

  // Another codec (or call): a new decoder, from its keyframe.
  ws.onmessage({ data: picture({ key: true, codec: 2 }) });
  assert.equal(decoders[0].state, 'closed');
  assert.equal(decoders[1].config.codec, 'avc1.42E01F');
  assert.equal(decoders[1].chunks.length, 1);
  assert.equal(view.stats.codec, 'H.264');
  assert.deepEqual(errors, []);

  sdk.detachVideo(canvas);
  assert.equal(decoders[1].state, 'closed');
  assert.deepEqual(ws.closedWith, { code: 1000, reason: 'detached' });
  assert.deepEqual(sdk._videos, []);
});

test('a codec the browser cannot decode is reported once; a closed socket once, then retried', async () => {
  const { sdk, decoders, errors, onError } = videoSdk();
  sdk.retryMin = 1;
  const canvas = new FakeCanvas();
  sdk.attachVideo(canvas, { onError });
  let ws = FakeSocket.all[FakeSocket.all.length - 1];
  assert.equal(ws.url, 'ws://127.0.0.1:7684/video?stream=remote');
  ws.hostOpen();
  ws.onmessage({ data: picture({ key: true, codec: 2 }) });
  decoders[0].fail('NotSupportedError');
  ws.onmessage({ data: picture({ key: true, codec: 2 }) });
  assert.deepEqual(errors.map((e) => e.code), ['unsupported']);
  assert.match(errors[0].message, /cannot decode H\.264/);

  ws.hostClose(1006);
  ws.hostClose(1006);
  assert.deepEqual(errors.map((e) => e.code), ['unsupported', 'connection']);
  await tick(20);
  const again = FakeSocket.all[FakeSocket.all.length - 1];
  assert.notEqual(again, ws, 'a new socket');
  again.hostClose(1006);
  assert.equal(errors.length, 2, 'an outage is said once');
  sdk.uninit();
  assert.deepEqual(sdk._videos, []);
});
