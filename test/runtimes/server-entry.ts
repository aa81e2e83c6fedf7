// SPDX-License-Identifier: MIT
// Entry for the non-browser runtimes (Node, Deno, Bun): sets the tfjs backends up the way each
// runtime allows, runs body.ts, prints ONE JSON line (the report) and exits 0 whatever the checks
// say: the driver (scripts/test-runtimes.mjs) judges. Exit 2 means the entry itself broke.
//   node dist/test/runtimes/server-entry.js [cpu,wasm,webgpu]
import { describeAdapter, runBody, type BackendOffer, type TF } from './body.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const g = globalThis as any;
const runtime: 'node' | 'deno' | 'bun' = g.Deno ? 'deno' : g.Bun ? 'bun' : 'node';
const runtimeVersion: string =
  runtime === 'deno' ? g.Deno.version.deno : runtime === 'bun' ? g.Bun.version : process.versions.node;

function argBackends(): string[] {
  const args: string[] = runtime === 'deno' ? g.Deno.args : process.argv.slice(2);
  const list = (args[0] ?? 'cpu,wasm,webgpu').split(',').map((s) => s.trim()).filter(Boolean);
  for (const b of list) if (!['cpu', 'wasm', 'webgpu'].includes(b)) throw new Error(`unknown backend '${b}'`);
  return list;
}

function errMsg(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0].slice(0, 400);
}

// CJS module (Node/Deno/Bun resolve tfjs's "main") or ESM namespace: both end up as the tf API.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const unwrap = (m: any): TF => (m && m.default && typeof m.default.conv2d === 'function' ? m.default : m);

async function setupWebGPU(): Promise<BackendOffer> {
  const offer: BackendOffer = { name: 'webgpu', info: {} };
  try {
    if (runtime === 'deno') {
      offer.info!.provider = 'Deno built-in navigator.gpu (wgpu)';
    } else {
      // Node 20 and Bun have no WebGPU: dawn.node from the `webgpu` package, before tfjs-webgpu loads
      // (it registers the backend only if navigator.gpu exists at import time).
      const webgpu = await import('webgpu');
      Object.assign(globalThis, webgpu.globals);
      const gpu = webgpu.create([]);
      if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
      else g.navigator = { gpu };
      offer.info!.provider = 'dawn.node (npm webgpu)';
    }
    offer.adapter = await describeAdapter(g.navigator?.gpu);
    await import('@tensorflow/tfjs-backend-webgpu');
  } catch (e) {
    offer.unavailable = errMsg(e);
  }
  return offer;
}

async function main(): Promise<void> {
  const wanted = argBackends();
  const tf = unwrap(await import('@tensorflow/tfjs'));
  tf.env().set('PROD', true); // no NaN checks/debug warnings; same numbers
  const offers: BackendOffer[] = [];
  for (const name of wanted) {
    if (name === 'cpu') offers.push({ name: 'cpu' });
    if (name === 'wasm') {
      const offer: BackendOffer = { name: 'wasm' };
      try {
        await import('@tensorflow/tfjs-backend-wasm');
      } catch (e) {
        offer.unavailable = errMsg(e);
      }
      offers.push(offer);
    }
    if (name === 'webgpu') offers.push(await setupWebGPU());
  }
  // RLEPOSE_PARITY=large adds backbone-sized cases (scripts/gpu-check.sh sets it).
  const env: Record<string, string | undefined> = runtime === 'deno' ? g.Deno.env.toObject() : process.env;
  const report = await runBody(runtime, runtimeVersion, tf, offers, { large: env.RLEPOSE_PARITY === 'large' });
  const wasm = report.backends.find((b) => b.name === 'wasm' && b.available);
  if (wasm) {
    // SIMD and threads as tfjs decided them for this runtime (threads are off whenever IS_NODE).
    wasm.info = {
      simd: await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'),
      threads: await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'),
    };
  }
  process.stdout.write(JSON.stringify(report) + '\n');
}

main().then(
  () => process.exit(0), // dawn.node keeps the event loop alive; leave explicitly
  (e) => {
    console.error(e);
    process.exit(2);
  },
);
