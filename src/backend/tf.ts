// SPDX-License-Identifier: MIT
// The one tfjs namespace rlepose runs on. `@tensorflow/tfjs` (the union package) is used because its Node
// bundle registers every gradient (see ENVIRONMENT.md); the wasm backend registers itself on import.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

export { tf };
export type TF = typeof tf;
