// Shared helpers for the web e2e tests and the bench: launch Debian's chromium through
// playwright-core (no browser download), with a fresh profile per launch.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const REPO = process.env.HERO_REPO || join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const WEB = join(REPO, 'supervisor', 'web');
export const CHROMIUM = process.env.HERO_CHROMIUM || '/usr/bin/chromium';

export async function loadPlaywright() {
  // Reuse the UI's node_modules (npm ci in supervisor/web installs playwright-core).
  const local = join(WEB, 'node_modules', 'playwright-core', 'index.mjs');
  if (!existsSync(local)) return null;
  return import(pathToFileURL(local).href);
}

export async function launch() {
  const pw = await loadPlaywright();
  if (!pw) throw new Error(`playwright-core missing: run npm ci in ${WEB}`);
  const profile = mkdtempSync(join(tmpdir(), 'hero-chromium-'));
  const context = await pw.chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const close = async () => { await context.close().catch(() => {}); rmSync(profile, { recursive: true, force: true }); };
  return { context, close };
}
