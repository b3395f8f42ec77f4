// Shared by the web e2e suites: screenshots, scenarios that save a screenshot and the
// daemon's log tail when they fail, and waiting for a run to end.
import { it } from 'node:test';
import { join } from 'node:path';

/** `page()` and `daemon()` give the suite's current page and daemon (set in its before()). */
export function harness({ artifacts, prefix = '', page, daemon }) {
  async function shot(name, p = page()) {
    try { await p.screenshot({ path: join(artifacts, `${name}.png`) }); } catch { /* page gone */ }
  }
  /** Runs one scenario; on failure saves a screenshot named after it and the daemon's log tail. */
  function scenario(name, fn, timeout = 30000) {
    it(name, { timeout }, async () => {
      try { await fn(); } catch (e) {
        await shot(`FAIL-${prefix}${name.replace(/\W+/g, '_')}`);
        console.log(`daemon log tail:\n${daemon().log().slice(-2000)}`);
        throw e;
      }
    });
  }
  return { shot, scenario };
}

/** Polls play_status until the run left queued/running; returns its record. */
export async function waitRunEnded(d, id, ms = 20000) {
  const t = Date.now();
  for (;;) {
    const r = await d.rpc('play_status', { run_id: id });
    if (!['queued', 'running'].includes(r.status)) return r;
    if (Date.now() - t > ms) throw new Error(`run ${id} still ${r.status}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}
