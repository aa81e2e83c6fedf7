// SPDX-License-Identifier: MIT
/**
 * rlepose: RLE (Residual Log-likelihood Estimation) pose regression for TypeScript.
 * Call `await ready()` once before using the WASM-backed classes.
 */
import { loadKernels, type WasmSource } from './wasm/loader.js';

export type { WasmSource } from './wasm/loader.js';

/** Loads the WebAssembly kernels (inlined in the package; `source` overrides with a URL, bytes or a Module). */
export async function ready(source?: WasmSource): Promise<void> {
  await loadKernels(source);
}

export {
  parseSafetensors,
  serializeSafetensors,
  toFloat32,
  SAFETENSORS_DTYPES,
  type SafetensorsDtype,
  type SafetensorsTensor,
  type SafetensorsTensorInput,
  type SafetensorsFile,
  type ParseSafetensorsOptions,
} from './io/safetensors.js';
