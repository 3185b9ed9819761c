// The whole story, as an agent would live it on the demo page: configure,
// register through Kamailio, call baresip, see it connected, send DTMF, hang
// up, see it ended; then baresip calls the page and the page answers.
//
// Needs the host's SIP layer: skipped, saying so, while GET /health of the
// host has no "sip" section.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./harness');

const CALL_INFO_KEYS = ['callId', 'callState', 'confId', 'confPasscode', 'isAutoAnswer', 'isCaller', 'isFocus',
  'isVideoCall', 'peerDisplayName', 'peerNumber', 'reasonCode', 'reasonDescription', 'sipAccountID'];

function assertCallEvent(e, notify, description) {
  assert.equal(e.data.notify, notify);
  assert.equal(e.data.description, description);
  assert.ok(Number.isFinite(e.data.param.callId), `${description}: callId`);
  assert.equal(e.data.param.call_id, e.data.param.callId, `${description}: call_id beside callId`);
}

function assertCallInfo(info, callId) {
  for (const k of CALL_INFO_KEYS) assert.ok(k in info, `callInfo has ${k}`);
  assert.equal(info.callId, callId);
}

const event = h.isEvent;
const response = h.isResponse;

test.describe('the agent story on the demo page (Kamailio + baresip)', () => {
  let registered = false;
  let portalPort;
  const beforeReload = [];
  // An agent portal on another origin, allowed by the host's config.
  const s = h.stage({
    prepare: async () => { portalPort = await h.freePort(); },
    host: () => ({ extraApi: `allowed_origins = ["http://127.0.0.1:${portalPort}"]` }),
    sip: true,
    peer: {},
    demo: true,
  });

  test('the page configures the SIP server and registers 1001 through Kamailio', { timeout: 90000 }, async (t) => {
    if (s.skip) return t.skip(s.skip);
    const { host, kam, page } = s;
    const from = await h.logLength(page);
    const { config } = await h.demoRegister(page, kam.port, '1001');
    assert.equal(typeof config.local_ip, 'string');
    const ok = await h.waitForLog(page, (e) => e.kind === 'event' &&
      (e.data.notify === 1004 || (e.data.notify === 1009 && e.data.param.register_state === 3)), { from });
    assert.equal(ok.data.param.user_number !== undefined, true, 'user_number in the registration event');
    assert.match(kam.ulDump(), /AoR: 1001/);
    assert.ok(!JSON.stringify(await page.evaluate(() => window.demoLog)).includes('pass1001'),
      'the password appears nowhere in the page log');
    assert.ok(!host.log().includes('pass1001'), 'the host never logs the password');
    fs.mkdirSync(h.OUTPUT_DIR, { recursive: true });
    await page.screenshot({ path: path.join(h.OUTPUT_DIR, 'demo-registered.png'), fullPage: true });
    registered = true;
  });

  test('page_calls_baresip: connected, DTMF reaches the peer, hang up, ended', { timeout: 90000 }, async (t) => {
    if (s.skip) return t.skip(s.skip);
    const { baresip, page } = s;
    assert.ok(registered, 'needs the registration of the previous test');
    const from = await h.logLength(page);
    await page.fill('#calloutNumber', '1002');
    const started = h.ok(await h.clickFor(page, '#btn-startCall', 'startCall'), 'startCall');
    const callId = started.param.callId;
    assert.equal(started.param.call_id, callId);

    const outgoing = await h.waitForLog(page, event(2003), { from });
    assertCallEvent(outgoing, 2003, 'TSDK_E_CALL_EVT_CALL_OUTGOING');
    assertCallInfo(outgoing.data.param.callInfo, callId);
    assert.equal(Number(outgoing.data.param.callInfo.isCaller), 1);
    assert.equal(outgoing.data.param.callInfo.peerNumber, '1002');
    const log = await page.evaluate(() => window.demoLog);
    assert.ok(log.indexOf(log.find(response('startCall'))) < log.indexOf(log.find(event(2003))),
      'the startCall response comes before 2003');

    const connected = await h.waitForLog(page, event(2006), { from });
    assertCallEvent(connected, 2006, 'TSDK_E_CALL_EVT_CALL_CONNECTED');
    assert.equal(connected.data.param.callInfo.callState, 3);
    await baresip.waitEvent('CALL_ESTABLISHED');
    assert.equal(await page.textContent('#callStatus'), 'connected');
    assert.equal(await page.inputValue('#callId'), String(callId));

    // Hold and unhold (re-INVITE), mute and unmute, while connected.
    let mark = await h.logLength(page);
    h.ok(await h.clickFor(page, '#btn-holdCall', 'holdCall'), 'holdCall');
    const held = await h.waitForLog(page, (e) => e.kind === 'event' && [2018, 2019].includes(e.data.notify), { from: mark });
    assert.equal(held.data.notify, 2018, `hold: ${JSON.stringify(held.data)}`);
    mark = await h.logLength(page);
    h.ok(await h.clickFor(page, '#btn-unholdCall', 'unholdCall'), 'unholdCall');
    const unheld = await h.waitForLog(page, (e) => e.kind === 'event' && [2020, 2021].includes(e.data.notify), { from: mark });
    assert.equal(unheld.data.notify, 2020, `unhold: ${JSON.stringify(unheld.data)}`);
    h.ok(await h.answerTo(page, 'operateMic', () => page.check('#mute')), 'mute');
    h.ok(await h.answerTo(page, 'operateMic', () => page.uncheck('#mute')), 'unmute');

    h.ok(await h.clickFor(page, '#dtmf-5', 'dtmf'), 'dtmf');
    await baresip.waitEvent('CALL_DTMF_START', { pred: (e) => e.param === '5', timeout: 5000 });

    const beforeEnd = await h.logLength(page);
    h.ok(await h.clickFor(page, '#btn-endCall', 'endCall'), 'endCall');
    const ended = await h.waitForLog(page, event(2007), { from: beforeEnd });
    assertCallEvent(ended, 2007, 'TSDK_E_CALL_EVT_CALL_ENDED');
    assert.equal(ended.data.param.callInfo.callState, 5);
    await baresip.waitEvent('CALL_CLOSED');
    await page.waitForFunction(() => /ended/.test(document.getElementById('callStatus').textContent));
  });

  test('baresip_calls_the_page: incoming shown, answered from the page, its tone heard, ended by the peer', { timeout: 90000 }, async (t) => {
    if (s.skip) return t.skip(s.skip);
    const { host, baresip, page } = s;
    assert.ok(registered, 'needs the registration of the first test');
    const from = await h.logLength(page);
    const closedBefore = baresip.events.filter((e) => e.type === 'CALL_CLOSED').length;
    baresip.dial('1001');
    const incoming = await h.waitForLog(page, event(2002), { from });
    assertCallEvent(incoming, 2002, 'TSDK_E_CALL_EVT_CALL_INCOMING');
    const callId = incoming.data.param.callId;
    assertCallInfo(incoming.data.param.callInfo, callId);
    assert.equal(incoming.data.param.callInfo.peerNumber, '1002');
    assert.equal(Number(incoming.data.param.callInfo.isCaller), 0);
    assert.ok('maybeVideoCall' in incoming.data.param);
    assert.equal(await page.inputValue('#callId'), String(callId));

    h.ok(await h.clickFor(page, '#btn-acceptCall', 'acceptCall'), 'acceptCall');
    await h.waitForLog(page, event(2006), { from });
    await baresip.waitEvent('CALL_ESTABLISHED', { pred: () => true });

    // In a call the host reports QoS every 5 s.
    const qos = await h.waitForLog(page, event(2028), { from, timeout: 8000 });
    assert.equal(qos.data.description, 'TSDK_E_CALL_EVT_STATISTIC_LOCAL_QOS');
    for (const k of ['callId', 'sendPackets', 'recvPackets', 'lostPackets', 'jitterMs', 'rttMs']) {
      assert.ok(Number.isFinite(qos.data.param[k]), `QoS ${k}: ${JSON.stringify(qos.data.param)}`);
    }
    assert.equal(typeof qos.data.param.codec, 'string');
    assert.ok(qos.data.param.recvPackets > 0, 'the page side receives RTP from baresip');

    baresip.hangup();
    const ended = await h.waitForLog(page, event(2007), { from });
    assertCallEvent(ended, 2007, 'TSDK_E_CALL_EVT_CALL_ENDED');
    assert.equal(ended.data.param.callId, callId);
    // baresip tells of its own hang-up over ctrl_tcp, which may come after the page's 2007.
    await baresip.waitEvent('CALL_CLOSED', { pred: () => baresip.events.filter((e) => e.type === 'CALL_CLOSED').length > closedBefore });

    // The host's virtual speaker recorded baresip's 440 Hz tone.
    const heard = h.analyzeWav(path.join(host.tmp, 'out.wav'), 440);
    assert.ok(heard.loudSeconds >= 3, `the speaker file holds ${heard.loudSeconds} s of sound: ${JSON.stringify(heard)}`);
    assert.ok(heard.toneRatio > 0.5, `the sound is baresip's 440 Hz tone: ${JSON.stringify(heard)}`);
  });

  test('auto answer set from the page answers baresip\'s call by itself', { timeout: 90000 }, async (t) => {
    if (s.skip) return t.skip(s.skip);
    const { baresip, page } = s;
    assert.ok(registered, 'needs the registration of the first test');
    await page.selectOption('#answerWay', '2');
    await page.fill('#answerTimes', '0');
    const set = h.ok(await h.clickFor(page, '#btn-setAnswerWay', 'setAnswerWay'), 'setAnswerWay');
    assert.equal(typeof set.errMsg, 'string');

    const from = await h.logLength(page);
    const established = baresip.events.filter((e) => e.type === 'CALL_ESTABLISHED').length;
    baresip.dial('1001');
    await h.waitForLog(page, event(2002), { from });
    const connected = await h.waitForLog(page, event(2006), { from });
    assert.equal(Number(connected.data.param.callInfo.isAutoAnswer), 1, 'callInfo says it was auto-answered');
    await baresip.waitEvent('CALL_ESTABLISHED', { pred: () => baresip.events.filter((e) => e.type === 'CALL_ESTABLISHED').length > established });
    const mark = await h.logLength(page);
    await page.click('#btn-endCall');
    await h.waitForLog(page, event(2007), { from: mark });

    await page.selectOption('#answerWay', '0');
    h.ok(await h.clickFor(page, '#btn-setAnswerWay', 'setAnswerWay'), 'setAnswerWay');
  });

  test('a page reloaded during a call gets the call back and hangs it up', { timeout: 90000 }, async (t) => {
    if (s.skip) return t.skip(s.skip);
    const { baresip, page } = s;
    assert.ok(registered, 'needs the registration of the first test');
    // Keep the events seen so far: the reload empties the page's log.
    beforeReload.push(...(await page.evaluate(() => window.demoLog)));
    const from = await h.logLength(page);
    const closed = baresip.events.filter((e) => e.type === 'CALL_CLOSED').length;
    baresip.dial('1001');
    const incoming = await h.waitForLog(page, event(2002), { from });
    const callId = incoming.data.param.callId;
    await page.click('#btn-acceptCall');
    await h.waitForLog(page, event(2006), { from });

    await page.reload();
    await page.click('#btn-init');
    const again = await h.waitForLog(page, (e) => e.kind === 'event' && e.data.param && e.data.param.callId === callId);
    assert.equal(again.data.notify, 2006, `the latest event of the live call is re-sent: ${JSON.stringify(again.data)}`);
    assert.equal(await page.inputValue('#callId'), String(callId));
    assert.equal(await page.textContent('#callStatus'), 'connected');
    const mark = await h.logLength(page);
    h.ok(await h.clickFor(page, '#btn-endCall', 'endCall'), 'endCall');
    await h.waitForLog(page, event(2007), { from: mark });
    await baresip.waitEvent('CALL_CLOSED', { pred: () => baresip.events.filter((e) => e.type === 'CALL_CLOSED').length > closed });
  });

  test('call and registration events carry the field types of the reference (0/1 flags, numbers)', { timeout: 30000 }, async (t) => {
    if (s.skip) return t.skip(s.skip);
    const { page } = s;
    const log = beforeReload.concat(await page.evaluate(() => window.demoLog));
    const events = log.filter((e) => e.kind === 'event').map((e) => e.data);
    const infos = events.filter((d) => d.param && d.param.callInfo);
    assert.ok(infos.length >= 4, 'the calls above produced call events with callInfo');
    const problems = new Set();
    const expect = (ok, what) => { if (!ok) problems.add(what); };
    for (const d of infos) {
      const i = d.param.callInfo;
      for (const k of ['isAutoAnswer', 'isCaller', 'isFocus', 'isVideoCall']) {
        expect(i[k] === 0 || i[k] === 1, `${d.notify} callInfo.${k} is ${JSON.stringify(i[k])}, the reference has 0/1`);
      }
      for (const k of ['callId', 'callState', 'reasonCode', 'sipAccountID']) {
        expect(typeof i[k] === 'number', `${d.notify} callInfo.${k} is ${JSON.stringify(i[k])}, the reference has a number`);
      }
      for (const k of ['confId', 'confPasscode', 'peerDisplayName', 'peerNumber', 'reasonDescription']) {
        expect(typeof i[k] === 'string', `${d.notify} callInfo.${k} is ${JSON.stringify(i[k])}, the reference has a string`);
      }
    }
    for (const d of events.filter((e) => e.notify === 2002)) {
      expect(d.param.maybeVideoCall === 0 || d.param.maybeVideoCall === 1,
        `2002 maybeVideoCall is ${JSON.stringify(d.param.maybeVideoCall)}, the reference has 0/1`);
    }
    for (const d of events.filter((e) => e.notify === 1004)) {
      expect(d.param.serviceAccountType === 4 || d.param.serviceAccountType === 5,
        `1004 serviceAccountType is ${JSON.stringify(d.param.serviceAccountType)}, the reference has 4 (UAP) or 5 (pool)`);
    }
    assert.deepEqual([...problems], []);
  });

  test('a reloaded page is told the registration state and keeps the account', { timeout: 60000 }, async (t) => {
    if (s.skip) return t.skip(s.skip);
    const { kam, page } = s;
    assert.ok(registered, 'needs the registration of the first test');
    await page.reload();
    await page.click('#btn-init');
    await h.waitForLog(page, (e) => e.kind === 'callback' && e.name === 'onOpeneyeCallReady');
    const state = await h.waitForLog(page, event(1009));
    assert.equal(state.data.param.register_state, 3);
    await page.waitForFunction(() => /registered/.test(document.getElementById('phoneStatus').textContent));
    assert.match(kam.ulDump(), /AoR: 1001/);
  });

  test('deRegister: the page sees the account unregistered and Kamailio drops it', { timeout: 90000 }, async (t) => {
    if (s.skip) return t.skip(s.skip);
    const { kam, page } = s;
    assert.ok(registered, 'needs the registration of the first test');
    const from = await h.logLength(page);
    h.ok(await h.clickFor(page, '#btn-deRegister', 'deRegister'), 'deRegister');
    await h.waitForLog(page, (e) => e.kind === 'event' &&
      (e.data.notify === 1006 || (e.data.notify === 1009 && e.data.param.register_state === 4)), { from });
    await h.waitFor(() => !/AoR: 1001/.test(kam.ulDump()),
      { timeout: 5000, every: 100, fail: () => `Kamailio still has 1001:\n${kam.ulDump()}` });
  });
  test('a page written from the reference\'s sample code, on a configured origin, registers, calls and answers', { timeout: 120000 }, async (t) => {
    if (s.skip) return t.skip(s.skip);
    const { host, kam, baresip, browser, page } = s;
    // The demo page lets go of the softphone first: one page at a time.
    await page.click('#btn-uninit');
    const portal = await h.startOtherOrigin({ '/': legacyPage(host, kam.port) }, portalPort);
    const legacy = await browser.newPage();
    try {
      await h.gotoHost(legacy, host, `${portal.base}/`);
      const trace = () => legacy.evaluate(() => window.trace);
      let cursor = 0; // lines are awaited in order: each after the one before
      const waitTrace = async (line, timeout = 15000) => {
        let lines = [];
        const at = await h.waitFor(async () => {
          lines = await trace();
          return lines.indexOf(line, cursor) + 1;
        }, { timeout, fail: () => `the sample page never logged "${line}"; it logged:\n${lines.join('\n')}` });
        cursor = at;
      };
      await legacy.evaluate(() => initOpeneye());
      await waitTrace('OpenEye Deamon is Ready');
      await waitTrace('Set OpenEyeCall Sip Config Success.');
      await waitTrace('Register Operation Success');
      await waitTrace('registered');

      await legacy.evaluate(() => startCall());
      await waitTrace('StartCall success.');
      await waitTrace('connected 1002');
      await baresip.waitEvent('CALL_ESTABLISHED', { pred: (e) => /1003/.test(e.param) });
      await legacy.evaluate(() => endCall());
      await waitTrace('EndCall success.');
      await waitTrace('ended');

      baresip.dial('1003');
      await waitTrace('incoming 1002');
      await waitTrace('AcceptCall success.');
      await waitTrace('connected 1002');
      baresip.hangup();
      await waitTrace('ended');
      assert.deepEqual(legacy.errors, [], 'no script error on the sample page');
    } finally {
      await legacy.close();
      await portal.close();
    }
  });
});

/**
 * A page as an integrator would write it from the reference (sections 4.3 to
 * 4.7 and 5.1), quirks included: `this.global_openEye_SDK`, sipMode 1,
 * data.param.call_id in onCallIncoming, a tupCurrentCallType that is a number.
 */
function legacyPage(host, sipPort) {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>
<script src="${host.base}/OpenEye_SDK.js"></script>
<script>
var GlobalSipIp = "127.0.0.1";
var GlobalSipPort = ${sipPort};
var userPhoneNumber;
var tupCurrentCallId = "";
var tupCurrentCallType = 0;
var global_openEye_SDK = null;
window.trace = [];
function writeLog(s) { window.trace.push(s); }

function initOpeneye() {
  if (global_openEye_SDK == null) {
    global_openEye_SDK = new OpenEye_SDK({
      onOpeneyeDeamonReady: onOpeneyeDeamonReady,
      onOpeneyeDeamonClose: onOpeneyeDeamonClose,
      serviceStartUp: serviceStartUp,
      serviceShutDown: serviceShutDown,
      onOpeneyeLoginReady: onOpeneyeLoginReady,
      onOpeneyeLoginClose: onOpeneyeLoginClose,
      onOpeneyeCallReady: onOpeneyeCallReady,
      onOpeneyeCallClose: onOpeneyeCallClose,
      onVersionInfoNotify: onVersionInfoNotify
    });
  }
}
function onVersionInfoNotify(data) { writeLog("version is " + data.param.version); }
function onOpeneyeDeamonReady() { writeLog("OpenEye Deamon is Ready"); }
function onOpeneyeDeamonClose() { writeLog("OpenEye Deamon is Closed, please restart OpenEye Deamon it."); }
function serviceStartUp() { writeLog("Openeye Service StartUp"); }
function serviceShutDown() { writeLog("Openeye Service is shutdown, please restart it."); }
function onOpeneyeLoginReady() { writeLog("onOpeneyeLoginReady"); }
function onOpeneyeLoginClose() { writeLog("onOpeneyeLoginClose"); }
function onOpeneyeCallClose() { writeLog("onOpeneyeCallClose"); }
function onOpeneyeCallReady() { writeLog("onOpeneyeCallReady"); initOpeneyeCall(); sipBasicCfg(); }

function initOpeneyeCall() {
  global_openEye_SDK.openEyeCall.setBasicCallEvent({
    onCallIncoming: onCallIncoming,
    onCallOutGoing: onCallOutGoing,
    onCallRingBack: onCallRingBack,
    onCallConnected: onCallConnected,
    onCallEnded: onCallEnded,
    onCallEndedFailed: onCallEndedFailed,
    onCallRtpCreated: onCallRtpCreated,
    onCallOpenVideoReq: onCallOpenVideoReq
  });
}
function sipBasicCfg() {
  global_openEye_SDK.openEyeCall.config({
    networkInfo: { serverAddr: GlobalSipIp, sipServerPort: GlobalSipPort, sipTransportMode: 0, httpPort: 0 }
  }, { response: configResponse });
}
function configResponse(data) {
  if (data.result == 0) { writeLog("Set OpenEyeCall Sip Config Success."); register(); }
  else { writeLog("Set OpenEyeCall Sip Config Failed."); }
}
function register() {
  var phoneNumber = "1003";
  var password = "pass1003";
  userPhoneNumber = phoneNumber + "@" + GlobalSipIp;
  var sipMode = 1;
  this.global_openEye_SDK.openEyeCall.register(userPhoneNumber, phoneNumber, password, sipMode, {
    onRegStatusUpdate: onRegStatusUpdate,
    onForceUnReg: onForceUnRegInfo,
    response: registerResponse
  });
}
function registerResponse(data) {
  if (data.result == 0) { writeLog("Register Operation Success"); } else { writeLog("Register Operation Failed"); }
}
function onRegStatusUpdate(data) {
  var state = ["unregister", "registering", "deregistering", "registered", "deregistered"];
  writeLog(state[data.param.register_state]);
}
function onForceUnRegInfo(data) { writeLog("DeRegister"); }

function startCall() {
  this.global_openEye_SDK.openEyeCall.startCall("1002", false, { response: startCallResponse });
}
function startCallResponse(data) {
  if (data.result == 0) { writeLog("StartCall success."); tupCurrentCallId = data.param.callId; }
  else { writeLog("StartCall failed. The ErrorCode is " + data.result); }
}
function endCall() {
  global_openEye_SDK.openEyeCall.endCall(tupCurrentCallId, { response: onEndCallReponse });
}
function onEndCallReponse(data) {
  if (data.result == 0) { writeLog("EndCall success."); } else { writeLog("EndCall failed. The ErrorCode is " + data.result); }
}
function onCallIncoming(data) {
  writeLog("incoming " + data.param.callInfo.peerNumber);
  var tupCurrentCallId = data.param.call_id;
  acceptCall(tupCurrentCallId);
}
function acceptCall(tupCurrentCallId) {
  this.global_openEye_SDK.openEyeCall.acceptCall(tupCurrentCallId, tupCurrentCallType, { response: onAcceptCallReponse });
}
function onAcceptCallReponse(data) {
  if (data.result == 0) { writeLog("AcceptCall success."); } else { writeLog("AcceptCall failed. The ErrorCode is " + data.result); }
}
function onCallOutGoing(data) { writeLog("outgoing " + data.param.callInfo.peerNumber); }
function onCallRingBack(data) { writeLog("ringback"); }
function onCallConnected(data) { writeLog("connected " + data.param.callInfo.peerNumber); }
function onCallEnded(data) { writeLog("ended"); }
function onCallEndedFailed(data) { writeLog("end failed"); }
function onCallRtpCreated(data) { writeLog("rtp created"); }
function onCallOpenVideoReq(data) { writeLog("video requested"); }
</script></body></html>`;
}
