// Video in the page: in a real video call with baresip through Kamailio,
// the demo page attaches the call's video to canvases of its own with
// sdk.attachVideo (the host's /video socket, decoded by Chromium's
// WebCodecs). The remote canvas shows baresip's SMPTE colour bars, each bar
// where it belongs; the local canvas shows our test pattern; a <video>
// element plays the bars too. A page from an
// origin the host does not allow cannot open the video socket.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const h = require('./harness');

/** baresip sends ffmpeg's SMPTE bars (through its avformat source) in `codec`. */
function peerVideo(codec) {
  return [
    `module\t\t\t${codec === 'VP8' ? 'vp8.so' : 'avcodec.so'}`,
    'module\t\t\tavformat.so',
    'module\t\t\tfakevideo.so',
    'video_source\t\tavformat,lavfi,smptebars=size=320x240:rate=15',
    'video_display\t\tfakevideo,nil',
    'video_size\t\t320x240',
    'video_bitrate\t\t300000',
    'video_fps\t\t15',
    '',
  ].join('\n');
}

// The seven bars of the top two thirds of smptebars, left to right (75 %).
const BARS = [
  ['grey', [191, 191, 191]], ['yellow', [191, 191, 0]], ['cyan', [0, 191, 191]], ['green', [0, 191, 0]],
  ['magenta', [191, 0, 191]], ['red', [191, 0, 0]], ['blue', [0, 0, 191]],
];
// Two encodings and two colour conversions away from the source.
const TOLERANCE = 60;


/** The canvas's mean colour in a 9×9 patch around each point. */
function sampleCanvas(page, id, points) {
  return page.evaluate(({ id, points }) => {
    const c = document.getElementById(id);
    const ctx = c.getContext('2d');
    return {
      width: c.width,
      height: c.height,
      colours: points.map(([fx, fy]) => {
        const x = Math.round(fx * c.width) - 4;
        const y = Math.round(fy * c.height) - 4;
        const d = ctx.getImageData(x, y, 9, 9).data;
        const sum = [0, 0, 0];
        for (let i = 0; i < d.length; i += 4) { sum[0] += d[i]; sum[1] += d[i + 1]; sum[2] += d[i + 2]; }
        return sum.map((s) => Math.round(s / 81));
      }),
    };
  }, { id, points });
}

/** The pixels of the whole canvas, bucketed: how many distinct colours cover ≥ 2 % of it, and how dark it is. */
function canvasSummary(page, id) {
  return page.evaluate((id) => {
    const c = document.getElementById(id);
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const buckets = new Map();
    let light = 0;
    for (let i = 0; i < d.length; i += 4) {
      const key = `${d[i] >> 6},${d[i + 1] >> 6},${d[i + 2] >> 6}`;
      buckets.set(key, (buckets.get(key) || 0) + 1);
      if (d[i] + d[i + 1] + d[i + 2] > 96) light += 1;
    }
    const n = d.length / 4;
    return { colours: [...buckets.values()].filter((v) => v >= n * 0.02).length, lightShare: light / n };
  }, id);
}

/** A WebSocket handshake to the host's /video from a program, with `origin`: the HTTP status, or 101. */
function videoHandshake(port, origin) {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port, path: '/video?stream=remote',
      headers: {
        Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Protocol': 'seatphone_video', Origin: origin,
      },
    });
    req.on('upgrade', (res, socket) => { socket.destroy(); resolve(res.statusCode); });
    req.on('response', (res) => { res.resume(); resolve(res.statusCode); });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** A page of another origin that loads the host's SDK and attaches a canvas (onError's reports in `window.errors`), then runs `more`. */
function attachingPage(host, more = '') {
  return `<!DOCTYPE html><html><body><canvas id="c"></canvas><script src="${host.base}/OpenEye_SDK.js"></script><script>
    window.errors = [];
    window.sdk = new OpenEye_SDK({ onLog: () => {} });
    window.view = window.sdk.attachVideo(document.getElementById('c'), { onError: (e) => window.errors.push(e) });
    ${more}
  </script></body></html>`;
}

for (const codec of ['VP8', 'H264']) {
  test.describe(`video in the page, ${codec} (Kamailio + baresip)`, () => {
    const s = h.stage({
      host: {
        extraToml: ['[video]', 'camera = "test"', 'width = 320', 'height = 240', 'fps = 15', 'bitrate = 300',
          `codecs = ["${codec}"]`].join('\n'),
      },
      peer: { extraConfig: peerVideo(codec) },
      demo: true,
    });

    /** What the demo page logged of attachVideo's onError. */
    const videoErrors = () => s.page.evaluate(() =>
      window.demoLog.filter((e) => e.kind === 'callback' && e.name === 'attachVideo').map((e) => e.data));

    test('the call\'s video is drawn in the page\'s canvases: the peer\'s bars and our test pattern', { timeout: 120000 }, async (t) => {
      if (s.skip) return t.skip(s.skip);
      const { host, kam, page } = s;
      // Attached before the call, from the demo page's button: the
      // canvases wait for the call's pictures.
      await page.click('#btn-attachVideo');
      assert.ok(await page.isVisible('#remoteVideo') && await page.isVisible('#localVideo'), 'the demo shows its canvases');
      await page.evaluate(() => {
        const views = window.global_openEye_SDK._videos;
        window.remoteView = views.find((v) => v.stream === 'remote');
        window.localView = views.find((v) => v.stream === 'local');
      });

      const callId = (await h.demoVideoCall(page, kam.port, '1002')).param.callId;

      // Some pictures decoded and drawn, and still coming a second later.
      const decoded = () => page.evaluate(() => [window.remoteView.stats.decoded, window.localView.stats.decoded]);
      await page.waitForFunction(() => window.remoteView.stats.decoded >= 10 && window.localView.stats.decoded >= 10,
        null, { timeout: 30000 }).catch(async (e) => {
        throw new Error(`${e.message}: stats ${JSON.stringify(await page.evaluate(() =>
          [window.remoteView.stats, window.localView.stats, videoErrors()]))}\n${host.log().slice(-3000)}`);
      });
      const before = await decoded();
      await h.sleep(1000);
      const after = await decoded();
      assert.ok(after[0] > before[0] && after[1] > before[1], `pictures keep coming: ${before} → ${after}`);

      const stats = await page.evaluate(() => window.remoteView.stats);
      assert.equal(stats.codec, codec === 'VP8' ? 'VP8' : 'H.264');
      assert.equal(stats.callId, callId);
      assert.deepEqual([stats.width, stats.height], [320, 240]);

      const remote = await sampleCanvas(page, 'remoteVideo', BARS.map((_, i) => [(i + 0.5) / 7, 1 / 3]));
      assert.deepEqual([remote.width, remote.height], [320, 240], 'the canvas takes the picture\'s size');
      t.diagnostic(`remote bars: ${JSON.stringify(remote.colours)}`);
      fs.mkdirSync(h.OUTPUT_DIR, { recursive: true });
      await page.locator('#videoSection').screenshot({ path: path.join(h.OUTPUT_DIR, `video-in-page-${codec}.png`) });
      BARS.forEach(([name, want], i) => {
        const got = remote.colours[i];
        assert.ok(want.every((v, k) => Math.abs(v - got[k]) <= TOLERANCE),
          `bar ${i + 1} should be ${name} ${want}, the canvas shows ${got} (all: ${JSON.stringify(remote.colours)})`);
      });

      // Our test pattern: moving colour bars, neither black nor one colour.
      const local = await canvasSummary(page, 'localVideo');
      t.diagnostic(`local canvas: ${JSON.stringify(local)}`);
      assert.ok(local.lightShare > 0.3, `the local canvas is mostly dark: ${JSON.stringify(local)}`);
      assert.ok(local.colours >= 4, `the local canvas shows ${local.colours} colours`);

      // A <video> element plays the same pictures.
      await page.evaluate(() => {
        const v = document.createElement('video');
        v.id = 'remotePlayer';
        document.body.appendChild(v);
        window.playerView = window.global_openEye_SDK.attachVideo(v, { stream: 'remote' });
      });
      await page.waitForFunction(() => {
        const v = document.getElementById('remotePlayer');
        return v.videoWidth === 320 && v.currentTime > 0.5;
      }, null, { timeout: 20000 });
      const played = await page.evaluate(() => {
        const v = document.getElementById('remotePlayer');
        const c = document.createElement('canvas');
        c.id = 'playerFrame';
        c.width = v.videoWidth;
        c.height = v.videoHeight;
        c.getContext('2d').drawImage(v, 0, 0);
        document.body.appendChild(c);
        window.playerView.detach();
        return v.srcObject === null;
      });
      assert.ok(played, 'detach() takes the stream off the <video>');
      const frame = await sampleCanvas(page, 'playerFrame', BARS.map((_, i) => [(i + 0.5) / 7, 1 / 3]));
      BARS.forEach(([name, want], i) => {
        assert.ok(want.every((v, k) => Math.abs(v - frame.colours[i][k]) <= TOLERANCE),
          `the <video>'s bar ${i + 1} should be ${name} ${want}: ${frame.colours[i]}`);
      });

      assert.deepEqual(await videoErrors(), []);
      await page.click('#btn-detachVideo');
      assert.deepEqual(await page.evaluate(() => window.global_openEye_SDK._videos.length), 0);
      assert.equal(await page.isVisible('#remoteVideo'), false, 'the demo hides its canvases');
      assert.equal((await h.clickFor(page, '#btn-endCall', 'endCall')).result, 0);
      assert.deepEqual(page.errors, []);
    });
  });
}

test.describe('the video socket keeps the API\'s origin rules', () => {
  const s = h.stage({ browser: { resolve: ['portal.example.test'] } });

  test('a page from a refused origin cannot open it; the host\'s own page can', { timeout: 60000 }, async (t) => {
    if (s.skip) return t.skip(s.skip);
    const { host, browser } = s;
    const other = await h.startOtherOrigin({
      '/': attachingPage(host, `
        window.raw = 'pending';
        const ws = new WebSocket('ws://127.0.0.1:${host.port}/video?stream=remote', 'seatphone_video');
        ws.onopen = () => { window.raw = 'open'; };
        ws.onclose = (e) => { if (window.raw !== 'open') window.raw = 'refused ' + e.code; };`),
    });
    try {
      const page = await browser.newPage();
      await h.gotoHost(page, host, `${other.base}/`);
      await page.waitForFunction(() => window.raw !== 'pending' && window.errors.length > 0, null, { timeout: 10000 });
      assert.equal(await page.evaluate(() => window.raw), 'refused 1006');
      const errors = await page.evaluate(() => window.errors);
      assert.equal(errors[0].code, 'connection', 'the SDK says the video socket closed');
      await page.evaluate(() => window.sdk.uninit());
      await page.close();
      assert.match(host.log(), new RegExp(`origin not allowed.*${other.port}`), 'the host logs the refused origin');

      // The handshake itself: 403 for that origin, 101 for the host's own pages.
      assert.equal(await videoHandshake(host.port, other.base), 403);
      assert.equal(await videoHandshake(host.port, 'http://127.0.0.1:1'), 403);
      assert.equal(await videoHandshake(host.port, host.base), 101);

      // The host's own page opens it (and with WebCodecs, reports nothing).
      const own = await h.openDemo(browser, host);
      const opened = await own.evaluate(() => new Promise((resolve) => {
        const ws = new WebSocket(window.global_openEye_SDK._apiUrl + 'video?stream=local', 'seatphone_video');
        ws.onopen = () => { resolve(ws.protocol); ws.close(); };
        ws.onclose = (e) => resolve(`closed ${e.code}`);
      }));
      assert.equal(opened, 'seatphone_video');
      await own.close();
    } finally {
      await other.close();
    }
  });

  test('where WebCodecs is missing, attachVideo says so in the error callback', { timeout: 60000 }, async (t) => {
    if (s.skip) return t.skip(s.skip);
    const { host, browser } = s;
    // A plain http page from a name that is not localhost is no secure
    // context: Chromium offers it no WebCodecs.
    const other = await h.startOtherOrigin({ '/': attachingPage(host) });
    try {
      const page = await browser.newPage();
      await page.goto(`http://portal.example.test:${other.port}/`);
      await page.waitForFunction(() => window.errors.length > 0, null, { timeout: 10000 });
      const { errors, view, hasDecoder } = await page.evaluate(() =>
        ({ errors: window.errors, view: window.view, hasDecoder: typeof VideoDecoder }));
      assert.equal(hasDecoder, 'undefined', 'the test needs a page without WebCodecs');
      assert.equal(view, null);
      assert.equal(errors.length, 1);
      assert.equal(errors[0].code, 'unsupported');
      assert.match(errors[0].message, /WebCodecs.*not available.*secure context/);
      await page.evaluate(() => window.sdk.uninit());
      await page.close();
    } finally {
      await other.close();
    }
  });
});
