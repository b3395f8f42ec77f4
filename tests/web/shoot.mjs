// Dev helper: screenshot a URL. node tests/web/shoot.mjs URL out.png [width height] [waitSelector]
import { launch } from './browser.mjs';
const [url, out, w = '1280', h = '800', sel] = process.argv.slice(2);
const { context, close } = await launch();
const page = context.pages()[0] || await context.newPage();
await page.setViewportSize({ width: Number(w), height: Number(h) });
page.on('console', (m) => { if (m.type() === 'error') console.error('console:', m.text()); });
page.on('pageerror', (e) => console.error('pageerror:', e.message));
await page.goto(url);
if (sel) await page.waitForSelector(sel, { timeout: 15000 });
await page.waitForTimeout(800);
await page.screenshot({ path: out });
await close();
console.log('wrote', out);
