/* Seatphone WebDemo: the reference's WebDemo on OpenEye_SDK.js.
 * Nothing connects until "Init" is pressed, so another script on the page can
 * own the SDK instead. window.global_openEye_SDK is the SDK once initialised;
 * window.demoLog holds every logged entry ({time, kind, name, data}). */
(function () {
  'use strict';

  var REG_STATES = ['unregistered', 'registering', 'deregistering', 'registered', 'deregistered'];
  var CALL_STATES = ['idle', 'incoming', 'outgoing', 'live', 'hold', 'ended'];

  window.global_openEye_SDK = null;
  window.demoLog = [];
  var userPhoneNumber = '';

  function $(id) { return document.getElementById(id); }
  function val(id) { return $(id).value.trim(); }
  function num(id) { return Number(val(id)); }
  function text(id, s) { $(id).textContent = s; }
  function show(id, on) { $(id).classList.toggle('hidden', !on); }

  // ---- log -------------------------------------------------------------
  function writeLog(kind, name, data) {
    var entry = { time: new Date().toISOString().slice(11, 23), kind: kind, name: name, data: data };
    window.demoLog.push(entry);
    var li = document.createElement('li');
    li.className = kind + (data && typeof data.result === 'number' && data.result !== 0 ? ' failed' : '');
    var head = document.createElement('span');
    head.className = 'head';
    head.textContent = entry.time + ' ' + kind + ' ' + name;
    li.appendChild(head);
    if (data !== undefined) {
      var body = document.createElement('code');
      var json = JSON.stringify(data);
      body.textContent = json.length > 600 ? json.slice(0, 600) + '…' : json;
      li.appendChild(body);
    }
    var log = $('log');
    log.appendChild(li);
    while (log.children.length > 500) { log.removeChild(log.firstChild); }
    li.scrollIntoView({ block: 'nearest' });
  }

  // ---- SDK life-cycle ----------------------------------------------------
  function setState(id, on, onText, offText) {
    var el = $(id);
    el.textContent = on ? onText : offText;
    el.className = on ? 'on' : 'off';
  }

  function initOpeneye() {
    if (window.global_openEye_SDK) { writeLog('info', 'Init', 'already initialised'); return; }
    var opts = {
      onOpeneyeDeamonReady: function () { setState('stateDaemon', true, 'open', 'closed'); writeLog('callback', 'onOpeneyeDeamonReady'); },
      onOpeneyeDeamonClose: function (info) {
        setState('stateDaemon', false, 'open', 'closed');
        writeLog('callback', 'onOpeneyeDeamonClose', info);
        text('initStatus', 'softphone not reachable — is seatphone running?');
      },
      serviceStartUp: function (data) { setState('stateService', true, 'up', 'down'); writeLog('callback', 'serviceStartUp', data); },
      serviceShutDown: function (data) { setState('stateService', false, 'up', 'down'); writeLog('callback', 'serviceShutDown', data); },
      onOpeneyeLoginReady: function () { setState('stateLogin', true, 'open', 'closed'); writeLog('callback', 'onOpeneyeLoginReady'); },
      onOpeneyeLoginClose: function (info) { setState('stateLogin', false, 'open', 'closed'); writeLog('callback', 'onOpeneyeLoginClose', info); },
      onOpeneyeCallReady: function () {
        setState('stateCall', true, 'open', 'closed');
        text('initStatus', 'Success');
        writeLog('callback', 'onOpeneyeCallReady');
        initOpeneyeCall();
      },
      onOpeneyeCallClose: function (info) {
        setState('stateCall', false, 'open', 'closed');
        writeLog('callback', 'onOpeneyeCallClose', info);
        if (info && (info.code === 4001 || info.code === 4002)) { text('initStatus', info.reason + ' (' + info.code + ')'); }
      },
      onVersionInfoNotify: function (data) {
        writeLog('callback', 'onVersionInfoNotify', data);
        text('version', 'version: ' + (data && data.param ? data.param.version : '?'));
      },
      onLog: function (msg) { writeLog('info', 'sdk', msg); },
      takeover: $('takeover').checked
    };
    if (val('sdkHost')) { opts.host = val('sdkHost'); }
    if (val('sdkDaemonPort')) { opts.daemonPort = num('sdkDaemonPort'); }
    if (val('sdkPort')) { opts.port = num('sdkPort'); }
    text('initStatus', 'connecting…');
    window.global_openEye_SDK = new OpenEye_SDK(opts);
  }

  function uninitOpeneye() {
    if (!window.global_openEye_SDK) { return; }
    window.global_openEye_SDK.uninit();
    window.global_openEye_SDK = null;
    text('initStatus', 'not initialised');
    ['stateDaemon', 'stateLogin', 'stateCall'].forEach(function (id) { setState(id, false, 'open', 'closed'); });
    setState('stateService', false, 'up', 'down');
  }

  function initOpeneyeCall() {
    var c = window.global_openEye_SDK.openEyeCall;
    c.setBasicCallEvent({
      onCallIncoming: onCallEvent,
      onCallOutGoing: onCallEvent,
      onCallRingBack: onCallEvent,
      onCallRtpCreated: onCallEvent,
      onCallConnected: onCallEvent,
      onCallEnded: onCallEvent,
      onCallEndedFailed: onCallEvent,
      onCallOpenVideoReq: function (data) { show('videoReq', true); onCallEvent(data); },
      onCallOpenVideo: onCallEvent,
      onCallCloseVideo: onCallEvent,
      onCallHold: onCallEvent,
      onCallUnhold: onCallEvent,
      onCallQos: function () { /* logged by the '*' listener */ }
    });
    c.setRegEvent({ onRegStatusUpdate: onRegStatusUpdate, onForceUnReg: onForceUnReg });
    c.on('*', function (data) { writeLog('event', data.description + ' (' + data.notify + ')', data); });
  }

  // ---- events ------------------------------------------------------------
  function onRegStatusUpdate(data) {
    var p = data.param || {};
    var state = p.register_state;
    if (data.notify === 1004) { state = 3; }
    // A reloaded page learns the account from 1009: deRegister names it.
    if (state === 3 && p.user_number && !userPhoneNumber) { userPhoneNumber = p.user_number; }
    var label = REG_STATES[state] || ('state ' + state);
    if (data.notify === 1005) { label = 'failed'; }
    if (p.reason_code) { label += ' (' + p.reason_code + ')'; }
    text('phoneStatus', label);
    $('phoneStatus').className = state === 3 ? 'on' : 'off';
  }

  function onForceUnReg(data) {
    text('phoneStatus', 'forced out' + (data.param && data.param.reason_code ? ' (' + data.param.reason_code + ')' : ''));
    $('phoneStatus').className = 'off';
  }

  function onCallEvent(data) {
    var p = data.param || {};
    var id = p.callId !== undefined ? p.callId : p.call_id;
    var info = p.callInfo;
    if (info) {
      text('callInfo', JSON.stringify(info));
      text('callPeer', (info.peerDisplayName ? info.peerDisplayName + ' ' : '') + (info.peerNumber || '–'));
    }
    switch (data.notify) {
      case 2002: $('callId').value = id; text('callStatus', 'incoming'); break;
      case 2003: $('callId').value = id; text('callStatus', 'outgoing'); break;
      case 2004: text('callStatus', 'ringing'); break;
      case 2006: $('callId').value = id; text('callStatus', 'connected'); break;
      case 2007:
        text('callStatus', 'ended' + (info && info.reasonCode ? ' (' + info.reasonCode + ')' : ''));
        if (String($('callId').value) === String(id)) { $('callId').value = ''; }
        show('videoReq', false);
        break;
      case 2018: text('callStatus', 'on hold'); break;
      case 2020: text('callStatus', 'connected'); break;
      default:
        if (info && CALL_STATES[info.callState]) { text('callStatus', CALL_STATES[info.callState]); }
    }
  }

  // ---- methods -------------------------------------------------------------
  /** Calls openEyeCall[method](...args) and logs its response; `then` sees it too. */
  function call(method, args, then) {
    var sdk = window.global_openEye_SDK;
    if (!sdk) {
      writeLog('response', method, { result: 3, errMsg: 'press Init first' });
      return;
    }
    // The password never reaches the log.
    writeLog('request', method, method === 'register' ? [args[0], args[1], '***', args[3]] : args);
    sdk.openEyeCall[method].apply(sdk.openEyeCall, args.concat([{
      response: function (data) {
        writeLog('response', method, data);
        if (then) { then(data); }
      }
    }]));
  }

  function callId() {
    var v = val('callId');
    return v === '' ? -1 : Number(v);
  }

  function configParams() {
    var networkInfo = {
      serverAddr: val('sipServer'),
      sipServerPort: num('sipPort'),
      sipTransportMode: num('sipTransport'),
      httpPort: 0
    };
    if ($('poolMode').checked) {
      networkInfo.poolServers = [{ serverAddr: val('sipServer'), sipServerPort: num('sipPort') }];
      for (var i = 1; i <= 3; i++) {
        if (val('poolIp' + i)) { networkInfo.poolServers.push({ serverAddr: val('poolIp' + i), sipServerPort: num('poolPort' + i) }); }
      }
    }
    return {
      networkInfo: networkInfo,
      call: { call_ipcall_enable: 0 },
      sip: { user_type: 0, tls_anonymous_enable: 0, trans_mode: num('sipTransport') },
      media: { trans_mode: num('mediaMode') },
      audio: { audio_codec: val('audioCodec'), dtmf_mode: num('dtmfMode'), audio_aec: 1, audio_anr: 0, audio_agc: 0 },
      account: { account_pwd_type: 0 }
    };
  }

  function checkedValue(name) {
    var el = document.querySelector('input[name="' + name + '"]:checked');
    return el ? Number(el.value) : 0;
  }

  var actions = {
    'btn-init': initOpeneye,
    'btn-uninit': uninitOpeneye,
    'btn-refresh': function () { uninitOpeneye(); initOpeneye(); },
    'btn-config': function () {
      call('config', [configParams()], function (d) { if (d.local_ip) { text('localIp', d.local_ip); } });
    },
    'btn-register': function () {
      var phone = val('phoneNumber');
      userPhoneNumber = phone.indexOf('@') >= 0 ? phone : phone + '@' + val('sipServer');
      call('register', [userPhoneNumber, phone, $('password').value, $('poolMode').checked ? 5 : 4]);
    },
    'btn-deRegister': function () {
      var phone = val('phoneNumber');
      call('deRegister', [userPhoneNumber || (phone.indexOf('@') >= 0 ? phone : phone + '@' + val('sipServer'))]);
    },
    'btn-startCall': function () { startCall(false); },
    'btn-startVideoCall': function () { startCall(true); },
    'btn-acceptCall': function () { call('acceptCall', [callId(), false]); },
    'btn-endCall': function () { call('endCall', [callId()]); },
    'btn-holdCall': function () { call('holdCall', [callId()]); },
    'btn-unholdCall': function () { call('unholdCall', [callId()]); },
    'btn-setAnswerWay': function () { call('setAnswerWay', [val('answerWay'), num('answerTimes')]); },
    'btn-getMediaDevices': function () {
      call('getMediaDevices', [num('deviceType')], function (d) {
        var list = $('deviceList');
        list.innerHTML = '';
        ((d.param && d.param.deviceInfo) || []).forEach(function (dev) {
          list.options.add(new Option(dev.index + ': ' + dev.deviceName, dev.index));
        });
      });
    },
    'btn-setMicIndex': function () { call('setMicIndex', [Number($('deviceList').value || 0)]); },
    'btn-setSpeakIndex': function () { call('setSpeakIndex', [Number($('deviceList').value || 0)]); },
    'btn-mediaGetMicIndex': function () {
      call('mediaGetMicIndex', [], function (d) { if (d.param) { text('micIndex', d.param.index); } });
    },
    'btn-mediaGetSpeakIndex': function () {
      call('mediaGetSpeakIndex', [], function (d) { if (d.param) { text('speakIndex', d.param.index); } });
    },
    'btn-getMicVol': function () {
      call('getMicVol', [], function (d) { if (d.param) { $('micVol').value = d.param.volume; text('micVolValue', d.param.volume); } });
    },
    'btn-setMicVol': function () { call('setMicVol', [num('micVol'), 1]); },
    'btn-getSpkVol': function () {
      call('getSpkVol', [], function (d) { if (d.param) { $('spkVol').value = d.param.volume; text('spkVolValue', d.param.volume); } });
    },
    'btn-setSpkVol': function () { call('setSpkVol', [num('spkVol'), 0]); },
    'btn-setVideoWindowParam': function () {
      call('setVideoWindowParam', [num('videoX'), num('videoY'), num('videoW'), num('videoH')]);
    },
    'btn-setVideoLayoutMode': function () { call('setVideoLayoutMode', [checkedValue('layout')]); },
    'btn-setVideoDisplayMode': function () { call('setVideoDisplayMode', [checkedValue('display')]); },
    'btn-openCamera': function () { call('openCamera', [callId()]); },
    'btn-closeCamera': function () { call('closeCamera', [callId()]); },
    'btn-addVideo': function () { call('addVideo', [callId()]); },
    'btn-delVideo': function () { call('delVideo', [callId()]); },
    'btn-replyAddVideo': function () { show('videoReq', false); call('replyAddVideo', [callId(), true]); },
    'btn-rejectAddVideo': function () { show('videoReq', false); call('replyAddVideo', [callId(), false]); },
    'btn-attachVideo': function () { inPageVideo(true); },
    'btn-detachVideo': function () { inPageVideo(false); },
    'btn-getAppList': function () {
      call('getAppList', [], function (d) {
        var list = $('shareAppList');
        list.innerHTML = '';
        if (d.result === 0 && d.param) {
          Object.keys(d.param).forEach(function (key) { list.options.add(new Option(key + '_' + d.param[key], key)); });
          $('shareHwnd').value = list.value;
        }
      });
    },
    'btn-setShareWindow': function () { call('setShareWindow', [val('shareHwnd') || $('shareAppList').value]); },
    'btn-startShareWindow': function () { call('startShareWindow', []); },
    'btn-stopShareWindow': function () { call('stopShareWindow', []); },
    'btn-screenShot': function () {
      call('screenShot', [], function (d) { if (d.path) { text('capturePath', d.path); } });
    },
    'btn-screenShotBase64': function () {
      call('screenShotBase64', [], function (d) {
        if (d.base64) { $('capturePreview').src = 'data:image/png;base64,' + d.base64; show('capturePreview', true); }
      });
    },
    'btn-videoCatchStart': function () { call('videoCatch', [0]); },
    'btn-videoCatchStop': function () {
      call('videoCatch', [1], function (d) { if (d.path) { text('capturePath', d.path); } });
    },
    'btn-videoCatchBase64Start': function () { call('videoCatchBase64', [0, num('catchTime')], showClip); },
    'btn-videoCatchBase64Stop': function () { call('videoCatchBase64', [1, 0], showClip); },
    'btn-clearLog': function () { $('log').innerHTML = ''; window.demoLog.length = 0; }
  };

  /** The call's video, remote and local, in this page's canvases (sdk.attachVideo). */
  function inPageVideo(on) {
    var sdk = window.global_openEye_SDK;
    if (!sdk) {
      writeLog('response', on ? 'attachVideo' : 'detachVideo', { result: 3, errMsg: 'press Init first' });
      return;
    }
    ['remote', 'local'].forEach(function (stream) {
      var id = stream + 'Video';
      writeLog('request', on ? 'attachVideo' : 'detachVideo', [stream]);
      if (!on) { sdk.detachVideo($(id)); show(id, false); return; }
      var view = sdk.attachVideo($(id), { stream: stream, onError: function (e) {
        writeLog('callback', 'attachVideo', { stream: stream, code: e.code, errMsg: e.message });
      } });
      show(id, view !== null);
    });
  }

  function showClip(d) {
    if (!d.base64) { return; }
    // VP8 calls record WebM (EBML's magic 1A 45 DF A3 is "GkXf" in base64), H.264 calls MP4.
    var type = d.base64.indexOf('GkXf') === 0 ? 'video/webm' : 'video/mp4';
    $('catchPreview').src = 'data:' + type + ';base64,' + d.base64;
    show('catchPreview', true);
  }

  function startCall(video) {
    var method = $('anonymous').checked ? 'startAnonymousCall' : 'startCall';
    call(method, [val('calloutNumber'), video], function (d) {
      if (d.result === 0 && d.param) { $('callId').value = d.param.callId !== undefined ? d.param.callId : d.param.call_id; }
    });
  }

  Object.keys(actions).forEach(function (id) { $(id).addEventListener('click', actions[id]); });

  $('mute').addEventListener('change', function () { call('operateMic', [callId(), $('mute').checked ? 1 : 0]); });
  $('shareControl').addEventListener('change', function () { call('shareControl', [$('shareControl').checked]); });
  Array.prototype.forEach.call(document.querySelectorAll('#dtmfPad button'), function (b) {
    b.addEventListener('click', function () { call('dtmf', [callId(), Number(b.getAttribute('data-tone'))]); });
  });
  $('shareAppList').addEventListener('change', function () { $('shareHwnd').value = $('shareAppList').value; });
  $('micVol').addEventListener('input', function () { text('micVolValue', $('micVol').value); });
  $('spkVol').addEventListener('input', function () { text('spkVolValue', $('spkVol').value); });
  function ratio() {
    var w = num('videoW');
    if ($('ratio169').checked) { $('videoH').value = Math.round(w * 9 / 16); }
    if ($('ratio43').checked) { $('videoH').value = Math.round(w * 3 / 4); }
  }
  $('ratio169').addEventListener('change', ratio);
  $('ratio43').addEventListener('change', ratio);
  $('videoW').addEventListener('input', ratio);
  function poolVisible() { show('poolServers', $('poolMode').checked); }
  $('poolMode').addEventListener('change', poolVisible);
  poolVisible();
})();
