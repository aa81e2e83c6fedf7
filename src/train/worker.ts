// SPDX-License-Identifier: MIT
// A training job in its own thread (tfjs-wasm and our kernels are single-threaded: two jobs use two
// cores). Reads the dataset from disk, trains, writes the checkpoint, reports progress by messages.
import { parentPort, workerData } from 'node:worker_threads';
import { runTrainingJob, type TrainingJob } from './job.js';

const job = workerData as TrainingJob;
runTrainingJob(job, (m) => parentPort!.postMessage(m)).then(
  () => process.exit(0),
  (e: Error) => { parentPort!.postMessage({ type: 'error', message: e.message, stack: e.stack }); process.exit(1); },
);
