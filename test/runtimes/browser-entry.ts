// SPDX-License-Identifier: MIT
// Entry for the browser (bundled by scripts/run-browser.mjs with esbuild, served from 127.0.0.1 so
// navigator.gpu exists: WebGPU needs a secure context). Publishes the report on
// window.__rleposeReport and logs it as one JSON line.
import * as tfNs from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { describeAdapter, runBody, type BackendOffer, type RuntimeReport } from './body.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const w = globalThis as any;

function errMsg(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0].slice(0, 400);
}

async function main(): Promise<RuntimeReport> {
  const tf = tfNs;
  tf.env().set('PROD', true);
  const params = new URLSearchParams(location.search);
  const wanted = (params.get('backends') ?? 'cpu,wasm,webgpu').split(',');
  const offers: BackendOffer[] = [];
  for (const name of wanted) {
    if (name === 'cpu') offers.push({ name: 'cpu' });
    if (name === 'wasm') {
      setWasmPaths(new URL('/wasm/', location.href).href); // the runner serves tfjs-backend-wasm/dist/*.wasm there
      offers.push({ name: 'wasm' });
    }
    if (name === 'webgpu') {
      const offer: BackendOffer = { name: 'webgpu', info: { provider: 'Chromium navigator.gpu (Dawn)' } };
      try {
        offer.adapter = await describeAdapter(w.navigator?.gpu);
        // Imported here, not at the top: it registers the backend only if navigator.gpu exists.
        await import('@tensorflow/tfjs-backend-webgpu');
      } catch (e) {
        offer.unavailable = errMsg(e);
      }
      offers.push(offer);
    }
  }
  const m = /Chrom(?:e|ium)\/([\d.]+)/.exec(navigator.userAgent);
  const report = await runBody('chromium', m ? m[1] : navigator.userAgent, tf, offers);
  const wasm = report.backends.find((b) => b.name === 'wasm' && b.available);
  if (wasm) {
    wasm.info = {
      simd: await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'),
      threads: await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'),
      crossOriginIsolated: w.crossOriginIsolated === true,
    };
  }
  return report;
}

main().then(
  (report) => {
    w.__rleposeReport = report;
    console.log(JSON.stringify(report));
  },
  (e) => {
    w.__rleposeError = e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e);
  },
);
