// SPDX-License-Identifier: MIT
export { alloc, free, heapInUse } from './mem';
export { gemmF32x4, gemmScalar, EPI_STORE, EPI_BIAS_LEAKY, EPI_LEAKY_GRAD, EPI_BIAS, EPI_ACCUM, EPI_LEAKY_GRAD_SUM } from './gemm';
export { rowsDotF32x4, rowsDotScalar } from './rows';
export {
  setSimd, getSimd, flowPackedFloats, flowDerivedFloats, flowCanonicalFloats, flowWorkspaceBytes, flowWsOffset,
  flowPack, flowUnpack, flowSync, flowInverse, flowBackward, flowLogProbFwdBwd, flowForward,
} from './realnvp';
export { rleLoss, RLE_OFFICIAL, RLE_MMPOSE_LAPLACE, RLE_MMPOSE_GAUSSIAN, RLE_NO_RESIDUAL, RLE_DIRECT, LOSS_L1, LOSS_L2 } from './rle';
export { adamStep, sgdStep } from './adam';
export {
  conv2dBackpropFilterF32x4, conv2dBackpropFilterScalar, restrideRowsF32,
  depthwiseBackpropFilterF32x4, depthwiseBackpropFilterScalar, depthwiseBackpropFilterScratch,
  depthwiseBackpropInputF32x4, depthwiseBackpropInputScalar, depthwiseBackpropInputScratch,
} from './conv_backprop';
export {
  conv2dBackpropInputPackedFloats, conv2dBackpropInputPack, conv2dBackpropInputClassF32x4, conv2dBackpropInputScalar,
} from './conv_input';
export { maxPoolArgmaxF32x4, maxPoolArgmaxScalar, poolGradF32x4, poolGradScalar } from './pool_grad';
export { vmathTest } from './vmath';
export { channelSumsF32x4, channelSumsScalar, channelAffineF32x4, channelAffineScalar } from './batchnorm';
