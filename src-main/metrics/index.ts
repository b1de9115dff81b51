export { auroc } from './auroc.ts';
export { aupro, keptMask, pooledPixels, proCurve, type ScoredMask, type ProCurve } from './aupro.ts';
export { f1Max, type F1Max } from './f1max.ts';
export { connectedComponents, type Components } from './connected-components.ts';
export { splitByLabelSorted, radixSortFloat32, type ScoresByLabel, type FloatArray } from './sorted.ts';
export {
  bootstrapIntervals, binnedPixelMetrics, pairedBootstrap, COMPARED_METRICS,
  type Interval, type MetricIntervals, type BootstrapOptions, type ComparedMetric, type PairedDifference, type PairedComparison, type PairedDifferences, type PairedModel,
} from './bootstrap.ts';
export { downsampleCurve, downsampleIndices, prCurve, rocCurve, trapezoidArea, type PrCurve, type RocCurve } from './curves.ts';
export { wilsonInterval } from './wilson.ts';
