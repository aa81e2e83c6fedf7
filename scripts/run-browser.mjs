// SPDX-License-Identifier: MIT
// Runs test/runtimes/body.ts in headless Debian Chromium: bundles dist/test/runtimes/browser-entry.js
// with esbuild, serves it from 127.0.0.1 on a random port (WebGPU needs a secure context), drives
// /usr/bin/chromium with playwright-core in a fresh user-data-dir, prints the report as one JSON line.
//   node scripts/run-browser.mjs [cpu,wasm,webgpu]
// Env: CHROMIUM (default /usr/bin/chromium), RLEPOSE_BROWSER_TIMEOUT_S (default 100).
import { build } from 'esbuild';
import { createServer } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = fileURLToPath(new URL('..', import.meta.url));
const backends = process.argv[2] ?? 'cpu,wasm,webgpu';
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const timeoutMs = Number(process.env.RLEPOSE_BROWSER_TIMEOUT_S ?? 100) * 1000;
const entry = join(root, 'dist/test/runtimes/browser-entry.js');
const wasmDir = join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');

if (!existsSync(entry)) throw new Error(`${entry} missing: run npm run build first`);
if (!existsSync(executablePath)) throw new Error(`${executablePath} missing (apt-get install chromium)`);

const work = await mkdtemp(join(tmpdir(), 'rlepose-browser-'));
let server, context;
try {
  const t0 = performance.now();
  const bundle = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'warning',
    // src/wasm/loader.ts imports node:fs/promises lazily, only for file: URLs; never reached here.
    external: ['node:*'],
  });
  const js = bundle.outputFiles[0].contents;
  const bundleMs = Math.round(performance.now() - t0);

  const html = '<!doctype html><meta charset="utf-8"><title>rlepose runtimes</title><script type="module" src="/bundle.js"></script>';
  server = createServer(async (req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    try {
      if (path === '/' || path === '/index.html') {
        res.writeHead(200, { 'content-type': 'text/html' }).end(html);
      } else if (path === '/bundle.js') {
        res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
      } else if (path === '/favicon.ico') {
        res.writeHead(204).end();
      } else if (path.startsWith('/wasm/') && path.endsWith('.wasm')) {
        const body = await readFile(join(wasmDir, basename(path)));
        res.writeHead(200, { 'content-type': 'application/wasm' }).end(body);
      } else {
        res.writeHead(404).end();
      }
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/?backends=${backends}`;

  // launchPersistentContext: the only way playwright takes our own (fresh) --user-data-dir.
  context = await chromium.launchPersistentContext(join(work, 'profile'), {
    executablePath,
    headless: true,
    timeout: 60_000,
    args: [
      '--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--disable-dev-shm-usage', '--enable-unsafe-webgpu',
    ],
  });
  const page = context.pages()[0] ?? await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') process.stderr.write(`[chromium ${m.type()}] ${m.text()}\n`); });
  page.on('pageerror', (e) => process.stderr.write(`[chromium pageerror] ${e.message}\n`));
  await page.goto(url);
  await page.waitForFunction(() => window.__rleposeReport || window.__rleposeError, null, { timeout: timeoutMs, polling: 200 });
  const { report, error } = await page.evaluate(() => ({ report: window.__rleposeReport, error: window.__rleposeError }));
  if (error) throw new Error(`browser body failed: ${error}`);
  report.bundleMs = bundleMs;
  // The user agent says 156.0.0.0 (reduced UA); ask the browser for its full version.
  try {
    const cdp = await context.newCDPSession(page);
    report.runtimeVersion = (await cdp.send('Browser.getVersion')).product;
  } catch { /* keep the UA version */ }
  process.stdout.write(JSON.stringify(report) + '\n');
} finally {
  await context?.close().catch(() => {});
  server?.close();
  await rm(work, { recursive: true, force: true });
}
