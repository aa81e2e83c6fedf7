// SPDX-License-Identifier: MIT
/**
 * Report pictures as SVG strings (runtime-agnostic). The Node-only helpers (writeReport, encodePngNode)
 * are in ./node.js so that browser bundles do not pull in node: modules.
 */
export { svgPosePrediction, svgGrid, COCO_KEYPOINT_NAMES, COCO_SKELETON, SIDE_COLORS } from './pose.js';
export type { PosePredictionOptions, Points2D, SheetItem } from './pose.js';
export { svgDensityComparison } from './density.js';
export type { DensityComparisonOptions } from './density.js';
export { svgLossCurves, svgCalibration, svgBarTable } from './charts.js';
export type { Series, LineChartOptions, BarTable, BarTableRow } from './charts.js';
export { encodePng, pngDataUrl, base64 } from './png.js';
export type { RgbImage, PngEncoder } from './png.js';
export { escapeXml } from './svg.js';
