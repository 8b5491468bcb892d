// Browser tests of the Phalanx web UI: headless Chromium (Debian's
// `chromium`) driven by playwright-core, against a node started with
// `phalanx demo` on a fresh data directory. Screenshots go to
// target/screenshots/. Run by web/browser-tests.sh.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const repo = path.resolve(import.meta.dirname, '..', '..');
const bin = process.env.PHALANX_BIN || path.join(repo, 'target', 'debug', 'phalanx');
const shots = path.join(repo, 'target', 'screenshots');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';

let data, node, base, browser;

function startDemo() {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ['--data', data, 'demo', '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error('demo did not start in 120 s:\n' + out)), 120000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) { clearTimeout(timer); resolve([child, m[1]]); }
    });
    child.stderr.on('data', (chunk) => { out += chunk; });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`demo exited with ${code}:\n${out}`)); });
  });
}

before(async () => {
  mkdirSync(shots, { recursive: true });
  data = mkdtempSync(path.join(tmpdir(), 'phalanx-browser-'));
  [node, base] = await startDemo();
  browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
});

after(async () => {
  if (browser) await browser.close();
  if (node) node.kill('SIGTERM');
  if (data) rmSync(data, { recursive: true, force: true });
});

async function login(name, password) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(base + '/');
  assert.match(page.url(), /\/ui\/login$/, 'without a session the dashboard sends to the login page');
  await page.fill('#name', name);
  await page.fill('#password', password);
  await Promise.all([page.waitForURL(base + '/'), page.click('#login-form button[type=submit]')]);
  return { context, page, errors };
}

async function openIncidents(page) {
  return Number(await page.getAttribute('#open-incidents', 'data-open'));
}

async function countryIncidents(page, code) {
  return Number(await page.getAttribute(`#map path[data-country="${code}"]`, 'data-incidents'));
}

test('login: a wrong password is refused, the right one opens the dashboard', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(base + '/ui/login');
  await page.fill('#name', 'lt-analyst');
  await page.fill('#password', 'not-the-password');
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#login-error');
  assert.match(await page.textContent('#login-error'), /authentication failed/i);
  await page.screenshot({ path: path.join(shots, 'login-failed.png') });
  await context.close();

  const { context: c2, page: p2, errors } = await login('lt-analyst', 'demo-lt-analyst-pw');
  assert.equal(await p2.title(), 'Common operating picture · Phalanx');
  assert.match(await p2.textContent('#who'), /lt-analyst/);
  assert.deepEqual(errors, []);
  await Promise.all([p2.waitForURL(/\/ui\/login$/), p2.click('#logout')]);
  await p2.goto(base + '/');
  assert.match(p2.url(), /\/ui\/login$/, 'after logout the session is gone');
  await c2.close();
});

test('dashboard: map and counts under the read rule for two clearances', async () => {
  const secret = await login('lt-analyst', 'demo-lt-analyst-pw');
  const restricted = await login('lt-junior', 'demo-lt-junior-pw');
  for (const s of [secret, restricted]) await s.page.waitForSelector('#map path[data-country="LTU"]');

  // The NATO SECRET incident (LTU, LVA) and the EU CONFIDENTIAL one (FRA)
  // count for the SECRET user only.
  assert.equal(await openIncidents(secret.page), 5);
  assert.equal(await openIncidents(restricted.page), 3);
  assert.equal(await countryIncidents(secret.page, 'LTU'), 2);
  assert.equal(await countryIncidents(restricted.page, 'LTU'), 1);
  assert.equal(await countryIncidents(secret.page, 'LVA'), 1);
  assert.equal(await countryIncidents(restricted.page, 'LVA'), 0);
  assert.equal(await countryIncidents(secret.page, 'FRA'), 1);
  assert.equal(await countryIncidents(restricted.page, 'FRA'), 0);
  assert.match(await secret.page.content(), /SCADA/);
  assert.doesNotMatch(await restricted.page.content(), /SCADA/);
  // The matrix counts follow the rule too.
  assert.equal(await secret.page.locator('#matrix tr[data-sector="energy-electricity"]').count(), 1);
  assert.equal(await restricted.page.locator('#matrix tr[data-sector="energy-electricity"]').count(), 0);
  // The banner shows the highest label on the page.
  assert.equal(await secret.page.getAttribute('#banner .banner', 'data-classification'), 'SECRET');
  assert.match(await secret.page.textContent('#banner'), /NATO SECRET/);
  assert.notEqual(await restricted.page.getAttribute('#banner .banner', 'data-classification'), 'SECRET');
  // The collective-threat alert and the boards are there for both.
  for (const s of [secret, restricted]) {
    assert.ok(await s.page.locator('#alerts .alert-row').count() >= 1);
    assert.equal(await s.page.locator('#board .column[data-state="approved"] .card').count(), 1);
    assert.equal(await s.page.locator('#board .column[data-state="deployed"] .card').count(), 1);
    assert.deepEqual(s.errors, []);
  }
  await secret.page.screenshot({ path: path.join(shots, 'dashboard-secret.png'), fullPage: true });
  // The README's picture (docs/dashboard.jpg is a copy of it).
  await secret.page.setViewportSize({ width: 1280, height: 860 });
  await secret.page.screenshot({ path: path.join(shots, 'dashboard.jpg'), type: 'jpeg', quality: 70 });
  await restricted.page.screenshot({ path: path.join(shots, 'dashboard-restricted.png'), fullPage: true });
  await secret.context.close();
  await restricted.context.close();
});

test('live update: a new incident appears without a reload', async () => {
  const s = await login('lt-junior', 'demo-lt-junior-pw');
  const before = await openIncidents(s.page);
  const before_pol = await countryIncidents(s.page, 'POL');
  await s.page.evaluate(() => { window.__notReloaded = true; });
  // Another process (the CLI) writes to the same node.
  execFileSync(bin, ['--data', data, 'incident', 'open', '--as', 'pl-analyst', '--name', 'Live: botnet in a water utility',
    '--country', 'POL', '--sector', 'drinking-water', '--impact-severity', 'red', '--tlp', 'green']);
  // (The page's content security policy forbids eval, so poll from here.)
  const deadline = Date.now() + 20000;
  while (await openIncidents(s.page) !== before + 1) {
    assert.ok(Date.now() < deadline, 'the new incident did not appear within 20 s');
    await s.page.waitForTimeout(200);
  }
  assert.equal(await s.page.evaluate(() => window.__notReloaded), true, 'the page was not reloaded');
  assert.equal(await countryIncidents(s.page, 'POL'), before_pol + 1);
  assert.equal(await s.page.locator('#matrix tr[data-sector="drinking-water"]').count(), 1);
  // Both banners were swapped with the fragment, and agree.
  assert.equal(await s.page.getAttribute('#banner-bottom .banner', 'data-classification'),
    await s.page.getAttribute('#banner .banner', 'data-classification'));
  assert.equal(await s.page.locator('#banner').count(), 1);
  await s.page.screenshot({ path: path.join(shots, 'dashboard-live-update.png'), fullPage: true });
  await s.context.close();
});

test('assistance request: a transition through the UI, and a failed CSRF attempt', async () => {
  const s = await login('lt-analyst', 'demo-lt-analyst-pw');
  await Promise.all([s.page.waitForURL(/\/ui\/request\//), s.page.click('#board .column[data-state="approved"] .card')]);
  const url = s.page.url();
  assert.equal(await s.page.getAttribute('#state', 'data-state'), 'approved');
  assert.match(await s.page.textContent('#object-label'), /RESTREINT UE/);
  // Only the allowed next states are offered.
  const offered = await s.page.$$eval('#transitions button.transition', (bs) => bs.map((b) => b.dataset.to));
  assert.deepEqual(offered.sort(), ['activated', 'cancelled']);
  await Promise.all([s.page.waitForURL(url), s.page.click('#transitions button[data-to="activated"]')]);
  assert.equal(await s.page.getAttribute('#state', 'data-state'), 'activated');
  assert.match(await s.page.textContent('#transition-history'), /approved → activated/);
  // Its tasks move through their own workflow from the same page.
  assert.equal(await s.page.locator('#tasks tr.task[data-status="open"]').count(), 2);
  await Promise.all([s.page.waitForURL(url), s.page.locator('#tasks tr.task').first().locator('button[data-to="in-progress"]').click()]);
  assert.equal(await s.page.locator('#tasks tr.task[data-status="in-progress"]').count(), 1);
  await s.page.screenshot({ path: path.join(shots, 'request-activated.png'), fullPage: true });
  // The incident page takes a timeline entry.
  await Promise.all([s.page.waitForURL(/\/ui\/incident\//), s.page.click('dd a[href^="/ui/incident/"]')]);
  await s.page.fill('#timeline-text', 'Forensic images secured');
  await Promise.all([s.page.waitForLoadState('load'), s.page.click('#timeline-form button[type=submit]')]);
  await s.page.waitForSelector('#timeline >> text=Forensic images secured');
  await s.page.goto(url);

  // The same session posts without the form's CSRF token: refused, nothing changes.
  const id = decodeURIComponent(url.split('/ui/request/')[1]);
  const forged = await s.page.request.post(`${base}/ui/request/${encodeURIComponent(id)}/transition`, { form: { to: 'team-forming' } });
  assert.equal(forged.status(), 403);
  const wrong = await s.page.request.post(`${base}/ui/request/${encodeURIComponent(id)}/transition`, { form: { to: 'team-forming', csrf: 'f'.repeat(64) } });
  assert.equal(wrong.status(), 403);
  await s.page.reload();
  assert.equal(await s.page.getAttribute('#state', 'data-state'), 'activated');
  // A user of another organisation sees the request but gets no buttons.
  const other = await login('ee-coordinator', 'demo-ee-coord-pw');
  await other.page.goto(url);
  assert.equal(await other.page.locator('#transitions button').count(), 0);
  assert.match(await other.page.textContent('#transitions'), /originator/);
  await other.context.close();
  await s.context.close();
});

test('upload: a bundle with progress and a result per object', async () => {
  const s = await login('lt-analyst', 'demo-lt-analyst-pw');
  await s.page.goto(base + '/ui/upload');
  const bundle = {
    type: 'bundle', id: 'bundle--6f0b1d7a-1a57-4d1e-9d8e-0a4f7a1f3c11', objects: [
      { type: 'indicator', spec_version: '2.1', id: 'indicator--0f6a1c4e-2b7d-4e55-8a3b-9c1d2e3f4a5b',
        created: '2026-11-28T10:00:00.000Z', modified: '2026-11-28T10:00:00.000Z', name: 'Uploaded: phishing domain',
        pattern: "[domain-name:value = 'login-portal.example.org']", pattern_type: 'stix', valid_from: '2026-11-28T10:00:00Z' },
      { type: 'indicator', spec_version: '2.1', id: 'indicator--not-a-uuid', name: 'broken' },
    ] };
  await s.page.selectOption('#upload-tlp', 'green');
  await s.page.setInputFiles('#upload-file', { name: 'bundle.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(bundle)) });
  await s.page.click('#upload-form button[type=submit]');
  await s.page.waitForSelector('#upload-results:not([hidden])');
  assert.match(await s.page.textContent('#upload-status'), /1 stored, 0 unchanged, 1 refused/);
  assert.equal(await s.page.locator('#upload-results tr.upload-accepted').count(), 1);
  assert.equal(await s.page.locator('#upload-results tr.upload-refused').count(), 1);
  assert.equal(await s.page.getAttribute('#upload-progress', 'value'), '100');
  await s.page.screenshot({ path: path.join(shots, 'upload.png'), fullPage: true });
  // A post without the session's token is refused.
  const forged = await s.page.request.post(`${base}/ui/upload`, { data: JSON.stringify(bundle), headers: { 'Content-Type': 'application/json' } });
  assert.equal(forged.status(), 403);
  await s.context.close();
});

test('workspace: search under the rule and an object page with its label', async () => {
  const s = await login('lt-junior', 'demo-lt-junior-pw');
  await s.page.goto(base + '/ui/search?type=incident&q=SCADA');
  assert.equal(await s.page.getAttribute('#result-count', 'data-count'), '0', 'the SECRET incident is not found by a RESTRICTED user');
  const secret = await login('lt-analyst', 'demo-lt-analyst-pw');
  await secret.page.goto(base + '/ui/search?type=incident&q=SCADA');
  assert.equal(await secret.page.getAttribute('#result-count', 'data-count'), '1');
  await secret.context.close();
  await s.page.goto(base + '/ui/search?type=indicator&q=Wiper');
  assert.equal(await s.page.getAttribute('#result-count', 'data-count'), '1');
  await Promise.all([s.page.waitForURL(/\/ui\/object\//), s.page.click('#results a')]);
  assert.match(await s.page.textContent('#object-label'), /TLP:GREEN/);
  assert.ok(await s.page.locator('#sightings tr.sighting').count() >= 4);
  await s.page.screenshot({ path: path.join(shots, 'object-indicator.png'), fullPage: true });
  await s.context.close();
});
