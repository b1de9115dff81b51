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
 * - CFLOW-AD (§8.4 "negative log-likelihood"): per tap t, s_q = softplus(maxℓ_t − ℓ_q) with ℓ the flow's
 *   per-dimension log-likelihood of the fibre at q conditioned on the position encoding of q's cell in
 *   the full image's grid, maxℓ_t the model's calibration maximum (ours: the plain per-dimension NLL
 *   relative to the normal maximum, clipped smoothly at 0, so a position scores ≥ 0 and ≈ its excess
 *   NLL when anomalous). Each tap is scored on its own grid (s8, s16, s32) and the taps are summed with
 *   weights (s_t / s_0)² / T (area per position, averaged over the T taps, as CFLOW's map sums the
 *   taps' upsampled maps with equal weight per pixel).
 *
 * L = scale · Σ_hw w_hw s_hw, with w_hw the positions counted (those near the optimised region) and
 * the scale set by refine.ts (stride² / mean score of the counted positions at Y0), so that L is an
 * energy per pixel comparable across detectors (ours).
 */
import { GraphBuilder, int, ints } from '../engine/onnx/graph.ts';
import { f32, ort } from '../engine/session.ts';
import { getBackbone, type FeatureTap } from '../features/backbones.ts';
import { foldedTapConvolutions, alignToFirstTap } from '../features/patch-embedding.ts';
import { alignmentFeeds } from '../features/tap-alignment.ts';
import type { PatchCoreModel } from '../methods/patchcore/model.ts';
import type { PadimModel } from '../methods/padim/model.ts';
import type { CflowModel } from '../methods/cflow/model.ts';
import { emitFlowLogLikelihood, flowShape } from '../methods/cflow/flow.ts';
import { positionEncodingRows } from '../features/position-encoding.ts';
import { k, minAlong, sq, sumAll } from './graph-util.ts';
import type { DataTerm, FeatureTerm } from './objective.ts';
import type { Box } from './inpaint.ts';

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

export class PatchCoreTerm implements FeatureTerm {
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

  score(g: GraphBuilder, taps: Readonly<Record<string, string>>): string {
    return this.loss(g, this.features(g, taps));
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

export class PadimTerm implements FeatureTerm {
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

  score(g: GraphBuilder, taps: Readonly<Record<string, string>>): string {
    return this.loss(g, this.features(g, taps));
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

/** The counted positions and conditions of one crop for CflowTerm, and their weighted count. */
export interface CflowCropFeeds {
  readonly feeds: Record<string, ort.Tensor>;
  /** Σ_t w_t·|Q_t|: the number of stride-s_0 positions the data term sums over, in effect. */
  readonly counted: number;
  /** Counted positions per tap (indices into the crop's grid of that tap, row-major). */
  readonly positions: readonly (readonly number[])[];
}

/**
 * CFLOW-AD's data term: the flows' NLL of the counted fibres of every tap (see the file comment).
 * Inputs per tap t (name = the tap's): `positions.<t>` [Q_t] int64, `cond.<t>` [Q_t, P] (the position
 * encoding of those cells in the full image's grid), and data_scale.
 */
export class CflowTerm implements DataTerm {
  readonly name = 'cflow';
  readonly backbone: string;
  readonly taps: readonly string[];
  /** The first (finest) tap's stride: the unit of the data scale. */
  readonly stride: number;
  readonly tapSpecs: readonly FeatureTap[];
  /** Weight (s_t / s_0)² / T of tap t's sum. */
  readonly weights: readonly number[];
  /** maxℓ_t of the calibration (0 when the model has none). */
  readonly maxLogLikelihood: readonly number[];
  /** The position-encoding rows [gridH·gridW, P] of each tap's full-image grid (the flows' training conditions). */
  private readonly conditions: readonly Float32Array[];

  constructor(readonly model: CflowModel) {
    const cfg = model.config;
    this.backbone = cfg.backbone;
    this.taps = cfg.taps;
    this.tapSpecs = tapsOf(this.backbone, this.taps);
    this.stride = Math.min(...this.tapSpecs.map((t) => t.stride));
    const T = this.tapSpecs.length;
    this.weights = this.tapSpecs.map((t) => (t.stride / this.stride) ** 2 / T);
    this.maxLogLikelihood = this.taps.map((t) => model.normalisation?.maxLogLikelihood[t] ?? 0);
    this.conditions = model.grids.map((grid) => positionEncodingRows(cfg.condition, grid.gridH, grid.gridW));
  }

  score(g: GraphBuilder, taps: Readonly<Record<string, string>>): string {
    const cfg = this.model.config;
    const scale = g.input('data_scale', 'float32', []);
    let total: string | undefined;
    this.tapSpecs.forEach((tap, t) => {
      const C = tap.channels;
      const shape = flowShape(C, cfg.condition, cfg.blocks);
      const rows = positionsByChannels(g, taps[tap.name]!, C);
      // Reshape after Gather: the rank inference of backward() does not know Gather
      const counted = g.op('Reshape', [g.op('Gather', [rows, g.input(`positions.${tap.name}`, 'int64', [`q_${t}`])], { axis: int(0) }), g.constI64([-1, C])]);
      const cond = g.input(`cond.${tap.name}`, 'float32', [`q_${t}`, cfg.condition]);
      const flow = this.model.flows[t]!;
      const made = new Map<string, string>();
      // the fitted parameters and rotations as initialisers (the flow's training form, emitted by flow.ts)
      const value = (n: string): string => {
        const v = flow.params.get(n) ?? flow.rotations.get(n);
        if (!v) throw new RangeError(`CFLOW-AD flow of ${tap.name} lacks '${n}'`);
        if (!made.has(n)) made.set(n, g.initializer(g.fresh(`cflow_${t}_${n}`), 'float32', v.dims, v.data));
        return made.get(n)!;
      };
      const ll = emitFlowLogLikelihood(g, shape, cfg.clamp, counted, cond, value);
      const s = g.op('Softplus', [g.op('Sub', [k(g, this.maxLogLikelihood[t]!), ll])]);
      const part = g.op('Mul', [k(g, this.weights[t]!), sumAll(g, s)]);
      total = total ? g.op('Add', [total, part]) : part;
    });
    return g.op('Mul', [scale, total!]);
  }

  /**
   * Feeds of a crop (model-input pixels, corners multiples of the coarsest stride): per tap the cells
   * whose centre (measured tap offset included) lies where `near` (W × H) is set, else — should a tap
   * have none — the cell nearest the crop's centre; with their conditions, the position encoding at
   * the cell's index in the full image's grid (crop offset / stride added).
   */
  cropFeeds(crop: Box, near: Uint8Array, W: number, H: number): CflowCropFeeds {
    const P = this.model.config.condition;
    const ch = crop.y1 - crop.y0;
    const cw = crop.x1 - crop.x0;
    const feeds: Record<string, ort.Tensor> = {};
    const all: number[][] = [];
    let counted = 0;
    this.tapSpecs.forEach((tap, t) => {
      const s = tap.stride;
      const grid = this.model.grids[t]!;
      if (crop.x0 % s || crop.y0 % s || ch % s || cw % s) throw new RangeError(`crop ${cw}x${ch} at (${crop.x0}, ${crop.y0}) is not on the stride-${s} grid`);
      const gh = ch / s;
      const gw = cw / s;
      const gy = crop.y0 / s;
      const gx = crop.x0 / s;
      const centre = (i: number, j: number) => ({
        cy: Math.min(H - 1, Math.max(0, Math.round(crop.y0 + s * i + (s - 1) / 2 + tap.offset.y))),
        cx: Math.min(W - 1, Math.max(0, Math.round(crop.x0 + s * j + (s - 1) / 2 + tap.offset.x))),
      });
      const positions: number[] = [];
      for (let i = 0; i < gh; i++) for (let j = 0; j < gw; j++) {
        const { cy, cx } = centre(i, j);
        if (near[cy * W + cx]) positions.push(i * gw + j);
      }
      if (positions.length === 0) positions.push(Math.floor(gh / 2) * gw + Math.floor(gw / 2));
      const cond = new Float32Array(positions.length * P);
      positions.forEach((p, q) => {
        const row = (gy + Math.floor(p / gw)) * grid.gridW + gx + (p % gw);
        cond.set(this.conditions[t]!.subarray(row * P, (row + 1) * P), q * P);
      });
      feeds[`positions.${tap.name}`] = new ort.Tensor('int64', BigInt64Array.from(positions, (p) => BigInt(p)), [positions.length]);
      feeds[`cond.${tap.name}`] = f32(cond, [positions.length, P]);
      counted += this.weights[t]! * positions.length;
      all.push(positions);
    });
    return { feeds, counted, positions: all };
  }
}

export type SupportedTerm = PatchCoreTerm | PadimTerm | CflowTerm;

/** Alignment matrices of the term's taps for a crop of h × w pixels (the model's own geometry; none for CFLOW, whose taps are scored on their own grids). */
export function alignmentFor(term: SupportedTerm, h: number, w: number): Record<string, ort.Tensor> {
  if (term instanceof CflowTerm) return {};
  const mode = term instanceof PatchCoreTerm ? 'bilinear' : 'nearest';
  return alignmentFeeds(term.tapSpecs, h, w, mode, term.model.config.alignOffsets);
}
