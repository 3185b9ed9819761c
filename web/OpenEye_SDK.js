/*!
 * OpenEye_SDK.js — Seatphone's implementation of the OpenEye H5 softphone
 * interface. Plain browser JavaScript, UMD, no build step.
 *
 * The wire protocol is docs/PROTOCOL.md; method names, signatures and
 * callbacks follow the OpenEye H5 softphone reference, so a page written
 * against the original SDK works by loading this file instead.
 *
 *   var sdk = new OpenEye_SDK({ onOpeneyeCallReady: ready, ... });
 *   sdk.openEyeCall.startCall("1002", false, { response: function (data) {} });
 *
 * Beyond the reference: options host, daemonPort, port, takeover, secure;
 * openEyeCall.on(notify|description|"*", fn), openEyeCall.request(cmd,
 * description, param, callbacks) for plugin commands, setRegEvent, holdCall,
 * unholdCall, addVideo, replyAddVideo, delVideo; sdk.uninit();
 * sdk.attachVideo(element, {stream: "remote" | "local", callId, onError})
 * and sdk.detachVideo(element): the call's video in the page's own
 * <canvas> or <video>, decoded with WebCodecs (PROTOCOL.md "Video in the page").
 */
(function (root, factory) {
  if (typeof define === 'function' && define.amd) {
    define([], factory);
  } else if (typeof module === 'object' && module.exports) {
    module.exports = factory();
  } else {
    root.OpenEye_SDK = factory();
  }
})(typeof self !== 'undefined' ? self : this, function () {
  'use strict';

  // The host rewrites the object on the next line with its own address and
  // ports, and "tls": true when it also serves wss:// on them.
  var SEATPHONE_DEFAULTS = {"host": "127.0.0.1", "daemonPort": 7682, "port": 7684};

  var SUBPROTOCOL = {
    daemon: 'protocol_ws_deamon_service',
    login: 'openeye_login_service_protocol',
    call: 'openeye_call_service_protocol'
  };

  // Close codes after which the SDK must not reconnect on its own: another
  // page owns the softphone (4001) or took it over (4002).
  var CLOSE_NO_RETRY = { 4001: true, 4002: true };

  var RESULT = { OK: 0, FAILED: 1, INVALID: 2, STATE: 3, NOT_LOADED: 4, NOT_FOUND: 5, TIMEOUT: 6, REFUSED: 7 };

  // Call-socket events → the callback name a page registers for them.
  var CALL_EVENTS = {
    2002: 'onCallIncoming',
    2003: 'onCallOutGoing',
    2004: 'onCallRingBack',
    2005: 'onCallRtpCreated',
    2006: 'onCallConnected',
    2007: 'onCallEnded',
    2009: 'onCallOpenVideoReq',
    2011: 'onCallCloseVideo',
    2012: 'onCallOpenVideo',
    2018: 'onCallHold',
    2019: 'onCallHold',
    2020: 'onCallUnhold',
    2021: 'onCallUnhold',
    2022: 'onCallEndedFailed',
    2028: 'onCallQos'
  };
  var REG_EVENTS = {
    1004: 'onRegStatusUpdate',
    1005: 'onRegStatusUpdate',
    1006: 'onRegStatusUpdate',
    1007: 'onRegStatusUpdate',
    1008: 'onForceUnReg',
    1009: 'onRegStatusUpdate'
  };

  // ---------------------------------------------------------------------
  // Argument checks. Each throws ArgError; the method turns it into a
  // result-2 response instead of letting it reach the page.

  function ArgError(message) { this.message = message; }

  function isInt(v) { return typeof v === 'number' && isFinite(v) && Math.floor(v) === v; }

  /** An integer, or a string of decimal digits (values read from inputs). */
  function int(v, name, min, max) {
    if (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v)) { v = parseInt(v, 10); }
    if (!isInt(v)) { throw new ArgError(name + ' must be an integer, got ' + describe(v)); }
    if ((min !== undefined && v < min) || (max !== undefined && v > max)) {
      throw new ArgError(name + ' must be between ' + min + ' and ' + max + ', got ' + v);
    }
    return v;
  }

  function str(v, name, allowEmpty) {
    if (typeof v === 'number' && isFinite(v)) { v = String(v); }
    if (typeof v !== 'string') { throw new ArgError(name + ' must be a string, got ' + describe(v)); }
    if (!allowEmpty && v.length === 0) { throw new ArgError(name + ' must not be empty'); }
    if (v.length > 255) { throw new ArgError(name + ' is longer than 255 characters'); }
    return v;
  }

  /** A boolean, or 0/1; undefined/null mean false (pages pass unset globals). */
  function flag(v, name) {
    if (v === undefined || v === null) { return false; }
    if (typeof v === 'boolean') { return v; }
    if (v === 0 || v === 1 || v === '0' || v === '1') { return Number(v) === 1; }
    throw new ArgError(name + ' must be true/false or 0/1, got ' + describe(v));
  }

  function oneOf(v, name, allowed) {
    var n = int(v, name);
    if (allowed.indexOf(n) < 0) { throw new ArgError(name + ' must be one of ' + allowed.join(', ') + ', got ' + n); }
    return n;
  }

  function object(v, name) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      throw new ArgError(name + ' must be an object, got ' + describe(v));
    }
    return v;
  }

  function describe(v) {
    if (v === null) { return 'null'; }
    if (Array.isArray(v)) { return 'an array'; }
    if (typeof v === 'string') { return 'the string "' + v.slice(0, 40) + '"'; }
    if (typeof v === 'object') { return 'an object'; }
    return typeof v === 'number' ? String(v) : typeof v;
  }

  var DTMF_KEYS = { '*': 10, '#': 11, A: 12, B: 13, C: 14, D: 15, a: 12, b: 13, c: 14, d: 15 };

  function dtmfTone(v) {
    if (typeof v === 'string' && DTMF_KEYS.hasOwnProperty(v)) { return DTMF_KEYS[v]; }
    return int(v, 'keyTone', 0, 16);
  }

  /** videoCatch's operation: 0 start, 1 stop; the reference's true/false mean start/stop. */
  function catchOperation(v) {
    if (v === true) { return 0; }
    if (v === false) { return 1; }
    return oneOf(v, 'operation', [0, 1]);
  }

  // ---------------------------------------------------------------------
  // The command table: JS method → cmd, description, and how its arguments
  // become `param` (undefined = no param).

  var COMMANDS = {
    config: [65539, 'tsdk_set_config_param', 1, function (a) { return object(a[0], 'params'); }],
    register: [65537, 'tsdk_login', 4, function (a) {
      return { sipNum: str(a[0], 'sip_num'), sipName: str(a[1], 'sip_name'),
        sipPwd: str(a[2], 'sip_pwd', true), sipMode: int(a[3], 'sip_mode', 0) };
    }],
    deRegister: [65538, 'tsdk_logout', 1, function (a) { return { sipNum: str(a[0], 'sip_num') }; }],
    holdCall: [67804, 'tsdk_hold_call', 1, function (a) { return { callId: int(a[0], 'callId') }; }],
    unholdCall: [67805, 'tsdk_unhold_call', 1, function (a) { return { callId: int(a[0], 'callId') }; }],
    startCall: [67537, 'tsdk_start_call', 2, function (a) {
      return { calleeNumber: str(a[0], 'callee_num'), isVideo: flag(a[1], 'is_video_call') };
    }],
    startAnonymousCall: [67541, 'tsdk_start_anonymous_call', 2, function (a) {
      return { calleeNumber: str(a[0], 'callee_num'), isVideo: flag(a[1], 'is_video_call') };
    }],
    acceptCall: [67538, 'tsdk_accept_call', 2, function (a) {
      return { callId: int(a[0], 'callid'), isVideo: flag(a[1], 'is_video_call') };
    }],
    endCall: [67539, 'tsdk_end_call', 1, function (a) { return { callId: int(a[0], 'callid') }; }],
    dtmf: [67540, 'tsdk_send_dtmf', 2, function (a) { return { callId: int(a[0], 'callid'), tone: dtmfTone(a[1]) }; }],
    operateMic: [67547, 'tsdk_mute_mic', 2, function (a) {
      return { callId: int(a[0], 'callid'), isMute: flag(a[1], 'to_mute') ? 1 : 0 };
    }],
    setAnswerWay: [67767, 'SetAnswerWay', 2, function (a) {
      var way = String(oneOf(a[0], 'answerWay', [0, 1, 2, 4]));
      var times = (a[1] === undefined || a[1] === null || a[1] === '') ? 0 : int(a[1], 'times', 0, 86400);
      return { answerWay: way, times: times };
    }],
    getMediaDevices: [67550, 'tsdk_get_devices', 1, function (a) { return { deviceType: oneOf(a[0], 'type', [0, 1, 2]) }; }],
    setMicIndex: [67551, 'tsdk_set_mic_index', 1, function (a) { return { index: int(a[0], 'idx', 0) }; }],
    mediaGetMicIndex: [67552, 'tsdk_get_mic_index', 0],
    setSpeakIndex: [67553, 'tsdk_set_speak_index', 1, function (a) { return { index: int(a[0], 'idx', 0) }; }],
    mediaGetSpeakIndex: [67554, 'tsdk_get_speak_index', 0],
    setSpkVol: [67557, 'tsdk_set_speak_volume', 2, function (a) {
      return { volume: int(a[0], 'volume', 0, 100), device: a[1] === undefined ? 0 : int(a[1], 'device') };
    }],
    getSpkVol: [67558, 'tsdk_get_speak_volume', 0],
    setMicVol: [67577, 'tsdk_set_mic_volume', 2, function (a) {
      return { volume: int(a[0], 'volume', 0, 100), device: a[1] === undefined ? 1 : int(a[1], 'device') };
    }],
    getMicVol: [67578, 'tsdk_get_mic_volume', 0],
    setVideoWindowParam: [67745, 'tsdk_set_video_rect', 4, function (a) {
      return { posX: int(a[0], 'posX'), posY: int(a[1], 'posY'),
        width: int(a[2], 'width', 1), height: int(a[3], 'height', 1) };
    }],
    setVideoLayoutMode: [67749, 'tsdk_set_video_layout_mode', 1, function (a) { return { layoutMode: oneOf(a[0], 'layoutMode', [0, 1]) }; }],
    setVideoDisplayMode: [67751, 'tsdk_set_video_display_mode', 1, function (a) { return { displayMode: oneOf(a[0], 'displayMode', [1, 2]) }; }],
    openCamera: [67759, 'tsdk_control_camera', 1, function (a) { return { callId: int(a[0], 'callId', -1), open: true }; }],
    closeCamera: [67759, 'tsdk_control_camera', 1, function (a) { return { callId: int(a[0], 'callId', -1), open: false }; }],
    addVideo: [67801, 'tsdk_add_video', 1, function (a) { return { callId: int(a[0], 'callId') }; }],
    replyAddVideo: [67802, 'tsdk_reply_add_video', 2, function (a) {
      return { callId: int(a[0], 'callId'), accept: flag(a[1], 'accept') };
    }],
    delVideo: [67803, 'tsdk_del_video', 1, function (a) { return { callId: int(a[0], 'callId') }; }],
    getAppList: [67753, 'tsdk_share_evt_getapplist', 0],
    setShareWindow: [67754, 'tsdk_share_evt_setshareapp', 1, function (a) { return { hwnd: int(a[0], 'hwnd') }; }],
    startShareWindow: [67755, 'tsdk_share_evt_startsharewindow', 0],
    stopShareWindow: [67756, 'tsdk_share_evt_stopsharewindow', 0],
    shareControl: [67760, 'tsdk_share_evt_sharecontrol', 1, function (a) {
      if (a[0] === undefined) { throw new ArgError('value must be true/false'); }
      return { enable: flag(a[0], 'value') };
    }],
    screenShot: [67762, 'OEScreenShot', 0, function () { return { format: 'path' }; }],
    screenShotBase64: [67762, 'OEScreenShot', 0, function () { return { format: 'base64' }; }],
    videoCatch: [67763, 'OECatchVideo', 1, function (a) { return { operation: catchOperation(a[0]), format: 'path' }; }],
    videoCatchBase64: [67763, 'OECatchVideo', 2, function (a) {
      var op = catchOperation(a[0]);
      var p = { operation: op, format: 'base64' };
      p.time = op === 0 ? int(a[1], 'time', 1, 10) : (a[1] === undefined ? 0 : int(a[1], 'time', 0, 10));
      return p;
    }]
  };

  function isCallbacks(v) {
    return typeof v === 'function' ||
      (v !== null && typeof v === 'object' && !Array.isArray(v) && typeof v.response === 'function');
  }

  /** The response function from a `callbacks` argument (object or bare function). */
  function responseOf(callbacks) {
    if (typeof callbacks === 'function') { return callbacks; }
    if (callbacks && typeof callbacks.response === 'function') { return callbacks.response; }
    return null;
  }

  function later(fn) { setTimeout(fn, 0); }

  // The host refuses frames over 1 MiB without being able to echo their seq,
  // so the SDK refuses them itself.
  var MAX_FRAME = 1 << 20;

  function byteLength(text) {
    if (typeof TextEncoder !== 'undefined') { return new TextEncoder().encode(text).length; }
    return unescape(encodeURIComponent(text)).length;
  }

  function safeCall(fn, arg, arg2) {
    if (typeof fn !== 'function') { return; }
    try { fn(arg, arg2); } catch (e) {
      if (typeof console !== 'undefined') { console.error('OpenEye_SDK: a page callback threw', e); }
    }
  }

  // ---------------------------------------------------------------------
  // Channel: one WebSocket with request/response matching by seq.

  function Channel(sdk, name, url, protocol) {
    this.sdk = sdk;
    this.name = name;
    this.url = url;
    this.protocol = protocol;
    this.ws = null;
    this.open = false;
    this.pending = {};      // seq → {cmd, description, respond, timer}
    this.onopen = null;
    this.onclose = null;    // (info {code, reason, wasOpen})
    this.onframe = null;    // (data) for frames that are not a matched response
  }

  Channel.prototype.connect = function () {
    if (this.ws) { return; }
    var self = this;
    var ws;
    try {
      ws = new this.sdk.WebSocket(this.url, this.protocol);
    } catch (e) {
      var failed = {};
      this.ws = failed;
      later(function () { self.closed(failed, 1006, String(e && e.message || e)); });
      return;
    }
    this.ws = ws;
    ws.onopen = function () {
      if (self.ws !== ws) { return; }
      self.open = true;
      safeCall(self.onopen);
    };
    ws.onmessage = function (ev) { if (self.ws === ws) { self.receive(ev.data); } };
    ws.onerror = function () { /* onclose follows */ };
    ws.onclose = function (ev) { self.closed(ws, ev && ev.code, ev && ev.reason); };
  };

  Channel.prototype.closed = function (ws, code, reason) {
    if (this.ws !== ws) { return; }
    var wasOpen = this.open;
    this.ws = null;
    this.open = false;
    var pending = this.pending;
    this.pending = {};
    for (var seq in pending) {
      if (pending.hasOwnProperty(seq)) {
        clearTimeout(pending[seq].timer);
        pending[seq].respond(RESULT.FAILED, 'the ' + this.name +
          ' connection to the softphone closed before it answered');
      }
    }
    safeCall(this.onclose, { code: code || 1006, reason: reason || '', wasOpen: wasOpen });
  };

  /** Closes the socket now: outstanding requests answer at once, onclose fires once. */
  Channel.prototype.close = function () {
    var ws = this.ws;
    if (!ws) { return; }
    if (typeof ws.close === 'function') {
      try { ws.close(1000, 'page closed the SDK'); } catch (e) { /* already closing */ }
    }
    this.closed(ws, 1000, 'page closed the SDK');
  };

  /**
   * Sends a request and calls `response` exactly once: with the host's answer,
   * or with a result and errMsg made here when it cannot be sent or answered.
   */
  Channel.prototype.request = function (cmd, description, param, response) {
    var self = this;
    var respond = function (result, errMsg, seq) {
      var data = { description: description, result: result, rsp: cmd, errMsg: errMsg };
      if (seq !== undefined) { data.seq = seq; }
      if (response) { later(function () { safeCall(response, data); }); }
    };
    if (!this.open) {
      respond(RESULT.INVALID, 'the ' + this.name + ' connection is not ready: wait for onOpeneye' +
        (this.name === 'call' ? 'CallReady' : 'LoginReady') + ' before calling ' + description);
      return;
    }
    var seq = this.sdk.nextSeq();
    var frame = { cmd: cmd, description: description, seq: seq };
    if (param !== undefined) { frame.param = param; }
    var entry = {
      cmd: cmd,
      description: description,
      respond: function (result, errMsg) { respond(result, errMsg, seq); },
      deliver: function (data) { if (response) { safeCall(response, data); } },
      timer: null
    };
    entry.timer = setTimeout(function () {
      if (self.pending[seq] === entry) {
        delete self.pending[seq];
        entry.respond(RESULT.TIMEOUT, 'the softphone did not answer ' + description + ' within ' +
          Math.round(self.sdk.responseTimeout / 1000) + ' s');
      }
    }, this.sdk.responseTimeout);
    var text = JSON.stringify(frame);
    if (byteLength(text) > MAX_FRAME) {
      clearTimeout(entry.timer);
      respond(RESULT.INVALID, description + ': the request is larger than the 1 MiB the softphone accepts');
      return;
    }
    this.pending[seq] = entry;
    try {
      this.ws.send(text);
    } catch (e) {
      clearTimeout(entry.timer);
      delete this.pending[seq];
      entry.respond(RESULT.FAILED, 'could not send ' + description + ': ' + (e && e.message || e));
    }
  };

  Channel.prototype.receive = function (text) {
    var data;
    try { data = JSON.parse(text); } catch (e) {
      this.sdk.warn('the ' + this.name + ' socket sent a frame that is not JSON: ' + String(text).slice(0, 200));
      return;
    }
    if (data === null || typeof data !== 'object') { return; }
    if (data.notify === undefined && (data.rsp !== undefined || data.result !== undefined)) {
      var entry = this.take(data);
      if (entry) {
        clearTimeout(entry.timer);
        entry.deliver(data);
        return;
      }
    }
    safeCall(this.onframe, data);
  };

  /**
   * The pending request a response answers: by seq; a response without seq
   * (a host that does not echo it) answers the oldest request of its command.
   */
  Channel.prototype.take = function (data) {
    var key = null;
    if (data.seq !== undefined) {
      if (this.pending.hasOwnProperty(data.seq)) { key = String(data.seq); }
    } else {
      var best = null;
      for (var s in this.pending) {
        if (this.pending.hasOwnProperty(s)) {
          var p = this.pending[s];
          if ((data.rsp !== undefined && data.rsp === p.cmd) ||
              (data.rsp === undefined && data.description === p.description)) {
            if (best === null || Number(s) < Number(best)) { best = s; }
          }
        }
      }
      key = best;
    }
    if (key === null || key === undefined) { return null; }
    var entry = this.pending[key];
    delete this.pending[key];
    return entry;
  };

  // ---------------------------------------------------------------------
  // OpenEyeCall: the page-facing methods of the call socket.

  function OpenEyeCall(sdk) {
    this._sdk = sdk;
    this._handlers = {};   // callback name → function (setBasicCallEvent, register)
    this._listeners = {};  // notify number | description | '*' → [fn]
  }

  OpenEyeCall.prototype._send = function (cmd, description, param, callbacks) {
    this._sdk.channels.call.request(cmd, description, param, responseOf(callbacks));
  };

  Object.keys(COMMANDS).forEach(function (method) {
    var spec = COMMANDS[method];
    var cmd = spec[0], description = spec[1], arity = spec[2], build = spec[3];
    OpenEyeCall.prototype[method] = function () {
      var args = Array.prototype.slice.call(arguments);
      var callbacks = args[arity];
      // Arguments left out (optional ones, or by mistake): the callbacks came earlier.
      if (args.length <= arity && args.length > 0 && isCallbacks(args[args.length - 1])) {
        callbacks = args.pop();
      }
      if (method === 'register') { this.setRegEvent(callbacks); }
      var param;
      try {
        param = build ? build(args) : undefined;
      } catch (e) {
        if (!(e instanceof ArgError)) { throw e; }
        var response = responseOf(callbacks);
        var data = { description: description, result: RESULT.INVALID, rsp: cmd,
          errMsg: method + ': ' + e.message };
        if (response) { later(function () { safeCall(response, data); }); }
        return;
      }
      this._send(cmd, description, param, callbacks);
    };
  });

  // The reference's section title and WebDemo call it catchVideo.
  OpenEyeCall.prototype.catchVideo = OpenEyeCall.prototype.videoCatch;

  /** Binds the call events (onCallIncoming … onCallOpenVideoReq, onCallHold, onCallQos). */
  OpenEyeCall.prototype.setBasicCallEvent = function (callbacks) {
    if (!callbacks || typeof callbacks !== 'object') { return; }
    for (var n in CALL_EVENTS) {
      if (CALL_EVENTS.hasOwnProperty(n)) {
        var name = CALL_EVENTS[n];
        if (callbacks.hasOwnProperty(name)) { this._handlers[name] = callbacks[name]; }
      }
    }
  };

  /** Binds onRegStatusUpdate / onForceUnReg without registering (register does this too). */
  OpenEyeCall.prototype.setRegEvent = function (callbacks) {
    if (!callbacks || typeof callbacks !== 'object') { return; }
    if (callbacks.hasOwnProperty('onRegStatusUpdate')) { this._handlers.onRegStatusUpdate = callbacks.onRegStatusUpdate; }
    if (callbacks.hasOwnProperty('onForceUnReg')) { this._handlers.onForceUnReg = callbacks.onForceUnReg; }
  };

  /** Listens to an event by notify number or description, or to every event with '*'. */
  OpenEyeCall.prototype.on = function (key, fn) {
    if (typeof fn !== 'function') { return; }
    (this._listeners[key] = this._listeners[key] || []).push(fn);
  };

  OpenEyeCall.prototype.off = function (key, fn) {
    var list = this._listeners[key];
    if (!list) { return; }
    this._listeners[key] = list.filter(function (f) { return f !== fn; });
  };

  /** Sends any command, e.g. one a plugin adds: request(70001, "my_cmd", {...}, {response: fn}). */
  OpenEyeCall.prototype.request = function (cmd, description, param, callbacks) {
    var response = responseOf(callbacks);
    if (!isInt(cmd) || typeof description !== 'string' || description === '' ||
        (param !== undefined && (param === null || typeof param !== 'object'))) {
      var data = { description: String(description), result: RESULT.INVALID, rsp: isInt(cmd) ? cmd : 0,
        errMsg: 'request: cmd must be an integer, description a string and param an object' };
      if (response) { later(function () { safeCall(response, data); }); }
      return;
    }
    this._sdk.channels.call.request(cmd, description, param, response);
  };

  OpenEyeCall.prototype._dispatch = function (data) {
    var name = CALL_EVENTS[data.notify] || REG_EVENTS[data.notify];
    if (name) { safeCall(this._handlers[name], data); }
    var keys = [data.notify, data.description, '*'];
    for (var i = 0; i < keys.length; i++) {
      var list = this._listeners[keys[i]];
      if (list) {
        list.slice().forEach(function (fn) { safeCall(fn, data); });
      }
    }
  };

  // ---------------------------------------------------------------------
  // OpenEyeLogin: the login socket (local-IP query, health).

  function OpenEyeLogin(sdk) { this._sdk = sdk; }

  OpenEyeLogin.prototype.request = function (cmd, description, param, callbacks) {
    this._sdk.channels.login.request(cmd, description, param, responseOf(callbacks));
  };

  // ---------------------------------------------------------------------
  // OpenEye_SDK: the three sockets and their life-cycle.

  function pick(v, fallback) { return v === undefined || v === null || v === '' ? fallback : v; }

  // The reference allows one initialised SDK per page; pages written for it
  // drop the old object (global_openEye_SDK = null) and make a new one. The
  // old one must then stop, or its reconnecting call socket would hold the
  // softphone against the new one (4001).
  var current = null;

  function OpenEye_SDK(opts) {
    if (!(this instanceof OpenEye_SDK)) { return new OpenEye_SDK(opts); }
    if (current && !current._closed) { current.uninit(); }
    current = this;
    opts = opts || {};
    this.opts = opts;
    var root = typeof self !== 'undefined' ? self : (typeof window !== 'undefined' ? window : {});
    this.root = opts.root || root;
    this.WebSocket = opts.WebSocket || root.WebSocket;
    this.responseTimeout = opts.responseTimeout || 30000;
    this.reconnect = opts.reconnect !== false;
    this.retryMin = opts.retryMinMs || 500;
    this.retryMax = opts.retryMaxMs || 5000;

    var host = pick(opts.host, SEATPHONE_DEFAULTS.host);
    // wss:// from an https page when the host says it serves it; otherwise
    // ws://, which browsers allow from https pages to 127.0.0.1 and localhost.
    var secure = opts.secure !== undefined ? !!opts.secure :
      (SEATPHONE_DEFAULTS.tls === true && typeof location !== 'undefined' && location.protocol === 'https:');
    var scheme = secure ? 'wss://' : 'ws://';
    var h = host.indexOf(':') >= 0 && host.charAt(0) !== '[' ? '[' + host + ']' : host;
    var daemonUrl = scheme + h + ':' + pick(opts.daemonPort, SEATPHONE_DEFAULTS.daemonPort) + '/';
    var apiUrl = scheme + h + ':' + pick(opts.port, SEATPHONE_DEFAULTS.port) + '/';

    this._apiUrl = apiUrl;
    this._videos = [];
    this._seq = 0;
    this._closed = false;
    this._serviceUp = false;
    this._timers = {};
    this._delays = {};
    this.channels = {
      daemon: new Channel(this, 'daemon', daemonUrl, SUBPROTOCOL.daemon),
      login: new Channel(this, 'login', apiUrl, SUBPROTOCOL.login),
      call: new Channel(this, 'call', apiUrl + (opts.takeover ? '?takeover=1' : ''), SUBPROTOCOL.call)
    };
    this.openEyeCall = new OpenEyeCall(this);
    this.openEyeLogin = new OpenEyeLogin(this);
    // Names the reference's own samples use for the same objects.
    this.OpenEyeCall = this.tupCall = this.openEyeCall;

    this._wire('daemon', opts.onOpeneyeDeamonReady || opts.onOpeneyeReady,
      opts.onOpeneyeDeamonClose || opts.onOpeneyeClose);
    this._wire('login', opts.onOpeneyeLoginReady, opts.onOpeneyeLoginClose);
    this._wire('call', opts.onOpeneyeCallReady, opts.onOpeneyeCallClose);

    var sdk = this;
    this.channels.daemon.onframe = function (data) { sdk._daemonFrame(data); };
    this.channels.call.onframe = function (data) {
      if (data.notify !== undefined) { sdk.openEyeCall._dispatch(data); } else { sdk._unmatched('call', data); }
    };
    this.channels.login.onframe = function (data) { sdk._unmatched('login', data); };

    this.channels.daemon.connect();
  }

  OpenEye_SDK.prototype.nextSeq = function () { this._seq += 1; return this._seq; };

  OpenEye_SDK.prototype.warn = function (msg) {
    if (typeof this.opts.onLog === 'function') { safeCall(this.opts.onLog, msg); } else if (typeof console !== 'undefined') { console.warn('OpenEye_SDK: ' + msg); }
  };

  OpenEye_SDK.prototype._unmatched = function (name, data) {
    this.warn('the ' + name + ' socket sent a response nobody waits for: ' + JSON.stringify(data).slice(0, 300));
  };

  OpenEye_SDK.prototype._wire = function (name, ready, close) {
    var sdk = this;
    var ch = this.channels[name];
    var reportedDown = false;
    ch.onopen = function () {
      reportedDown = false;
      sdk._delays[name] = 0;
      safeCall(ready);
    };
    ch.onclose = function (info) {
      // A connection that never opened is reported once, not on every retry.
      if (info.wasOpen || !reportedDown) {
        reportedDown = true;
        safeCall(close, { code: info.code, reason: info.reason });
      }
      if (name === 'daemon') {
        if (sdk._serviceUp && !sdk._closed) {
          sdk._serviceUp = false;
          safeCall(sdk.opts.serviceShutDown, { description: 'SERVICE_SHUTDOWN', notify: 2,
            param: { reason: 'the connection to the softphone daemon closed' } });
        }
        sdk._retry('daemon');
      } else if (CLOSE_NO_RETRY[info.code]) {
        sdk.warn(name + ' socket closed for good: ' + info.code + ' ' + info.reason);
      } else if (sdk._serviceUp) {
        sdk._retry(name);
      }
    };
  };

  OpenEye_SDK.prototype._retry = function (name) {
    if (this._closed || !this.reconnect || this._timers[name]) { return; }
    var sdk = this;
    var delay = this._delays[name] ? Math.min(this._delays[name] * 2, this.retryMax) : this.retryMin;
    this._delays[name] = delay;
    this._timers[name] = setTimeout(function () {
      delete sdk._timers[name];
      if (sdk._closed) { return; }
      if (name !== 'daemon' && !sdk._serviceUp) { return; }
      sdk.channels[name].connect();
    }, delay);
  };

  OpenEye_SDK.prototype._daemonFrame = function (data) {
    switch (data.notify) {
      case 1:
      case 3:
        this._serviceUp = true;
        safeCall(this.opts.serviceStartUp, data);
        this._openService();
        break;
      case 2:
        this._serviceUp = false;
        safeCall(this.opts.serviceShutDown, data);
        break;
      case 4:
        safeCall(this.opts.onVersionInfoNotify, data);
        break;
      default:
        if (data.notify === undefined) { this._unmatched('daemon', data); }
    }
  };

  /** Opens the login and call sockets once the service runs (the reference's order). */
  OpenEye_SDK.prototype._openService = function () {
    if (this._closed) { return; }
    var names = ['login', 'call'];
    for (var i = 0; i < names.length; i++) {
      var name = names[i];
      if (this._timers[name]) { clearTimeout(this._timers[name]); delete this._timers[name]; }
      if (!this.channels[name].ws) { this.channels[name].connect(); }
    }
  };

  /** Closes every socket and stops reconnecting (the demo's UnInitOpeneye). */
  OpenEye_SDK.prototype.uninit = function () {
    this._closed = true;
    this._serviceUp = false;
    for (var t in this._timers) { if (this._timers.hasOwnProperty(t)) { clearTimeout(this._timers[t]); } }
    this._timers = {};
    this._videos.slice().forEach(function (v) { v.detach(); });
    this.channels.call.close();
    this.channels.login.close();
    this.channels.daemon.close();
  };

  /** Where each socket stands: for pages that want to show it, and for tests. */
  OpenEye_SDK.prototype.state = function () {
    var c = this.channels;
    return { daemon: c.daemon.open, service: this._serviceUp, login: c.login.open, call: c.call.open };
  };

  // ---------------------------------------------------------------------
  // Video in the page (beyond the reference): the host sends the call's
  // pictures as the call carries them, encoded, on a socket of their own
  // (PROTOCOL.md "Video in the page"); WebCodecs decodes them here and they
  // are drawn into the page's canvas (or a canvas feeding its <video>).

  var VIDEO_PATH = 'video';
  var VIDEO_PROTOCOL = 'seatphone_video';
  var VIDEO_HEADER = 16;
  var VIDEO_VERSION = 1;
  // Codec byte → WebCodecs codec string (H.264: constrained baseline, Annex B).
  var VIDEO_CODECS = { 1: ['vp8', 'VP8'], 2: ['avc1.42E01F', 'H.264'] };
  // Pictures the decoder may have queued before the page counts as behind:
  // it then skips to the next keyframe instead of falling further behind.
  var VIDEO_BEHIND = 3;

  function videoError(code, message) { return { code: code, message: message }; }

  /** Why this browser cannot decode in the page, or null when it can. */
  function noWebCodecs(root) {
    if (typeof root.VideoDecoder === 'function' && typeof root.EncodedVideoChunk === 'function') { return null; }
    var why = 'WebCodecs (VideoDecoder) is not available in this browser';
    if (root.isSecureContext === false) {
      why += ': this page is not a secure context, and browsers offer WebCodecs only to https pages' +
        ' and to http pages from localhost / 127.0.0.1';
    }
    return why + '; the native video window (setVideoWindowParam) still shows the call';
  }

  /** One element showing one stream: its socket, its decoder, its canvas. */
  function VideoView(sdk, element, o) {
    this.sdk = sdk;
    this.element = element;
    this.stream = o.stream;
    this.callId = o.callId;
    this.onError = o.onError;
    this.stats = { received: 0, decoded: 0, dropped: 0, width: 0, height: 0, codec: null, callId: null };
    this.closed = false;
    this.ws = null;
    this.decoder = null;
    this.current = null;    // 'codec/callId' the decoder is configured for
    this.unsupported = {};  // codec byte → already reported
    this.needKey = true;
    this.delay = 0;
    this.timer = null;
    this.reportedDown = false;
    var root = sdk.root;
    if (typeof root.HTMLVideoElement === 'function' && element instanceof root.HTMLVideoElement) {
      // A <video> plays what a canvas of our own draws.
      this.canvas = root.document.createElement('canvas');
      this.mediaStream = this.canvas.captureStream();
      element.muted = true;
      element.srcObject = this.mediaStream;
      var played = element.play();
      if (played && typeof played.catch === 'function') { played.catch(function () { /* autoplay rules: the page plays it */ }); }
    } else {
      this.canvas = element;
    }
    this.ctx = this.canvas.getContext('2d');
    this.connect();
  }

  VideoView.prototype.error = function (code, message) {
    var err = videoError(code, message);
    if (typeof this.onError === 'function') { safeCall(this.onError, err); } else { this.sdk.warn('video: ' + message); }
  };

  VideoView.prototype.connect = function () {
    if (this.closed) { return; }
    var self = this;
    var url = this.sdk._apiUrl + VIDEO_PATH + '?stream=' + this.stream +
      (this.callId === undefined ? '' : '&callId=' + this.callId);
    var ws;
    try {
      ws = new this.sdk.WebSocket(url, VIDEO_PROTOCOL);
    } catch (e) {
      this.error('connection', 'cannot open the video socket: ' + (e && e.message || e));
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = function () {
      if (self.ws !== ws) { return; }
      self.delay = 0;
      self.reportedDown = false;
    };
    ws.onmessage = function (ev) { if (self.ws === ws) { self.receive(ev.data); } };
    ws.onerror = function () { /* onclose follows */ };
    ws.onclose = function (ev) {
      if (self.ws !== ws || self.closed) { return; }
      self.ws = null;
      // Said once per outage, then retried quietly (the engine restarts;
      // a refused origin looks the same to a page: 1006).
      if (!self.reportedDown) {
        self.reportedDown = true;
        self.error('connection', 'the video socket closed (' + (ev && ev.code) +
          (ev && ev.reason ? ' ' + ev.reason : '') + '); trying again');
      }
      self.needKey = true;
      self.delay = self.delay ? Math.min(self.delay * 2, self.sdk.retryMax) : self.sdk.retryMin;
      self.timer = setTimeout(function () { self.timer = null; self.connect(); }, self.delay);
    };
  };

  VideoView.prototype.receive = function (buf) {
    if (!(buf instanceof ArrayBuffer) || buf.byteLength < VIDEO_HEADER) { return; }
    var dv = new DataView(buf);
    if (dv.getUint8(0) !== VIDEO_VERSION) {
      if (!this.unsupported.version) {
        this.unsupported.version = true;
        this.error('unsupported', 'the softphone sends video format ' + dv.getUint8(0) +
          ', this SDK reads ' + VIDEO_VERSION + ': load the SDK from the softphone');
      }
      return;
    }
    var key = (dv.getUint8(1) & 1) === 1;
    var codec = dv.getUint8(2);
    var callId = dv.getUint32(4);
    var timestamp = dv.getUint32(8) * 4294967296 + dv.getUint32(12);
    this.stats.received += 1;
    var which = codec + '/' + callId;
    if (which !== this.current) { this.configure(codec, callId, which); }
    var d = this.decoder;
    if (!d || d.state !== 'configured') { this.stats.dropped += 1; return; }
    if (this.needKey && !key) { this.stats.dropped += 1; return; }
    if (d.decodeQueueSize > VIDEO_BEHIND && !key) {
      // Behind: skip to the next keyframe, which the host is asked for.
      this.stats.dropped += 1;
      this.needKey = true;
      this.askKeyframe();
      return;
    }
    this.needKey = false;
    try {
      d.decode(new this.sdk.root.EncodedVideoChunk({ type: key ? 'key' : 'delta', timestamp: timestamp,
        data: new Uint8Array(buf, VIDEO_HEADER) }));
    } catch (e) {
      this.decodeFailed(e);
    }
  };

  VideoView.prototype.askKeyframe = function () {
    if (this.ws && this.ws.readyState === 1) {
      try { this.ws.send('keyframe'); } catch (e) { /* closing */ }
    }
  };

  VideoView.prototype.configure = function (codec, callId, which) {
    this.closeDecoder();
    this.current = which;
    this.needKey = true;
    var spec = VIDEO_CODECS[codec];
    this.stats.codec = spec ? spec[1] : null;
    this.stats.callId = callId;
    if (!spec) {
      if (!this.unsupported[codec]) {
        this.unsupported[codec] = true;
        this.error('unsupported', 'the call\'s video is in a codec this SDK does not know (' + codec + ')');
      }
      return;
    }
    var self = this;
    var decoder = new this.sdk.root.VideoDecoder({
      output: function (frame) { self.draw(frame); },
      error: function (e) {
        if (self.decoder !== decoder) { return; }
        self.decoder = null;
        if (e && e.name === 'NotSupportedError') {
          if (!self.unsupported[codec]) {
            self.unsupported[codec] = true;
            self.error('unsupported', 'this browser cannot decode ' + spec[1] + ' with WebCodecs (' +
              (e.message || e.name) + '); the native video window still shows the call');
          }
          return;
        }
        self.decodeFailed(e);
      }
    });
    this.decoder = decoder;
    try {
      decoder.configure({ codec: spec[0], optimizeForLatency: true });
    } catch (e) {
      this.decoder = null;
      this.error('unsupported', 'cannot decode ' + spec[1] + ': ' + (e && e.message || e));
    }
  };

  /** A decoder error: report it, start again at the next keyframe. */
  VideoView.prototype.decodeFailed = function (e) {
    this.error('decode', 'a picture could not be decoded (' + (e && e.message || e) + '); going on from the next keyframe');
    this.closeDecoder();
    this.current = null;
    this.needKey = true;
    this.askKeyframe();
  };

  VideoView.prototype.draw = function (frame) {
    try {
      if (this.closed) { return; }
      var w = frame.displayWidth;
      var h = frame.displayHeight;
      // The canvas takes the picture's size; the page sizes it with CSS.
      if (this.canvas.width !== w || this.canvas.height !== h) {
        this.canvas.width = w;
        this.canvas.height = h;
      }
      this.ctx.drawImage(frame, 0, 0, w, h);
      this.stats.decoded += 1;
      this.stats.width = w;
      this.stats.height = h;
    } finally {
      frame.close();
    }
  };

  VideoView.prototype.closeDecoder = function () {
    var d = this.decoder;
    this.decoder = null;
    if (d && d.state !== 'closed') { try { d.close(); } catch (e) { /* closed meanwhile */ } }
  };

  VideoView.prototype.detach = function () {
    if (this.closed) { return; }
    this.closed = true;
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    var ws = this.ws;
    this.ws = null;
    if (ws) { try { ws.close(1000, 'detached'); } catch (e) { /* closing */ } }
    this.closeDecoder();
    if (this.mediaStream) {
      this.mediaStream.getTracks().forEach(function (t) { t.stop(); });
      if (this.element.srcObject === this.mediaStream) { this.element.srcObject = null; }
    }
    var views = this.sdk._videos;
    var i = views.indexOf(this);
    if (i >= 0) { views.splice(i, 1); }
  };

  /**
   * Shows a call's video in `element` (a <canvas> or <video>) and returns a
   * handle: { detach(), stats }. options: stream "remote" (the peer, the
   * default) or "local" (what we send); callId (default: whichever call has
   * video); onError({code, message}): "invalid", "unsupported" (no WebCodecs,
   * or a codec the browser lacks), "connection" (the socket closed; it is
   * retried), "decode" (a picture failed; resumed at the next keyframe).
   * Without onError the SDK's onLog / console gets the message.
   */
  OpenEye_SDK.prototype.attachVideo = function (element, options) {
    var o = options || {};
    var root = this.root;
    var fail = function (code, message) {
      var err = videoError(code, 'attachVideo: ' + message);
      if (typeof o.onError === 'function') { later(function () { safeCall(o.onError, err); }); } else { this.warn(err.message); }
      return null;
    }.bind(this);
    var isCanvas = typeof root.HTMLCanvasElement === 'function' && element instanceof root.HTMLCanvasElement;
    var isVideo = typeof root.HTMLVideoElement === 'function' && element instanceof root.HTMLVideoElement;
    if (!isCanvas && !isVideo) { return fail('invalid', 'element must be a <canvas> or <video> element'); }
    var stream = o.stream === undefined ? 'remote' : o.stream;
    if (stream !== 'remote' && stream !== 'local') {
      return fail('invalid', 'stream must be "remote" or "local", got ' + describe(stream));
    }
    var callId;
    if (o.callId !== undefined && o.callId !== null && o.callId !== '') {
      try { callId = int(o.callId, 'callId', 0, 4294967295); } catch (e) { return fail('invalid', e.message); }
    }
    var why = noWebCodecs(root);
    if (why) { return fail('unsupported', why); }
    if (this._closed) { return fail('invalid', 'the SDK was closed (uninit)'); }
    this.detachVideo(element);
    var view = new VideoView(this, element, { stream: stream, callId: callId, onError: o.onError });
    this._videos.push(view);
    return view;
  };

  /** Stops showing video in `element` (every stream attached to it). */
  OpenEye_SDK.prototype.detachVideo = function (element) {
    this._videos.filter(function (v) { return v.element === element; })
      .forEach(function (v) { v.detach(); });
  };

  OpenEye_SDK.DEFAULTS = SEATPHONE_DEFAULTS;
  OpenEye_SDK.COMMANDS = (function () {
    var out = {};
    Object.keys(COMMANDS).forEach(function (m) { out[m] = { cmd: COMMANDS[m][0], description: COMMANDS[m][1] }; });
    return out;
  })();
  OpenEye_SDK.CALL_EVENTS = CALL_EVENTS;
  OpenEye_SDK.REG_EVENTS = REG_EVENTS;
  OpenEye_SDK.RESULT = RESULT;
  OpenEye_SDK.OpenEyeCall = OpenEyeCall;
  return OpenEye_SDK;
});
