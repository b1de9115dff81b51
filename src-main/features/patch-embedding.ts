/**
 * Locally aware patch features (METHODS.md §5.2), built as one ONNX graph over backbone taps.
 *
 * The official pipeline unfolds a p×p neighbourhood per tap, upsamples the coarser taps' neighbourhoods
 * onto the first tap's grid, adaptive-average-pools each flattened neighbourhood to `pretrainDim`,
 * then pools the concatenation of all taps to `targetDim`. Every step is linear, and bilinear
 * upsampling commutes with per-position pooling, so the whole chain equals, per tap, one p×p
 * convolution (weights = aggregate pooling · per-tap pooling · unfold), then upsampling, then a sum.
 * That is what this graph computes: exact, and one convolution instead of a 9·C-wide unfold. Each
 * target row of that convolution reads only a few neighbouring channels, so it runs as gathered
 * depthwise convolutions (sparseTapConvolution) where that is cheaper.
 */
import { GraphBuilder, int, ints } from '../engine/onnx/graph.ts';
import { alignmentInputNames } from './tap-alignment.ts';
import type { ResizeMode } from '../methods/method.ts';

export interface EmbeddingTap {
  readonly name: string;
  readonly channels: number;
  readonly stride: number;
}

/**
 * What a method built on locally aware patch features (PatchCore, SimpleNet) configures about them.
 */
export interface PatchFeatureConfig {
  readonly backbone: string;
  /** Backbone taps; the first sets the patch grid (analogue of WRN50 layer2 + layer3). */
  readonly taps: readonly string[];
  /** Model input size (multiples of the backbone's size multiple). */
  readonly height: number;
  readonly width: number;
  readonly resize: ResizeMode;
  readonly patchSize: number;
  /** Per-tap adaptive-pooling dimension ("pretrain_embed_dimension"). */
  readonly pretrainDim: number;
  /** Patch feature dimension ("target_embed_dimension"). */
  readonly targetDim: number;
  /**
   * Use the backbone's measured cell offsets (TF "SAME" padding) when aligning taps and upsampling maps;
   * false is the reference code's PyTorch geometry.
   */
  readonly alignOffsets: boolean;
}

/** The official PatchCore/SimpleNet patch features on this project's default backbone (dims per method). */
export const PATCH_FEATURE_DEFAULTS: Omit<PatchFeatureConfig, 'pretrainDim' | 'targetDim'> = {
  backbone: 'mobilenet_v2_features',
  taps: ['feat_s8_exp', 'feat_s16_exp'],
  height: 256,
  width: 256,
  resize: 'stretch',
  patchSize: 3,
  alignOffsets: true,
};

export interface EmbeddingConfig {
  readonly patchSize: number;
  readonly pretrainDim: number;
  readonly targetDim: number;
}

/** Row i averages input elements [floor(i·L/O), ceil((i+1)·L/O)) — PyTorch adaptive_avg_pool1d. */
export function adaptivePoolWindows(inputLength: number, outputLength: number): Array<[number, number]> {
  const windows: Array<[number, number]> = [];
  for (let i = 0; i < outputLength; i++) {
    windows.push([Math.floor((i * inputLength) / outputLength), Math.ceil(((i + 1) * inputLength) / outputLength)]);
  }
  return windows;
}

interface TapConv {
  /** First and one-past-last output channel this tap contributes to. */
  readonly rows: readonly [number, number];
  /** Conv weight [rows, channels, p, p]. */
  readonly weight: Float32Array;
}

/** The folded convolution of each tap: which target channels it feeds and with which weights. */
export function foldedTapConvolutions(taps: readonly EmbeddingTap[], config: EmbeddingConfig): TapConv[] {
  const { patchSize: p, pretrainDim: P, targetDim: T } = config;
  const aggregate = adaptivePoolWindows(taps.length * P, T);
  return taps.map((tap, l) => {
    const unfolded = tap.channels * p * p;
    const perTap = adaptivePoolWindows(unfolded, P);
    // target rows whose aggregate window touches this tap's block [l·P, (l+1)·P)
    let first = T;
    let last = 0;
    aggregate.forEach(([a, b], k) => {
      if (a < (l + 1) * P && b > l * P) {
        first = Math.min(first, k);
        last = Math.max(last, k + 1);
      }
    });
    const weight = new Float32Array((last - first) * unfolded);
    for (let k = first; k < last; k++) {
      const [a, b] = aggregate[k]!;
      for (let j = Math.max(a, l * P); j < Math.min(b, (l + 1) * P); j++) {
        const [u0, u1] = perTap[j - l * P]!;
        const w = 1 / (b - a) / (u1 - u0);
        // unfolded index u = c·p² + r·p + s is exactly the flat index of weight[k][c][r][s]
        const row = (k - first) * unfolded;
        for (let u = u0; u < u1; u++) weight[row + u]! += w;
      }
    }
    return { rows: [first, last] as const, weight };
  });
}

/**
 * A folded convolution's rows each read a window of a few unfolded entries (c·p² + r·p + s), so a
 * few neighbouring channels: slot i of row k is channel firstChannel(k) + i with its p×p weights (zero
 * past the row's last channel). Gathering each slot's channels and convolving them depthwise computes
 * the same sums as the dense convolution with a few multiplications per output instead of C·p².
 */
export function sparseTapConvolution(conv: TapConv, channels: number, p: number): { slots: Array<{ channels: BigInt64Array; weight: Float32Array }> } {
  const rows = conv.rows[1] - conv.rows[0];
  const kernel = p * p;
  const span = { first: new Int32Array(rows), count: 0 };
  for (let k = 0; k < rows; k++) {
    let first = -1;
    let last = -1;
    for (let c = 0; c < channels; c++) {
      const at = (k * channels + c) * kernel;
      if (conv.weight.subarray(at, at + kernel).some((v) => v !== 0)) {
        if (first < 0) first = c;
        last = c;
      }
    }
    span.first[k] = Math.max(first, 0);
    span.count = Math.max(span.count, last - first + 1);
  }
  const slots = Array.from({ length: span.count }, (_, i) => {
    const picked = new BigInt64Array(rows);
    const weight = new Float32Array(rows * kernel);
    for (let k = 0; k < rows; k++) {
      const c = span.first[k]! + i;
      picked[k] = BigInt(Math.min(c, channels - 1));
      if (c < channels) weight.set(conv.weight.subarray((k * channels + c) * kernel, (k * channels + c + 1) * kernel), k * kernel);
    }
    return { channels: picked, weight };
  });
  return { slots };
}

/** The sparse form is used when a row reads at most this fraction of a tap's channels. */
const SPARSE_ADVANTAGE = 8;

/**
 * Graph: inputs are the taps [N, C, H, W] (first tap sets the grid) and, for every later tap, its
 * alignment matrices (see tap-alignment.ts); output `embedding` is [N, H·W, targetDim] with positions in
 * row-major order.
 */
export function buildPatchEmbeddingGraph(taps: readonly EmbeddingTap[], config: EmbeddingConfig): Uint8Array {
  const g = new GraphBuilder('patch_embedding');
  const p = config.patchSize;
  const pad = Math.floor((p - 1) / 2);
  const convs = foldedTapConvolutions(taps, config);
  const parts = taps.map((tap, l) => {
    const x = g.input(tap.name, 'float32', ['n', tap.channels, `h${l}`, `w${l}`]);
    const { rows, weight } = convs[l]!;
    const pads = ints([pad, pad, p - 1 - pad, p - 1 - pad]);
    const sparse = sparseTapConvolution(convs[l]!, tap.channels, p);
    let y: string;
    if (sparse.slots.length * SPARSE_ADVANTAGE <= tap.channels) {
      // each target row reads a few neighbouring channels: per slot, gather them and convolve depthwise
      const out = rows[1] - rows[0];
      const slots = sparse.slots.map((s, i) => {
        const picked = g.op('Gather', [x, g.initializer(`c_${tap.name}_${i}`, 'int64', [out], s.channels)], { axis: int(1) });
        const w = g.initializer(`w_${tap.name}_${i}`, 'float32', [out, 1, p, p], s.weight);
        return g.op('Conv', [picked, w], { kernel_shape: ints([p, p]), pads, group: int(out) });
      });
      y = slots.length === 1 ? slots[0]! : g.op('Sum', slots);
    } else {
      const w = g.initializer(`w_${tap.name}`, 'float32', [rows[1] - rows[0], tap.channels, p, p], weight);
      y = g.op('Conv', [x, w], { kernel_shape: ints([p, p]), pads });
    }
    if (l > 0) y = alignToFirstTap(g, y, tap.name);
    return y;
  });
  // taps that feed consecutive, disjoint target rows are stacked; overlapping ones padded and summed
  const tiled = convs.every((c, l) => c.rows[0] === (l === 0 ? 0 : convs[l - 1]!.rows[1])) && convs[convs.length - 1]!.rows[1] === config.targetDim;
  const summed = parts.length === 1 && tiled
    ? parts[0]!
    : tiled
      ? g.op('Concat', parts, { axis: int(1) })
      : g.op('Sum', parts.map((y, l) => g.op('Pad', [y, g.constI64([0, convs[l]!.rows[0], 0, 0, 0, config.targetDim - convs[l]!.rows[1], 0, 0])])));
  // [N, D, H, W] -> [N, H·W, D]
  const flat = g.op('Reshape', [summed, g.constI64([0, config.targetDim, -1])]);
  g.op('Transpose', [flat], { perm: ints([0, 2, 1]) }, 'embedding');
  g.output('embedding', 'float32', ['n', 'hw', config.targetDim]);
  return g.toModel(13);
}

/** [N, C, h, w] -> [N, C, H, W] through the tap's row and column alignment matrices (graph inputs). */
export function alignToFirstTap(g: GraphBuilder, x: string, tap: string): string {
  const names = alignmentInputNames(tap);
  const rows = g.input(names.rows, 'float32', ['H', `h_${tap}`]);
  const cols = g.input(names.cols, 'float32', [`w_${tap}`, 'W']);
  return g.op('MatMul', [rows, g.op('MatMul', [x, cols])]);
}
