// SPDX-License-Identifier: MIT
// The rlepose command line (the bin entry is main.ts; this module is importable for tests).
import { Command, Option } from 'commander';
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ready } from '../index.js';
import { runParity, detectKind } from '../parity/index.js';
import type { ParityReport } from '../parity/report.js';

const VERSION = '0.1.0';

/** The reference files shipped with the repository (used when `parity` gets no file). */
function bundledReferences(): string[] {
  const dir = new URL('../../../test/fixtures/', import.meta.url);
  return ['realnvp2d.json', 'realnvp3d.json', 'rle2d.json', 'regressflow_official_basic.json', 'coco_eval_public.json']
    .map((f) => fileURLToPath(new URL(f, dir)))
    .filter((p) => existsSync(p));
}

function fmtErr(e: number): string {
  return Number.isFinite(e) ? e.toExponential(2) : String(e);
}

async function parityCommand(files: string[], opts: { tolerance?: string; json?: boolean }): Promise<number> {
  await ready();
  const list = files.length ? files : bundledReferences();
  if (!list.length) {
    console.error('rlepose parity: no files given and no bundled reference files found');
    return 2;
  }
  const tol = opts.tolerance !== undefined ? Number(opts.tolerance) : undefined;
  if (tol !== undefined && !(tol > 0)) {
    console.error(`rlepose parity: --tolerance must be a positive number, got ${opts.tolerance}`);
    return 2;
  }
  let nCases = 0, nQ = 0, nFail = 0, maxErr = 0;
  const reports: Array<{ file: string; report?: ParityReport; error?: string }> = [];
  for (const file of list) {
    let j: unknown;
    try {
      j = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      reports.push({ file, error: `cannot read JSON: ${(e as Error).message}` });
      nFail++;
      continue;
    }
    try {
      const report = await runParity(j, { path: file, tolerance: tol });
      reports.push({ file, report });
    } catch (e) {
      reports.push({ file, error: (e as Error).message });
      nFail++;
    }
  }
  for (const { file, report, error } of reports) {
    if (!opts.json) console.log(`\n${file}${report ? ` (${report.kind})` : ''}`);
    if (error) {
      if (!opts.json) console.log(`  ERROR ${error}`);
      continue;
    }
    for (const c of report!.cases) {
      nCases++;
      if (!opts.json) console.log(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}${c.error ? `: ERROR ${c.error}` : ''}`);
      if (c.error) nFail++;
      for (const q of c.quantities) {
        nQ++;
        maxErr = Math.max(maxErr, Number.isFinite(q.error) ? q.error : Infinity);
        if (!q.ok) nFail++;
        if (!opts.json) console.log(`       ${q.ok ? '  ' : '✗ '}${q.name.padEnd(44)} ${fmtErr(q.error).padStart(9)}  (tol ${q.tolerance})`);
      }
    }
  }
  if (opts.json) console.log(JSON.stringify(reports));
  const verdict = nFail === 0
    ? `PARITY OK: ${list.length} file(s), ${nCases} case(s), ${nQ} quantities, max error ${fmtErr(maxErr)}`
    : `PARITY FAILED: ${nFail} failure(s) in ${list.length} file(s), ${nCases} case(s), ${nQ} quantities, max error ${fmtErr(maxErr)}`;
  console.log(verdict);
  return nFail === 0 ? 0 : 1;
}

async function benchCommand(what: string, opts: { sizes?: string; maxTime?: string; json?: boolean; peer?: boolean }): Promise<number> {
  if (what === 'train') {
    const { runTrainBench, formatTrainBench } = await import('../../bench/train.js');
    const r = await runTrainBench({ maxTime: opts.maxTime ? Number(opts.maxTime) : undefined, peer: opts.peer !== false });
    console.log('');
    console.log(formatTrainBench(r));
    console.log(JSON.stringify({ suite: 'train', batch: r.batch, input: r.input, ours: r.ours, peer: r.peer, speedup: r.speedup, breakdown: r.breakdown.slice(0, 12) }));
    return 0;
  }
  if (what !== 'flow') {
    console.error(`rlepose bench: unknown suite '${what}'; available: flow, train`);
    return 2;
  }
  const { runFlowBench, formatFlowBench } = await import('../../bench/flow.js');
  const sizes = opts.sizes ? opts.sizes.split(',').map(Number) : undefined;
  if (sizes && sizes.some((n) => !Number.isInteger(n) || n < 1)) {
    console.error(`rlepose bench: --sizes must be positive integers separated by commas, got ${opts.sizes}`);
    return 2;
  }
  console.log('RealNVP flow (dim 2, hidden 64, 6 couplings): logProb forward and forward+backward, one thread');
  const rows = await runFlowBench({ sizes, maxTime: opts.maxTime ? Number(opts.maxTime) : undefined });
  console.log('');
  console.log(formatFlowBench(rows));
  console.log(JSON.stringify({ suite: 'flow', rows: rows.map((r) => ({ impl: r.impl, n: r.n, mode: r.mode, ms: r.ms, firstMs: r.firstMs, rme: r.rme })) }));
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = new Command();
  program
    .name('rlepose')
    .description('RLE (Residual Log-likelihood Estimation) pose regression: RealNVP flow and RLE loss in WebAssembly SIMD.')
    .version(VERSION)
    .showHelpAfterError();
  program
    .command('parity')
    .description('Check rlepose against reference values exported from PyTorch (golden-schema JSON files).\n' +
      'Prints the relative error of every quantity; exits 1 if any exceeds its tolerance (1e-4 relative for flows, losses and networks, 1e-6 absolute for COCO statistics).\n' +
      'With no FILE, checks the reference files bundled in the repository (test/fixtures).')
    .argument('[files...]', 'reference files: flow ({flow, cases[{x, log_prob, z, ...}]}), loss ({flow, cases[{variant, ...}]})\n' +
      'network ({layout, input, pred_jts, sigma, ...} with FILE.safetensors beside it)\n' +
      'or COCO keypoint evaluation ([{name, gt, dt, expected: {stats}}], absolute tolerance 1e-6)')
    .option('--tolerance <t>', 'override the tolerance of every quantity')
    .option('--json', 'print the full report as JSON before the verdict')
    .addHelpText('after', '\nExamples:\n  rlepose parity\n  rlepose parity my_flow_export.json my_loss_export.json')
    .action(async (files: string[], opts) => { code = await parityCommand(files, opts); });
  program
    .command('bench')
    .description('Benchmarks, peers measured in the same run. Suites:\n' +
      '  flow   logProb forward and forward+backward: our SIMD kernels, their scalar twins, the same flow as tfjs ops on tfjs-wasm\n' +
      '  train  images/s of an RLE training step (small trunk, B=32, 128x96): ours vs pure tfjs on tfjs-cpu')
    .argument('<suite>', 'flow | train')
    .option('--no-peer', 'train: skip the (slow) pure-tfjs peer')
    .option('--sizes <list>', 'sample counts, comma separated (default 544,8192)')
    .addOption(new Option('--max-time <s>', 'seconds per measurement (benchmark.js maxTime)').default('2'))
    .action(async (what: string, opts) => { code = await benchCommand(what, opts); });
  program
    .command('demo')
    .description('The main job on the built-in data: make the synthetic keypoint benchmark, train the small RLE model and an\n' +
      'L1 baseline with the same budget (two threads), evaluate both with exact COCO AP, PCK and a σ calibration report,\n' +
      'print the table and write a report folder (pictures with σ regions, learned density vs Laplace, loss curves, summary.json).')
    .option('--quick', 'a smaller run (about 5 minutes on 2 cores)')
    .option('--out <dir>', 'report folder', 'rlepose-out')
    .option('--seed <n>', 'seed of the data and both trainings', '1')
    .option('--images <n>', 'synthetic images (default 6000, quick 2000)')
    .option('--steps <n>', 'training steps per model (default 2000, quick 400)')
    .option('--sequential', 'train the two models one after the other in this thread')
    .option('--augment <preset>', 'training augmentation of both models: noflip | mild | paper | none (flips contradict the\n' +
      'benchmark\'s colour-coded left/right)', 'noflip')
    .option('--flip-test', 'average predictions with those of mirrored crops (off: the benchmark marks left/right by colour)')
    .option('--input <HxW>', 'network input size of both models', '128x96')
    .option('--difficulty <d>', 'synthetic benchmark difficulty: easy | medium | hard or a number in [0, 1]', 'medium')
    .addHelpText('after', '\nExamples:\n  rlepose demo --quick\n  rlepose demo --out my-report --seed 7')
    .action(async (opts) => {
      const { runDemo } = await import('./demo.js');
      const { parseSize } = await import('./commands.js');
      const num = (v: string | undefined, name: string) => {
        if (v === undefined) return undefined;
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1) throw new RangeError(`rlepose demo: --${name} must be a positive integer, got ${v}`);
        return n;
      };
      code = await runDemo({ quick: !!opts.quick, out: opts.out, seed: num(opts.seed, 'seed') ?? 1, images: num(opts.images, 'images'), steps: num(opts.steps, 'steps'), sequential: !!opts.sequential, augment: opts.augment, difficulty: opts.difficulty, flipTest: !!opts.flipTest, input: parseSize('rlepose demo', opts.input) });
    });
  program
    .command('train')
    .description('Train an RLE model on a COCO-format keypoint dataset (annotations JSON + image folder), with a progress bar\n' +
      'and atomic checkpoints (model, flow, optimizers, step, data order); --resume continues bit-identically.')
    .requiredOption('--data <annotations.json>', 'COCO keypoint annotations')
    .requiredOption('--images <dir>', 'image folder (PNG or JPEG)')
    .option('--out <file>', 'checkpoint file (safetensors)', 'rlepose-checkpoint.safetensors')
    .option('--steps <n>', 'training steps', '3000')
    .option('--batch <n>', 'batch size', '32')
    .option('--variant <v>', 'loss: official | mmpose_laplace | mmpose_gaussian | no_residual | direct | l1 | l2', 'official')
    .option('--layout <l>', 'official ([-0.5,0.5] targets) | mmpose ([0,1] targets)', 'official')
    .option('--input <HxW>', 'network input size', '128x96')
    .option('--lr <lr>', 'learning rate', '1e-3')
    .option('--seed <n>', 'seed', '1')
    .option('--every <n>', 'checkpoint every n steps', '200')
    .option('--resume <file>', 'continue from a checkpoint')
    .option('--clip-norm <n>', 'clip the global gradient norm (network + flow) at n (default: no clipping, as in the paper)')
    .option('--augment <preset>', "training augmentation: paper (rotation, scale, half body, flip; for long runs) | mild (for a few thousand steps) | none", 'paper')
    .action(async (opts) => { const { trainCommand } = await import('./commands.js'); code = await trainCommand(opts); });
  program
    .command('eval')
    .description('COCO keypoint AP (exactly as pycocotools) and PCK of a model on a COCO-format dataset, with ground-truth boxes.')
    .requiredOption('--model <file>', 'our checkpoint, or a PyTorch state dict (official or MMPose layout) as safetensors')
    .requiredOption('--data <annotations.json>', 'COCO keypoint annotations')
    .requiredOption('--images <dir>', 'image folder')
    .option('--flip', 'flip test')
    .option('--batch <n>', 'batch size', '32')
    .option('--input <HxW>', 'network input size the model was trained with', '128x96')
    .action(async (opts) => { const { evalCommand } = await import('./commands.js'); code = await evalCommand(opts); });
  program
    .command('predict')
    .description('Keypoints with σ for the people in an image, given their boxes: JSON, and a picture with the σ regions.')
    .requiredOption('--model <file>', 'checkpoint or PyTorch state dict (safetensors)')
    .requiredOption('--image <file>', 'PNG or JPEG')
    .requiredOption('--boxes <list>', "person boxes as x,y,w,h; several separated by ';'")
    .option('--out <file>', 'write the JSON here (default: stdout)')
    .option('--svg <file>', 'write a picture of the first person with σ regions')
    .option('--input <HxW>', 'network input size the model was trained with', '128x96')
    .option('--flip', 'flip test')
    .action(async (opts) => { const { predictCommand } = await import('./commands.js'); code = await predictCommand(opts); });
  program
    .command('export')
    .description('Write a model as a plain PyTorch state dict (safetensors) in its layout, for load_state_dict in PyTorch.')
    .requiredOption('--model <file>', 'our checkpoint')
    .requiredOption('--out <file>', 'output .safetensors')
    .action(async (opts) => { const { exportCommand } = await import('./commands.js'); code = await exportCommand(opts); });
  program.command('kinds', { hidden: true }).argument('<file>').action((file: string) => {
    console.log(detectKind(JSON.parse(readFileSync(file, 'utf8'))));
  });
  await program.parseAsync(argv);
  return code;
}

