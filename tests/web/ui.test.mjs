// End-to-end tests of the web UI as a user drives it: Debian's chromium (playwright-core, no
// browser download) against a real `hero_logic serve` started here on a fresh data dir.
// Skips (exit 77) only when chromium is missing (CMake skips it when node is). Screenshots of
// every failure, and of each view at 1280×800 and 1920×1080, go to $HERO_WEB_ARTIFACTS.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CHROMIUM, REPO, WEB, launch, loadPlaywright } from './browser.mjs';
import { startDaemon, startProxy } from './daemon.mjs';
import { harness, waitRunEnded as waitRunEnded_ } from './harness.mjs';

const BIN = process.env.HERO_LOGIC_BIN || join(REPO, 'build', 'hero_logic');
const DIST = process.env.HERO_WEB_DIST || join(WEB, 'dist');
const ARTIFACTS = process.env.HERO_WEB_ARTIFACTS || join(REPO, 'build', 'web-e2e');

if (!existsSync(CHROMIUM)) { console.log(`SKIP: chromium not found at ${CHROMIUM} (apt-get install chromium)`); process.exit(77); }
if (!(await loadPlaywright())) throw new Error(`playwright-core missing: run (cd ${WEB} && npm ci) — scripts/setup.sh does`);
if (!existsSync(join(DIST, 'index.html'))) throw new Error(`no UI build at ${DIST}: run (cd supervisor/web && npm ci && npm run build)`);
if (!existsSync(BIN)) throw new Error(`no hero_logic binary at ${BIN}`);
mkdirSync(ARTIFACTS, { recursive: true });

const GREETER = `"""Greets a person, one step at a time."""
import time
from hero_tracing import flow


@flow(name="greeter", description="Greets a person, one step at a time",
      inputs={"name": str, "steps": int})
def greeter(name="world", steps=3):
    for i in range(steps):
        with flow.step(f"greet {i + 1}") as s:
            s.tag(i=i)
            print("hello", name, i)
            time.sleep(0.4)
    return {"greeting": "hello " + name}
`;

// Version 2, typed in the editor: fails in step 'check' on line 12.
const GREETER_V2 = `"""Greets a person, then checks the name."""
from hero_tracing import flow


@flow(name="greeter", description="Greets a person, then checks the name",
      inputs={"name": str, "steps": int})
def greeter(name="world", steps=1):
    with flow.step("greet"):
        print("hi", name)
    with flow.step("check"):
        if name != "ok":
            raise ValueError("name must be ok, got " + name)
    return {"greeting": "hi " + name}
`;

const BREAKER = `"""Fails while parsing its input."""
from hero_tracing import flow


@flow(name="breaker", description="Parses a number and fails on text", inputs={"text": str})
def breaker(text="not a number"):
    with flow.step("load") as s:
        s.tag(chars=len(text))
        print("loaded", len(text), "characters")
    with flow.step("parse"):
        print("parsing", repr(text))
        value = int(text)
    return {"value": value}
`;

const SLEEPER = `"""Sleeps for a long time (to be cancelled)."""
import time
from hero_tracing import flow


@flow(name="sleeper", description="Sleeps in one long step", inputs={"seconds": float})
def sleeper(seconds=60.0):
    with flow.step("nap"):
        print("sleeping", seconds)
        time.sleep(seconds)
    return {"slept": seconds}
`;

let daemon, proxy, browser, page;

const { shot, scenario } = harness({ artifacts: ARTIFACTS, page: () => page, daemon: () => daemon });
const waitRunEnded = (id, ms) => waitRunEnded_(daemon, id, ms);

function countTree(t) { let n = 0; const st = [t]; while (st.length) { const x = st.pop(); n++; for (const c of x.children || []) st.push(c); } return n; }

describe('web UI against a real daemon', () => {
  before(async () => {
    daemon = await startDaemon({ bin: BIN, staticDir: DIST });
    proxy = await startProxy(daemon.url);
    browser = await launch();
    // Count EventSource connections and errors (to see the stream resume after a cut).
    await browser.context.addInitScript(() => {
      const ES = window.EventSource;
      window.__es = { opens: 0, errors: 0 };
      window.EventSource = class extends ES {
        constructor(u, o) { super(u, o); window.__es.opens++; this.addEventListener('error', () => { window.__es.errors++; }); }
      };
    });
    page = browser.context.pages()[0] || await browser.context.newPage();
    page.setDefaultTimeout(10000);
    page.on('pageerror', (e) => console.log('pageerror:', e.message));
    await daemon.rpc('flow_create', { source: GREETER });
    await daemon.rpc('flow_create', { source: BREAKER });
    await daemon.rpc('flow_create', { source: SLEEPER });
  });
  after(async () => {
    await browser?.close();
    await proxy?.close();
    await daemon?.stop();
  });

  scenario('the Runs page opens and lists runs', async () => {
    const { run_id } = await daemon.rpc('play_run_async', { flow: 'breaker', input: {} });
    await waitRunEnded(run_id);
    await page.goto(daemon.url + '#/runs');
    await page.locator('h2', { hasText: 'Runs' }).waitFor();
    const row = page.locator(`tr[data-run="${run_id}"]`);
    await row.waitFor();
    assert.match(await row.innerText(), /breaker/);
    assert.match(await row.locator('.badge').innerText(), /failed/);
    await page.click('.status-filter button[data-status="ok"]');
    await page.waitForFunction((id) => !document.querySelector(`tr[data-run="${id}"]`), run_id);
    await page.click('.status-filter button:has-text("any")');
    await row.waitFor();
    await page.fill('input[aria-label="search runs"]', 'no-such-text-anywhere');
    await page.locator('.empty', { hasText: 'No run matches' }).waitFor();
    await page.fill('input[aria-label="search runs"]', '');
    await row.waitFor();
  });

  scenario('a flow starts from the Flows page form and its spans appear live', async () => {
    // The browser goes through a proxy whose connections are cut mid-run below.
    await page.goto(proxy.url + '#/flows');
    await page.locator('input[aria-label="search flows"]').fill('greets');
    await page.locator('.lib-list a[data-flow="greeter"]').click();
    await page.locator('.flow-detail h2', { hasText: 'greeter' }).waitFor();
    await page.fill('#in-name', 'Ada');
    await page.fill('#in-steps', 'four');
    await page.click('button[type=submit]');
    assert.match(await page.locator('.field-error').innerText(), /steps must be a whole number/);
    await page.fill('#in-steps', '4');
    // save the input as a preset, clear the form, and fill it again from the preset
    await page.fill('input[aria-label="preset name"]', 'ada-four');
    await page.click('button:has-text("Save as preset")');
    await page.locator('.presets .chip', { hasText: 'ada-four' }).waitFor();
    await page.fill('#in-name', '');
    await page.fill('#in-steps', '');
    await page.locator('.presets .chip', { hasText: 'ada-four' }).click();
    assert.equal(await page.inputValue('#in-name'), 'Ada');
    assert.equal(await page.inputValue('#in-steps'), '4');
    await page.click('button[type=submit]');
    await page.waitForURL(/#\/runs\/\d+$/);
    const runId = Number(/#\/runs\/(\d+)/.exec(page.url())[1]);
    // Watch the tree grow while the run is running, with the connection cut in the middle:
    // the stream must resume (Last-Event-ID) without losing or duplicating events.
    const seen = new Set();
    let sawRunning = false;
    let blipped = false;
    for (let t = Date.now(); Date.now() - t < 15000;) {
      const st = await page.locator('.run-header .badge').first().getAttribute('data-status').catch(() => null);
      const n = await page.locator('.tt-row').count();
      if (st === 'running') { sawRunning = true; seen.add(n); }
      if (sawRunning && !blipped && n >= 3) {
        blipped = true;
        assert.ok(proxy.dropAll() > 0, 'there were connections to cut');
      }
      if (st === 'ok' || st === 'failed') break;
      await page.waitForTimeout(80);
    }
    assert.ok(sawRunning, 'the run page showed the run while it was running');
    assert.ok(seen.size >= 2, `the tree grew live (row counts seen: ${[...seen]})`);
    assert.ok(blipped, 'the stream was cut while the run was running');
    await page.locator('.run-header .badge[data-status="ok"]').waitFor({ timeout: 15000 });
    const tree = await daemon.rpc('play_spans', { run_id: runId });
    const total = countTree(tree.tree || tree);
    assert.equal(total, 5);
    await page.waitForFunction((n) => document.querySelector('.tt-name-h .muted')?.textContent === `${n} spans`, total);
    assert.equal(await page.locator('.tt-row').count(), total);
    const es = await page.evaluate(() => window.__es);
    assert.ok(es.errors >= 1, `the browser saw the stream cut (${JSON.stringify(es)})`);
    await page.locator('.tt-row[data-status="ok"]', { hasText: 'greet 2' }).click();
    await page.locator('.detail h3', { hasText: 'greet 2' }).waitFor();
    assert.match(await page.locator('.detail .logs').innerText(), /hello Ada 1/);
    assert.match(await page.locator('.detail section h4', { hasText: 'Logs' }).textContent(), /\b1 line\b/);
    assert.match(await page.locator('.rh-io').innerText(), /hello Ada/);
    // keyboard: focus the tree, move down, collapse the root with ←
    await page.locator('.tt-row').first().click();
    await page.keyboard.press('ArrowDown');
    await page.locator('.detail h3', { hasText: 'greet 1' }).waitFor();
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('ArrowLeft');
    await page.waitForFunction(() => document.querySelectorAll('.tt-row').length === 1);
    await page.keyboard.press('ArrowRight');
    await page.waitForFunction((n) => document.querySelectorAll('.tt-row').length === n, total);
  });

  scenario('a failed span shows its error and traceback', async () => {
    const { run_id } = await daemon.rpc('play_run_async', { flow: 'breaker', input: { text: 'twelve' } });
    await page.goto(daemon.url + `#/runs/${run_id}`);
    await page.locator('.run-header .badge[data-status="failed"]').waitFor({ timeout: 15000 });
    assert.match(await page.locator('.run-header .reason').innerText(), /ValueError/);
    await page.locator('.tt-row[data-status="failed"]', { hasText: 'parse' }).click();
    await page.locator('.detail h3', { hasText: 'parse' }).waitFor();
    const tb = await page.locator('.detail .traceback').innerText();
    assert.match(tb, /Traceback \(most recent call last\)/);
    assert.match(tb, /ValueError: invalid literal for int\(\) with base 10: 'twelve'/);
    assert.match(await page.locator('.detail .error-title').innerText(), /ValueError/);
    assert.match(await page.locator('.detail .logs').innerText(), /parsing 'twelve'/);
    // "open source" goes to the editor at the failing line
    await page.locator('.detail .error-box a.open-src').click();
    await page.waitForURL(/#\/editor\/breaker\?.*line=12/);
    await page.locator('.monaco-editor').waitFor();
    await page.waitForFunction(() => window.heroEditor?.getPosition()?.lineNumber === 12);
  });

  scenario('edit a flow in Monaco, save a version, run it, and jump to its error line', async () => {
    await page.goto(daemon.url + '#/editor/greeter');
    await page.locator('.monaco-editor .view-lines').waitFor();
    await page.waitForFunction(() => window.heroEditor?.getValue().includes('one step at a time'));
    await page.locator('.monaco-editor .view-lines').click();
    // Monaco takes keys and paste only once its textarea has focus (under load the click's
    // focus can land after the next events: the CI saw the paste ignored).
    await page.waitForFunction(() => window.heroEditor?.hasTextFocus(), null, { timeout: 3000 })
      .catch(() => page.evaluate(() => window.heroEditor.focus()));
    await page.waitForFunction(() => window.heroEditor?.hasTextFocus(), null, { timeout: 5000 });
    await page.keyboard.press('Control+A');
    // Paste the new version (typing it would go through Monaco's auto-indent).
    await page.evaluate((text) => {
      const dt = new DataTransfer();
      dt.setData('text/plain', text);
      document.querySelector('.monaco-editor textarea').dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    }, GREETER_V2);
    await page.waitForFunction((text) => window.heroEditor.getValue() === text, GREETER_V2, { timeout: 5000 })
      .catch(() => {});
    assert.equal(await page.evaluate(() => window.heroEditor.getValue()), GREETER_V2);
    await page.locator('.dirty').waitFor();
    await page.click('button:has-text("Save version")');
    await page.locator('.notice.ok', { hasText: 'as version 2' }).waitFor();
    const f = await daemon.rpc('flow_get', { name: 'greeter' });
    assert.equal(f.version, 2);
    assert.equal(f.source, GREETER_V2);
    await page.fill('#run-input', '{"name": "Bob"}');
    await page.click('.editor-bar button:has-text("Run")');
    await page.locator('.editor-run .er-head .badge[data-status="failed"]').waitFor({ timeout: 15000 });
    assert.match(await page.locator('.editor-run .er-head').innerText(), /v2/);
    await page.locator('.editor-run .tt-row', { hasText: 'check' }).waitFor();
    const link = page.locator('.failures .err-link').first();
    assert.equal(await link.innerText(), 'line 12');
    assert.match(await page.locator('.failures').innerText(), /name must be ok, got Bob/);
    await page.locator('.monaco-editor .err-line').first().waitFor();
    await page.evaluate(() => window.heroEditor.setPosition({ lineNumber: 1, column: 1 }));
    await link.click();
    await page.waitForFunction(() => window.heroEditor.getPosition().lineNumber === 12);
    await shot('editor-failed-run-1280x800');
  });

  scenario('a long run is cancelled from the Run page', async () => {
    const { run_id } = await daemon.rpc('play_run_async', { flow: 'sleeper', input: { seconds: 60 } });
    await page.goto(daemon.url + `#/runs/${run_id}`);
    await page.locator('.tt-row[data-status="running"]', { hasText: 'nap' }).waitFor({ timeout: 15000 });
    await page.click('.run-header button:has-text("Cancel")');
    await page.locator('.run-header .badge[data-status="cancelled"]').waitFor({ timeout: 15000 });
    assert.match(await page.locator('.run-header .reason').innerText(), /^Cancelled/);
    const r = await daemon.rpc('play_status', { run_id });
    assert.equal(r.status, 'cancelled');
    // no span is left running after the run ended
    await page.waitForFunction(() => !document.querySelector('.tt-row[data-status="running"]'));
    await page.click('.run-header button:has-text("Retry")');
    await page.waitForURL((u) => /#\/runs\/\d+$/.test(u.href) && !u.href.endsWith(`/${run_id}`));
    const retried = Number(/#\/runs\/(\d+)/.exec(page.url())[1]);
    await daemon.rpc('play_cancel', { run_id: retried });
  });

  scenario('every view fits 1280×800 and 1920×1080 without horizontal overflow', async () => {
    const views = [['runs', '#/runs'], ['flows', '#/flows/greeter'], ['run', '#/runs/1'], ['editor', '#/editor/breaker']];
    for (const [w, h] of [[1280, 800], [1920, 1080]]) {
      await page.setViewportSize({ width: w, height: h });
      for (const [name, hash] of views) {
        await page.goto(daemon.url + hash);
        await page.locator(name === 'editor' ? '.monaco-editor' : name === 'run' ? '.tt-row' : name === 'flows' ? '.flow-detail h2' : 'table.runs').first().waitFor();
        await page.waitForTimeout(300);
        const over = await page.evaluate(() => {
          const bad = [];
          for (const el of document.querySelectorAll('header.top, main, .page, .page > *')) {
            if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX === 'visible') bad.push(el.className);
          }
          return { doc: document.documentElement.scrollWidth - innerWidth, bad };
        });
        assert.ok(over.doc <= 0, `${name} at ${w}x${h}: page is ${over.doc}px too wide`);
        assert.deepEqual(over.bad, [], `${name} at ${w}x${h}: overflowing elements`);
        await shot(`${name}-${w}x${h}`);
      }
    }
    await page.setViewportSize({ width: 1280, height: 800 });
  }, 60000);
});
