// Chromium's Local Network Access and the policy README.md gives
// administrators: a portal page on a public address (here a page the test
// serves through Playwright, which has no local address) that opens
// ws://127.0.0.1 is refused by the browser, whatever Seatphone allows; with
// README's policy in Chromium's managed policy folder, a portal it lists
// connects and one it does not list is still refused.
//
// The policy half needs to write that folder (root): it runs when
// SEATPHONE_BROWSER_POLICY_DIR names it (scripts/test.sh does as root), and
// removes its file afterwards.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./harness');

const missing = h.hostBinaryMissing() || h.needsOwnHost();
const POLICY_DIR = process.env.SEATPHONE_BROWSER_POLICY_DIR || '';
const LISTED = 'https://portal.example.com';
const UNLISTED = 'https://portal.example.org';
const BLOCKED = 'ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS';

/** The Chromium policy from README.md's "Browsers and local network access". */
function readmePolicy() {
  const readme = fs.readFileSync(path.join(h.REPO, 'README.md'), 'utf8');
  const block = /```json\n(\{\s*"LoopbackNetworkAllowedForUrls"[\s\S]*?)```/.exec(readme);
  assert.ok(block, 'README.md has the LoopbackNetworkAllowedForUrls policy');
  return JSON.parse(block[1]);
}

/** Serves a portal page at `origin` from the test itself and starts the SDK on it. */
async function openPublicPortal(browser, host, origin) {
  const page = await browser.newPage();
  page.console = [];
  page.on('console', (m) => page.console.push(m.text()));
  await page.route(`${origin}/**`, (route) => route.fulfill({
    status: 200,
    contentType: 'text/html',
    body: `<!DOCTYPE html><html><body><script>
      window.raw = 'pending';
      const ws = new WebSocket('ws://127.0.0.1:${host.port}/', 'openeye_login_service_protocol');
      ws.onopen = () => { window.raw = 'open'; ws.close(); };
      ws.onclose = (e) => { if (window.raw !== 'open') window.raw = 'closed ' + e.code; };
    </script></body></html>`,
  }));
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => window.raw !== 'pending', null, { timeout: 15000 });
  return page;
}

test.describe('Local Network Access: a public https portal and ws://127.0.0.1', { skip: missing || false }, () => {
  let host;
  let browser;
  let policyFile = null;
  const removePolicy = () => { if (policyFile) { fs.rmSync(policyFile, { force: true }); policyFile = null; } };

  test.before(async () => {
    host = await h.startHost({ extraApi: `allowed_origins = ["${LISTED}", "${UNLISTED}"]` });
  });
  test.after(async () => {
    if (browser) await browser.close();
    removePolicy();
    if (host) await host.dispose();
  });

  test('without a policy, Chromium refuses the page\'s socket to this device (Seatphone would allow it)', { timeout: 60000 }, async () => {
    browser = await h.launchBrowser();
    const page = await openPublicPortal(browser, host, LISTED);
    assert.equal(await page.evaluate(() => window.raw), 'closed 1006');
    assert.ok(page.console.some((l) => l.includes(BLOCKED)), page.console.join('\n'));
    await page.close();
    await browser.close();
    browser = null;
  });

  test('README\'s policy lets the listed portal connect; an unlisted one is still refused', { timeout: 60000 }, async (t) => {
    if (!POLICY_DIR) return t.skip('writes Chromium\'s managed policy folder: set SEATPHONE_BROWSER_POLICY_DIR (as root)');
    fs.mkdirSync(POLICY_DIR, { recursive: true });
    policyFile = path.join(POLICY_DIR, `seatphone-test-${process.pid}.json`);
    process.once('exit', removePolicy);
    fs.writeFileSync(policyFile, JSON.stringify(readmePolicy()));
    browser = await h.launchBrowser();
    const listed = await openPublicPortal(browser, host, LISTED);
    assert.equal(await listed.evaluate(() => window.raw), 'open', listed.console.join('\n'));
    const unlisted = await openPublicPortal(browser, host, UNLISTED);
    assert.equal(await unlisted.evaluate(() => window.raw), 'closed 1006');
    assert.ok(unlisted.console.some((l) => l.includes(BLOCKED)), unlisted.console.join('\n'));
  });
});
