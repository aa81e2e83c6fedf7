// SPDX-License-Identifier: MIT
// Runtime matrix: runs test/runtimes/body.ts in Node, headless Chromium, Deno and Bun, on every tfjs
// backend each has (cpu, wasm, webgpu), collects the one-JSON-line report of each, prints a table
// and exits 1 if any required check failed.
//
//   node scripts/test-runtimes.mjs [--only node,chromium,deno,bun] [--backends cpu,wasm,webgpu] [--no-build]
//
// Env: CI (truthy: nothing may be skipped), RLEPOSE_RUNTIME_TIMEOUT_S (per runtime, default 300),
//      CHROMIUM (default /usr/bin/chromium), RLEPOSE_REPORT (JSON output, default out/runtimes-report.json).
//
// A runtime or backend is SKIPPED (with the reason) only when it is genuinely unavailable here and
// CI is not set; in CI the same situation is a failure.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const CI = !!process.env.CI && !/^(0|false|no)$/i.test(process.env.CI);
const TIMEOUT_S = Number(process.env.RLEPOSE_RUNTIME_TIMEOUT_S ?? 300);
const ENTRY = 'dist/test/runtimes/server-entry.js';
const bin = (name) => join(root, 'node_modules/.bin', name);

function args() {
  const a = process.argv.slice(2);
  const opt = { only: null, backends: 'cpu,wasm,webgpu', build: true };
  for (let i = 0; i < a.length; i++) {
    if (a[i] === '--only') opt.only = a[++i].split(',');
    else if (a[i] === '--backends') opt.backends = a[++i];
    else if (a[i] === '--no-build') opt.build = false;
    else throw new Error(`unknown argument ${a[i]}`);
  }
  return opt;
}

/** Returns null when the command runs, else why not. */
function probe(cmd, cmdArgs) {
  if (cmd.includes('/') && !existsSync(cmd)) return `${cmd} not found`;
  const r = spawnSync(cmd, cmdArgs, { encoding: 'utf8', timeout: 30_000 });
  if (r.error) return `${cmd}: ${r.error.message}`;
  if (r.status !== 0) return `${cmd} ${cmdArgs.join(' ')} exited ${r.status}: ${(r.stderr || '').trim().split('\n')[0]}`;
  return null;
}

// The matrix as data: who runs how, and how we know it cannot run here.
const RUNTIMES = [
  {
    id: 'node',
    cmd: (b) => [process.execPath, [ENTRY, b]],
    unavailable: () => null,
  },
  {
    id: 'chromium',
    cmd: (b) => [process.execPath, ['scripts/run-browser.mjs', b]],
    unavailable: () => probe(process.env.CHROMIUM ?? '/usr/bin/chromium', ['--version']),
  },
  {
    id: 'deno',
    // tfjs resolves from our node_modules as npm installed it.
    cmd: (b) => [bin('deno'), ['run', '-A', '--node-modules-dir=manual', ENTRY, b]],
    unavailable: () => probe(bin('deno'), ['--version']),
  },
  {
    id: 'bun',
    cmd: (b) => [bin('bun'), [ENTRY, b]],
    unavailable: () => probe(bin('bun'), ['--version']),
  },
];

let currentGroup = null; // pid of the running runtime's process group, for cleanup on our own exit
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (currentGroup) try { process.kill(-currentGroup, 'SIGKILL'); } catch { /* gone */ }
    process.exit(130);
  });
}

/** Runs one runtime in its own process group; on timeout SIGTERM, then SIGKILL, the whole group. */
function runOne(cmd, cmdArgs) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(cmd, cmdArgs, {
      cwd: root,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
    });
    currentGroup = child.pid;
    let stdout = '', stderr = '', timedOut = false;
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const kill = (sig) => { try { process.kill(-child.pid, sig); } catch { /* gone */ } };
    const timer = setTimeout(() => {
      timedOut = true;
      kill('SIGTERM');
      setTimeout(() => kill('SIGKILL'), 5000).unref();
    }, TIMEOUT_S * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      currentGroup = null;
      resolve({ code, signal, stdout, stderr, timedOut, ms: Math.round(performance.now() - t0) });
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, stdout, stderr: stderr + String(e), timedOut, ms: Math.round(performance.now() - t0) });
    });
  });
}

function parseReport(stdout) {
  const lines = stdout.split('\n').filter((l) => l.startsWith('{'));
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const r = JSON.parse(lines[i]);
      if (r.kind === 'rlepose-runtime-report') return r;
    } catch { /* not ours */ }
  }
  return null;
}

const tail = (s, n = 15) => s.trim().split('\n').slice(-n).map((l) => '      ' + l).join('\n');
const fmtErr = (e) => (e === undefined ? '' : e === 0 ? '0' : e.toExponential(1));

/** Turns one runtime's result into table rows and failure messages. */
function judge(id, wanted, res) {
  const rows = [], failures = [], skips = [];
  if (res.timedOut) {
    failures.push(`${id}: timed out after ${TIMEOUT_S} s\n${tail(res.stderr)}`);
    rows.push([id, '-', 'FAIL', '', '', `timeout ${TIMEOUT_S} s`]);
    return { rows, failures, skips };
  }
  const report = parseReport(res.stdout);
  if (!report || res.code !== 0) {
    failures.push(`${id}: exit ${res.code ?? res.signal}, ${report ? 'with' : 'no'} report\n${tail(res.stderr)}`);
    rows.push([id, '-', 'FAIL', '', '', `exit ${res.code ?? res.signal}`]);
    return { rows, failures, skips, report };
  }
  for (const c of report.checks) {
    if (c.status !== 'pass') failures.push(`${id}: ${c.name}: ${c.status} ${c.detail ?? ''}`);
  }
  const libOk = report.checks.every((c) => c.status === 'pass');
  rows.push([id, '(library)', libOk ? 'ok' : 'FAIL', '', '', `ready() ${report.checks[0]?.ms ?? '?'} ms; ${report.runtimeVersion}`]);
  for (const name of wanted) {
    const b = report.backends.find((x) => x.name === name);
    if (!b) {
      failures.push(`${id}/${name}: not in report`);
      rows.push([id, name, 'FAIL', '', '', 'not in report']);
      continue;
    }
    if (!b.available) {
      const why = b.unavailable ?? 'unavailable';
      if (CI) {
        failures.push(`${id}/${name}: unavailable in CI: ${why}`);
        rows.push([id, name, 'FAIL', '', '', `unavailable: ${why}`]);
      } else {
        skips.push(`${id}/${name}: SKIPPED: ${why}`);
        rows.push([id, name, 'SKIPPED', '', '', why]);
      }
      continue;
    }
    let pass = 0, missing = 0, maxErr = 0, ms = 0;
    for (const c of b.checks) {
      if (c.status === 'pass') pass++;
      else if (c.status === 'expected-missing') missing++;
      else failures.push(`${id}/${name}: ${c.name}: ${c.status}${c.relErr !== undefined ? ` relErr ${c.relErr.toExponential(2)} > ${c.tol}` : ''} ${c.detail ?? ''}`);
      if (c.relErr !== undefined) maxErr = Math.max(maxErr, c.relErr);
      ms += c.ms ?? 0;
    }
    const bad = b.checks.length - pass - missing;
    const notes = [];
    if (missing) notes.push(`${missing} expected missing (Conv2DBackpropFilter)`);
    if (b.adapter) {
      const a = b.adapter;
      notes.push(`${[a.vendor, a.architecture, a.description ?? a.device].filter(Boolean).join(' / ')}${a.software ? ' [software: correctness only]' : ''}`);
    }
    if (b.info && name === 'wasm') notes.push(`simd=${b.info.simd} threads=${b.info.threads}`);
    rows.push([id, name, bad ? 'FAIL' : 'ok', `${pass}/${b.checks.length}`, fmtErr(maxErr), `${Math.round(ms)} ms; ${notes.join('; ')}`]);
  }
  return { rows, failures, skips, report };
}

function printTable(rows) {
  const head = ['runtime', 'backend', 'result', 'passed', 'max rel err', 'notes'];
  const all = [head, ...rows];
  const w = head.map((_, i) => Math.max(...all.map((r) => String(r[i]).length)));
  const line = (r) => r.map((c, i) => (i === r.length - 1 ? String(c) : String(c).padEnd(w[i]))).join('  ');
  console.log(line(head));
  console.log(w.map((n, i) => '-'.repeat(i === w.length - 1 ? 5 : n)).join('  '));
  for (const r of rows) console.log(line(r));
}

async function main() {
  const opt = args();
  const wanted = opt.backends.split(',');
  if (opt.build) {
    const r = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
  if (!existsSync(join(root, ENTRY))) throw new Error(`${ENTRY} missing: run npm run build`);
  console.log(`runtime matrix: backends ${wanted.join(',')}; CI=${CI}; timeout ${TIMEOUT_S} s per runtime`);

  const rows = [], failures = [], skips = [], reports = [], timings = [];
  for (const rt of RUNTIMES) {
    if (opt.only && !opt.only.includes(rt.id)) continue;
    const why = rt.unavailable();
    if (why) {
      if (CI) {
        failures.push(`${rt.id}: unavailable in CI: ${why}`);
        rows.push([rt.id, '-', 'FAIL', '', '', `unavailable: ${why}`]);
      } else {
        skips.push(`${rt.id}: SKIPPED: ${why}`);
        rows.push([rt.id, '-', 'SKIPPED', '', '', why]);
      }
      continue;
    }
    const [cmd, cmdArgs] = rt.cmd(wanted.join(','));
    console.log(`--- ${rt.id}: ${[cmd, ...cmdArgs].map((s) => s.replace(root, '')).join(' ')}`);
    const res = await runOne(cmd, cmdArgs);
    const j = judge(rt.id, wanted, res);
    console.log(`    ${j.failures.length ? 'FAIL' : 'ok'} in ${(res.ms / 1000).toFixed(1)} s`);
    rows.push(...j.rows); failures.push(...j.failures); skips.push(...j.skips);
    timings.push({ runtime: rt.id, ms: res.ms });
    reports.push(j.report ?? { runtime: rt.id, error: `exit ${res.code ?? res.signal}${res.timedOut ? ' (timeout)' : ''}`, stderr: res.stderr.slice(-4000) });
  }

  console.log('');
  printTable(rows);
  const outFile = process.env.RLEPOSE_REPORT ?? join(root, 'out/runtimes-report.json');
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, JSON.stringify({ ci: CI, timings, reports }, null, 2) + '\n');
  console.log(`\nrelative error = max|got - ref| / max|ref| (ref: tfjs-cpu; for cpu itself an f64 JS conv). Full reports: ${outFile.replace(root, '')}`);
  for (const s of skips) console.log(s);
  if (failures.length) {
    console.log(`\n${failures.length} failure(s):`);
    for (const f of failures) console.log(`  - ${f}`);
    process.exit(1);
  }
  console.log(`\nruntime matrix OK (${rows.filter((r) => r[2] === 'ok').length} rows ok, ${skips.length} skipped)`);
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
