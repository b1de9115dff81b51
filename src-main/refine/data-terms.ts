/**
 * Per-detector data terms L(Y) of F2PAD (METHODS.md §8.4), as `DataTerm` plug-ins of objective.ts, and
 * the per-crop feeds they need. Each writes the detector's own feature head after the backbone taps
 * (the same folded convolutions / channel selection the detector uses, so features are identical to
 * the fitted model's), then its anomaly score summed over the crop's feature positions:
 *
 * - PatchCore (seed eq. 5): s_hw = min over the candidate set N_hw of ‖f_hw − m‖₂, N_hw = the k nearest
 *   memory-bank vectors of the initial estimate Y0's feature at (h, w).
 * - PaDiM (seed eq. 7): s_hw = (f_hw − μ_hw)ᵀ Σ_hw⁻¹ (f_hw − μ_hw), with the fitted per-position mean
 *   and whitening factor.
 *
 * L = scale · Σ_hw w_hw s_hw, with w_hw the positions counted (those near the optimised region) and
 * scale = stride² / s_ref (s_ref a typical normal score of the model), so that L is an energy per pixel
 * comparable across detectors (ours).
 */
import { GraphBuilder, int, ints } from '../engine/onnx/graph.ts';
import { f32, type ort } from '../engine/session.ts';
import { getBackbone, type FeatureTap } from '../features/backbones.ts';
import { foldedTapConvolutions, alignToFirstTap } from '../features/patch-embedding.ts';
import { alignmentFeeds } from '../features/tap-alignment.ts';
import type { PatchCoreModel } from '../methods/patchcore/model.ts';
import type { PadimModel } from '../methods/padim/model.ts';
import { minAlong, sq, sumAll } from './graph-util.ts';
import type { DataTerm } from './objective.ts';

function tapsOf(backbone: string, names: readonly string[]): FeatureTap[] {
  const spec = getBackbone(backbone);
  return names.map((n) => {
    const t = spec.outputs.find((o) => o.name === n);
    if (!t) throw new RangeError(`backbone '${backbone}' has no tap '${n}'`);
    return t;
  });
}

/** Flattens [1, D, h, w] to [P, D] (positions row-major). */
function positionsByChannels(g: GraphBuilder, t: string, D: number): string {
  return g.op('Transpose', [g.op('Reshape', [t, g.constI64([D, -1])])], { perm: ints([1, 0]) });
}

export class PatchCoreTerm implements DataTerm {
  readonly name = 'patchcore';
  readonly backbone: string;
  readonly taps: readonly string[];
  readonly stride: number;
  readonly tapSpecs: readonly FeatureTap[];

  constructor(readonly model: PatchCoreModel) {
    this.backbone = model.config.backbone;
    this.taps = model.config.taps;
    this.tapSpecs = tapsOf(this.backbone, this.taps);
    this.stride = this.tapSpecs[0]!.stride;
  }

  features(g: GraphBuilder, taps: Readonly<Record<string, string>>): string {
    const cfg = this.model.config;
    const p = cfg.patchSize;
    const pad = Math.floor((p - 1) / 2);
    const D = cfg.targetDim;
    const convs = foldedTapConvolutions(this.tapSpecs, cfg);
    // the taps' target rows are disjoint and contiguous at the defaults: then the sum is a Concat
    const order = convs.map((cv, l) => ({ ...cv, l })).sort((x, y) => x.rows[0] - y.rows[0]);
    const contiguous = order[0]!.rows[0] === 0 && order.at(-1)!.rows[1] === D && order.every((cv, i) => i === 0 || cv.rows[0] === order[i - 1]!.rows[1]);
    const parts = order.map(({ rows, weight, l }) => {
      const tap = this.tapSpecs[l]!;
      const rowsN = rows[1] - rows[0];
      let w = weight;
      let outRows = rowsN;
      if (!contiguous) {
        w = new Float32Array(D * tap.channels * p * p);
        w.set(weight, rows[0] * tap.channels * p * p);
        outRows = D;
      }
      let y = g.op('Conv', [taps[tap.name]!, g.constF32(w, [outRows, tap.channels, p, p])], { kernel_shape: ints([p, p]), pads: ints([pad, pad, p - 1 - pad, p - 1 - pad]) });
      if (l > 0) y = alignToFirstTap(g, y, tap.name);
      return y;
    });
    const f = contiguous ? (parts.length === 1 ? parts[0]! : g.op('Concat', parts, { axis: int(1) })) : parts.reduce((s, t) => g.op('Add', [s, t]));
    return positionsByChannels(g, f, D);
  }

  /** Inputs: positions [Q] (int64 indices of the counted positions), candidates [Q, k, D], data_scale. */
  loss(g: GraphBuilder, features: string): string {
    const D = this.model.config.targetDim;
    // Reshape after Gather: the rank inference of backward() does not know Gather
    const counted = g.op('Reshape', [g.op('Gather', [features, g.input('positions', 'int64', ['q'])], { axis: int(0) }), g.constI64([-1, D])]);
    const cand = g.input('candidates', 'float32', ['q', 'k', D]);
    const scale = g.input('data_scale', 'float32', []);
    const diff = g.op('Sub', [g.op('Unsqueeze', [counted, g.constI64([1])]), cand]);
    const d2 = g.op('ReduceSum', [sq(g, diff), g.constI64([2])], { keepdims: int(0) });
    const dist = g.op('Sqrt', [g.op('Add', [d2, g.constF32([1e-8], [])])]);
    return g.op('Mul', [scale, sumAll(g, minAlong(g, dist, 1))]);
  }

  /** A typical normal position's score (‖f − m‖ of training patches: the square root of the map median). */
  get referenceScore(): number {
    const median = this.model.trainingScores?.pixelMedian;
    return median && median > 0 ? Math.sqrt(median) : 1;
  }
}

export class PadimTerm implements DataTerm {
  readonly name = 'padim';
  readonly backbone: string;
  readonly taps: readonly string[];
  readonly stride: number;
  readonly tapSpecs: readonly FeatureTap[];
  readonly channels: readonly number[];

  constructor(readonly model: PadimModel) {
    this.backbone = model.config.backbone;
    this.taps = model.config.taps;
    this.tapSpecs = tapsOf(this.backbone, this.taps);
    this.stride = this.tapSpecs[0]!.stride;
    const described = model.describe()['channelIndices'];
    if (!Array.isArray(described)) throw new RangeError('PaDiM model does not report its channel indices');
    this.channels = described as number[];
  }

  features(g: GraphBuilder, taps: Readonly<Record<string, string>>): string {
    const parts: string[] = [];
    let base = 0;
    this.tapSpecs.forEach((tap, l) => {
      const mine = this.channels.filter((c) => c >= base && c < base + tap.channels).map((c) => c - base);
      base += tap.channels;
      if (mine.length === 0) return;
      // channel selection as a 1×1 convolution with a 0/1 weight (Conv has a gradient rule; Gather has not)
      const w = new Float32Array(mine.length * tap.channels);
      mine.forEach((c, i) => (w[i * tap.channels + c] = 1));
      let y = g.op('Conv', [taps[tap.name]!, g.constF32(w, [mine.length, tap.channels, 1, 1])], { kernel_shape: ints([1, 1]) });
      if (l > 0) y = alignToFirstTap(g, y, tap.name);
      parts.push(y);
    });
    const cat = parts.length === 1 ? parts[0]! : g.op('Concat', parts, { axis: int(1) });
    return positionsByChannels(g, cat, this.channels.length);
  }

  /** Inputs: positions [Q] (int64 indices of the counted positions), mean [Q, 1, d], whitening [Q, d, d], data_scale. */
  loss(g: GraphBuilder, features: string): string {
    const d = this.channels.length;
    const counted = g.op('Reshape', [g.op('Gather', [features, g.input('positions', 'int64', ['q'])], { axis: int(0) }), g.constI64([-1, d])]);
    const mean = g.input('mean', 'float32', ['q', 1, d]);
    const whitening = g.input('whitening', 'float32', ['q', d, d]);
    const scale = g.input('data_scale', 'float32', []);
    const diff = g.op('Sub', [g.op('Unsqueeze', [counted, g.constI64([1])]), mean]);
    const z = g.op('MatMul', [diff, whitening]);
    const s = g.op('ReduceSum', [sq(g, z), g.constI64([1, 2])], { keepdims: int(0) });
    return g.op('Mul', [scale, sumAll(g, s)]);
  }

  /** A typical normal position's squared Mahalanobis distance (the square of the map median). */
  get referenceScore(): number {
    const median = this.model.trainingScores?.pixelMedian;
    return median && median > 0 ? median * median : 1;
  }

  /**
   * The fitted mean and whitening factor of the counted positions (indices into the crop's grid, whose
   * top-left cell is (gy, gx) of the model's grid and which is gw cells wide).
   */
  cropStatistics(gy: number, gx: number, gw: number, positions: readonly number[]): { mean: ort.Tensor; whitening: ort.Tensor } {
    const d = this.channels.length;
    const { h: H, w: W } = this.model.grid;
    const Q = positions.length;
    const mean = new Float32Array(Q * d);
    const whitening = new Float32Array(Q * d * d);
    positions.forEach((p, dst) => {
      const i = Math.floor(p / gw);
      const j = p % gw;
      if (gy + i >= H || gx + j >= W) throw new RangeError('crop outside the PaDiM grid');
      const src = (gy + i) * W + (gx + j);
      mean.set(this.model.stats.mean.subarray(src * d, (src + 1) * d), dst * d);
      whitening.set(this.model.stats.whitening.subarray(src * d * d, (src + 1) * d * d), dst * d * d);
    });
    return { mean: f32(mean, [Q, 1, d]), whitening: f32(whitening, [Q, d, d]) };
  }
}

export type SupportedTerm = PatchCoreTerm | PadimTerm;

/** Alignment matrices of the term's taps for a crop of h × w pixels (the model's own geometry). */
export function alignmentFor(term: SupportedTerm, h: number, w: number): Record<string, ort.Tensor> {
  const mode = term instanceof PatchCoreTerm ? 'bilinear' : 'nearest';
  return alignmentFeeds(term.tapSpecs, h, w, mode, term.model.config.alignOffsets);
}
