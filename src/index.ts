// SPDX-License-Identifier: MIT
/**
 * rlepose: RLE (Residual Log-likelihood Estimation) pose regression for TypeScript.
 * Call `await ready()` once before using the WASM-backed classes.
 */
import { loadKernels, getKernels, type WasmSource } from './wasm/loader.js';
import { tf } from './backend/tf.js';
import { registerWasmTrainingKernels } from './backend/wasm_kernels.js';
import { registerWasmSpeedKernels } from './backend/wasm_speed_kernels.js';

export type { WasmSource } from './wasm/loader.js';
export { RealNVP, defaultMasks, flowParamSpecs } from './flow/realnvp.js';
export type { FlowConfig, CreateFlowOptions, FlowInit, NamedTensor, ParamSpec } from './flow/realnvp.js';
export { rleLoss, RLE_VARIANTS, SIGMA_MIN } from './loss/rle.js';
export type { RleVariant, RleLossInput, RleLossResult } from './loss/rle.js';
export { FlowOptimizer } from './flow/optimizer.js';
export type { OptimizerOptions } from './flow/optimizer.js';
export { Rng } from './util/rng.js';
export type { ArrayInput, ShapedArray, TensorLike } from './util/arrays.js';

/**
 * Loads the WebAssembly kernels (inlined in the package; `source` overrides with a URL, bytes or a Module)
 * and registers our training kernels (Conv2DBackpropFilter, depthwise backprops) into tfjs-wasm, so a
 * tfjs conv net trains on 'wasm', and our faster Conv2DBackpropInput / MaxPoolGrad / AvgPoolGrad in place
 * of tfjs-wasm's (registerWasmSpeedKernels). `init()` does this too, and also picks backends.
 */
export async function ready(source?: WasmSource): Promise<void> {
  await loadKernels(source);
  registerWasmTrainingKernels(tf);
  registerWasmSpeedKernels(tf);
}

/** Bytes of WASM heap in use by rlepose objects (for leak checks). */
export function wasmHeapInUse(): number {
  return getKernels().heapInUse();
}

/** Switches the flow kernels between the SIMD path (default) and their scalar twins (for tests and benchmarks). */
export function setSimd(on: boolean): void {
  getKernels().exports.setSimd(on ? 1 : 0);
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

// The backend facade and the one tfjs namespace rlepose runs on: share it, so that your tfjs code and
// rlepose use one engine, one kernel registry and our kernels.
export { tf } from './backend/tf.js';
export { init, backendReport, formatBackendReport } from './backend/facade.js';
export type { InitOptions, BackendReport, BackendStatus } from './backend/facade.js';
export { OP_TABLE } from './backend/table.js';
export type { OpEntry, BackendName, TfBackend } from './backend/table.js';
export { detectCapabilities } from './backend/capabilities.js';
export { registerWasmTrainingKernels } from './backend/wasm_kernels.js';
export {
  registerWasmSpeedKernels, unregisterWasmSpeedKernels, WASM_SPEED_OVERRIDES,
  type WasmSpeedKernelReport, type WasmSpeedOverride, type WasmSpeedKernelName,
} from './backend/wasm_speed_kernels.js';
export { RegressFlowNet, TRUNK_PRESETS, COCO_FLIP_PAIRS } from './model/regressflow.js';
export type { RegressFlowConfig, TrunkSpec, Prediction, PredictOptions, Layout } from './model/regressflow.js';
export { stateDictFromSafetensors, safetensorsFromStateDict } from './model/checkpoint.js';
export { Trainer } from './train/trainer.js';
export type { TrainOptions, StepResult } from './train/trainer.js';
export { evaluateCocoKeypoints, formatCocoStats } from './eval/coco.js';
export { pck, pckh, bboxNorm, mpjpe, paMpjpe, meanError, calibrationReport, formatCalibration, densityContours, contourToImage } from './eval/metrics.js';
export type { CalibrationReport, CalibrationOptions, PckResult } from './eval/metrics.js';
export * from './report/index.js';
