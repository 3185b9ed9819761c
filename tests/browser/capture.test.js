// Snapshots and recordings from the demo page, through OpenEye_SDK.js, in
// a real video call with baresip (VP8, ffmpeg's testsrc2) through
// Kamailio: the callbacks have the reference's shapes (success without
// `result`, `path` or `base64` at the top level), the files are where the
// path says and are what they claim. What the pictures show and how long
// recordings last is checked in tests/tests/e2e/capture.rs.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const h = require('./harness');

// baresip sends testsrc2 as VP8 and shows what it gets to nobody.
const PEER_VIDEO = [
  'module\t\t\tvp8.so',
  'module\t\t\tavformat.so',
  'module\t\t\tfakevideo.so',
  'video_source\t\tavformat,lavfi,testsrc2=size=320x240:rate=15',
  'video_display\t\tfakevideo,nil',
  'video_size\t\t320x240',
  'video_fps\t\t15',
  '',
].join('\n');

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47]);
const WEBM = Buffer.from([0x1a, 0x45, 0xdf, 0xa3]);

/** The reference's success: no result, the value at the top level. */
function success(data, key) {
  assert.equal(data.result, undefined, `success has no result: ${JSON.stringify(data).slice(0, 300)}`);
  assert.equal(typeof data[key], 'string', `top-level ${key}`);
  assert.ok(Number.isInteger(data.rsp) && typeof data.description === 'string');
  return data[key];
}

/** What ffprobe says of a file: codec of its first stream, or throws. */
function codecOf(file) {
  const out = execFileSync('ffprobe', ['-v', 'error', '-of', 'json', '-show_entries', 'stream=codec_name', file]);
  return JSON.parse(out).streams[0].codec_name;
}

test.describe('capture from the demo page in a video call (Kamailio + baresip)', () => {
  let dir;
  const s = h.stage({
    prepare: () => { dir = s.tempDir('seatphone-capture-'); },
    host: () => ({
      extraToml: [
        '[video]', 'camera = "test"', 'width = 320', 'height = 240', 'fps = 15', 'bitrate = 300', 'codecs = ["VP8"]',
        '[capture]', `dir = ${JSON.stringify(dir)}`,
      ].join('\n'),
    }),
    peer: { extraConfig: PEER_VIDEO },
    demo: true,
  });

  /** Clicks `button` and returns the callback's data for `method`. */
  const click = (button, method, timeout) => h.clickFor(s.page, button, method, timeout);

  test('screenShot, screenShotBase64, videoCatch and videoCatchBase64 answer in the reference\'s shapes', { timeout: 120000 }, async (t) => {
    if (s.skip) return t.skip(s.skip);
    const { page, kam } = s;
    // No call yet: result 1 and a sentence.
    const early = await click('#btn-screenShot', 'screenShot');
    assert.equal(early.result, 1);
    assert.match(early.errMsg, /no video call/);

    await h.demoVideoCall(page, kam.port, '1002');

    // Until the first picture has come.
    let shot;
    for (let i = 0; i < 40; i++) {
      shot = await click('#btn-screenShot', 'screenShot');
      if (!(shot.result === 1 && /no picture|no video call/.test(shot.errMsg))) break;
      await h.sleep(250);
    }
    const png = success(shot, 'path');
    assert.equal(path.dirname(png), dir);
    assert.ok(fs.readFileSync(png).subarray(0, 4).equals(PNG), 'a PNG file');
    assert.equal(await page.textContent('#capturePath'), png, 'the demo page shows the path');

    const b64 = success(await click('#btn-screenShotBase64', 'screenShotBase64'), 'base64');
    assert.ok(Buffer.from(b64, 'base64').subarray(0, 4).equals(PNG), 'base64 of a PNG');
    const width = await page.evaluate(async () => {
      const img = document.getElementById('capturePreview');
      await img.decode();
      return img.naturalWidth;
    });
    assert.equal(width, 320, 'the browser decodes the snapshot at the picture\'s size');

    const start = await click('#btn-videoCatchStart', 'videoCatch');
    assert.equal(start.result, undefined, `start: ${JSON.stringify(start)}`);
    await h.sleep(2000);
    const file = success(await click('#btn-videoCatchStop', 'videoCatch'), 'path');
    assert.equal(path.dirname(file), dir);
    assert.equal(codecOf(file), 'vp8');

    // A timed clip of 1 s: the start's own callback carries it.
    await page.fill('#catchTime', '1');
    const clip = success(await click('#btn-videoCatchBase64Start', 'videoCatchBase64'), 'base64');
    const clipFile = path.join(dir, 'clip.webm');
    fs.writeFileSync(clipFile, Buffer.from(clip, 'base64'));
    assert.ok(fs.readFileSync(clipFile).subarray(0, 4).equals(WEBM), 'a WebM file');
    assert.equal(codecOf(clipFile), 'vp8');
    const preview = await page.evaluate(() => document.getElementById('catchPreview').src.slice(0, 16));
    assert.equal(preview, 'data:video/webm;', 'the demo page previews the clip as WebM');

    assert.equal((await click('#btn-endCall', 'endCall')).result, 0);
    assert.deepEqual(page.errors, []);
  });
});
