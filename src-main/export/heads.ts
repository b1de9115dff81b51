/**
 * The head graph of an exported model: the backbone taps in, the anomaly map at the model's input size
 * (`map` [1, H, W]) and the image score (`score` [1]) out, every parameter an initialiser. Each method's
 * head is assembled from the graphs the station scores with (inlined), plus the steps the station
 * does in JS written as graph nodes: PatchCore's neighbour search and re-weighting, PFM's row
 * normalisation, CFLOW's normalisation constants, and every method's map resampling. A tiled model's
 * head is its inner model's head applied to every tile, then the station's stitching; a per-position
 * normalised model's is its detector's head, then the normalisation.
 */
import { stitchMaps, TiledModel, tileCount, type TileGrid } from '../methods/tiling.ts';
import { GraphBuilder, float, int, ints, ONNX_DATA_TYPE } from '../engine/onnx/graph.ts';
import { importModel } from '../engine/onnx/importer.ts';
import { featureTap, getBackbone, type FeatureTap } from '../features/backbones.ts';
import { buildPatchEmbeddingGraph } from '../features/patch-embedding.ts';
import { alignmentFeeds, type AlignMode } from '../features/tap-alignment.ts';
import { anomalyMapFromPatches } from '../methods/anomaly-map.ts';
import { CflowModel, cflowScoringGraph } from '../methods/cflow/model.ts';
import type { FittedModel } from '../methods/method.ts';
import { buildMahalanobisGraph, buildPadimEmbeddingGraph } from '../methods/padim/graphs.ts';
import { PadimModel } from '../methods/padim/model.ts';
import { rowSquaredNorms } from '../methods/patchcore/nn-search.ts';
import { PatchCoreModel } from '../methods/patchcore/model.ts';
import { PfmModel } from '../methods/pfm/model.ts';
import { PositionNormModel } from '../methods/position-norm.ts';
import { buildScoringGraph as pfmScoringGraph, errorOutput, sourceFeed, targetFeed } from '../methods/pfm/network.ts';
import { buildScoringGraph as simplenetScoringGraph } from '../methods/simplenet/graphs.ts';
import { SimpleNetModel } from '../methods/simplenet/model.ts';
import { upsampleBilinear, upsampleBilinearAlignCorners } from '../vision/index.ts';
import { constantOf, EXPORT_OPSET, inlineGraph, mapFromGrid, maxOf, toRows, type MapFunction } from './compose.ts';

/** A backbone the head reads: its taps are fed to the head as `<role>/<tap>`. */
export interface HeadBackbone {
  readonly role: 'backbone' | 'source' | 'target';
  readonly id: string;
  readonly taps: readonly string[];
}

export interface Head {
  readonly graph: Uint8Array;
  readonly backbones: readonly HeadBackbone[];
  /** Arithmetic of the scoring part ('int8': dynamically quantised matrix products, as the station scores). */
  readonly precision: 'float32' | 'int8';
}

export const headInput = (role: string, tap: string): string => `${role}/${tap}`;

interface TapInputs {
  readonly taps: readonly FeatureTap[];
  /** Value name of each tap, by tap name. */
  readonly values: Record<string, string>;
}

function tapInputs(g: GraphBuilder, role: HeadBackbone['role'], backbone: string, names: readonly string[], height: number, width: number): TapInputs {
  const spec = getBackbone(backbone);
  const taps = names.map((n) => featureTap(spec, n));
  const values: Record<string, string> = {};
  for (const t of taps) values[t.name] = g.input(headInput(role, t.name), 'float32', [1, t.channels, height / t.stride, width / t.stride]);
  return { taps, values };
}

/** The alignment matrices of the taps after the first, as initialisers, by their graph input names. */
function alignmentConstants(g: GraphBuilder, taps: readonly FeatureTap[], height: number, width: number, mode: AlignMode, useOffsets: boolean): Record<string, string> {
  return Object.fromEntries(Object.entries(alignmentFeeds(taps, height, width, mode, useOffsets)).map(([name, t]) => [name, constantOf(g, 'align', t)]));
}

function finish(g: GraphBuilder, map: string, score: string, height: number, width: number): Uint8Array {
  g.op('Identity', [map], {}, 'map');
  g.op('Identity', [score], {}, 'score');
  g.output('map', 'float32', [1, height, width]);
  g.output('score', 'float32', [1]);
  return g.toModel(EXPORT_OPSET);
}

/** Locally aware patch features (PatchCore, SimpleNet): [hw, D] rows on the first tap's grid. */
function patchFeatures(g: GraphBuilder, m: PatchCoreModel | SimpleNetModel): { rows: string; gridH: number; gridW: number; first: FeatureTap } {
  const c = m.config;
  const { taps, values } = tapInputs(g, 'backbone', c.backbone, c.taps, c.height, c.width);
  const embedding = buildPatchEmbeddingGraph(taps, { patchSize: c.patchSize, pretrainDim: c.pretrainDim, targetDim: c.targetDim });
  const feeds = { ...values, ...alignmentConstants(g, taps, c.height, c.width, 'bilinear', c.alignOffsets) };
  const out = inlineGraph(g, embedding, feeds, 'embedding');
  const first = taps[0]!;
  return { rows: g.op('Reshape', [out['embedding']!, g.constI64([-1, c.targetDim])]), gridH: c.height / first.stride, gridW: c.width / first.stride, first };
}

function patchMap(m: PatchCoreModel | SimpleNetModel | PadimModel, first: FeatureTap): MapFunction {
  return (grid, gridW, gridH) => anomalyMapFromPatches(grid, gridW, gridH, m.config, first.stride, first.offset);
}

function patchcoreHead(m: PatchCoreModel): Head {
  const g = new GraphBuilder('argus_patchcore_head');
  const c = m.config;
  const { rows: q, gridH, gridW, first } = patchFeatures(g, m);
  const D = m.index.dim;
  const bank = g.initializer('memory_bank', 'float32', [m.index.size, D], m.index.bank);
  const bankSq = g.initializer('memory_bank_sq', 'float32', [m.index.size], rowSquaredNorms(m.index.bank, D));
  // squared distances to the k nearest entries, as the station's search: ‖q‖² + ‖m‖² − 2·q·m
  const k = Math.min(Math.max(1, c.numNeighbours), m.index.size);
  const ranked = g.op('Gemm', [q, bank, bankSq], { alpha: float(-2), beta: float(1), transB: int(1) });
  const [partial, nearest] = g.node('TopK', [ranked, g.constI64([k])], { largest: int(0), sorted: int(1) }, 2) as [string, string];
  const qSq = g.op('ReduceSumSquare', [q], { axes: ints([1]), keepdims: int(1) });
  const distances = g.op('Relu', [g.op('Add', [partial, qSq])]);
  const patch = g.op('ReduceMean', [distances], { axes: ints([1]), keepdims: int(0) });
  let score = maxOf(g, patch);
  if (c.reweightNeighbours > 0) score = g.op('Mul', [score, reweighting(g, q, patch, nearest, bank, bankSq, Math.min(c.reweightNeighbours, m.index.size))]);
  const map = mapFromGrid(g, g.op('Reshape', [patch, g.constI64([1, gridH, gridW])]), patchMap(m, first), gridH, gridW, c.height, c.width);
  return { graph: finish(g, map, score, c.height, c.width), backbones: [{ role: 'backbone', id: c.backbone, taps: c.taps }], precision: 'float32' };
}

/**
 * PatchCore paper eq. 7 as the station computes it: 1 − softmax weight of the worst patch's nearest
 * memory entry among that entry's own `k` nearest entries (Euclidean distances to the query).
 */
function reweighting(g: GraphBuilder, q: string, patch: string, nearest: string, bank: string, bankSq: string, k: number): string {
  const worst = g.op('ArgMax', [patch], { axis: int(0), keepdims: int(1) });
  const query = g.op('Gather', [q, worst], { axis: int(0) });
  const entry = g.op('Reshape', [g.op('Slice', [g.op('Gather', [nearest, worst], { axis: int(0) }), g.constI64([0]), g.constI64([1]), g.constI64([1])]), g.constI64([1])]);
  const entryRow = g.op('Gather', [bank, entry], { axis: int(0) });
  const ranked = g.op('Gemm', [entryRow, bank, bankSq], { alpha: float(-2), beta: float(1), transB: int(1) });
  const [, hood] = g.node('TopK', [ranked, g.constI64([k])], { largest: int(0), sorted: int(1) }, 2) as [string, string];
  const neighbours = g.op('Gather', [bank, g.op('Reshape', [hood, g.constI64([-1])])], { axis: int(0) });
  const euclid = (rows: string) => g.op('Sqrt', [g.op('ReduceSumSquare', [g.op('Sub', [rows, query])], { axes: ints([1]), keepdims: int(0) })]);
  const ds = euclid(neighbours);
  const dNearest = euclid(entryRow);
  const top = g.op('Max', [dNearest, g.op('ReduceMax', [ds], { keepdims: int(1) })]);
  const denominator = g.op('ReduceSum', [g.op('Exp', [g.op('Sub', [ds, top])]), g.constI64([0])], { keepdims: int(1) });
  return g.op('Sub', [g.constF32([1], [1]), g.op('Div', [g.op('Exp', [g.op('Sub', [dNearest, top])]), denominator])]);
}

function padimHead(m: PadimModel): Head {
  const g = new GraphBuilder('argus_padim_head');
  const c = m.config;
  const channels = m.describe()['channelIndices'] as number[];
  const { taps, values } = tapInputs(g, 'backbone', c.backbone, c.taps, c.height, c.width);
  const feeds = { ...values, ...alignmentConstants(g, taps, c.height, c.width, 'nearest', c.alignOffsets) };
  const embedding = inlineGraph(g, buildPadimEmbeddingGraph(taps, channels), feeds, 'embedding')['embedding']!;
  const P = m.grid.h * m.grid.w;
  const d = c.channels;
  const distance = inlineGraph(g, buildMahalanobisGraph(), {
    x: embedding,
    mean: g.initializer('gaussian_mean', 'float32', [P, d], m.stats.mean),
    whitening: g.initializer('gaussian_whitening', 'float32', [P, d, d], m.stats.whitening),
  }, 'mahalanobis')['distance']!;
  const first = taps[0]!;
  const map = mapFromGrid(g, g.op('Reshape', [distance, g.constI64([1, m.grid.h, m.grid.w])]), patchMap(m, first), m.grid.h, m.grid.w, c.height, c.width);
  return { graph: finish(g, map, maxOf(g, map), c.height, c.width), backbones: [{ role: 'backbone', id: c.backbone, taps: c.taps }], precision: 'float32' };
}

async function simplenetHead(m: SimpleNetModel): Promise<Head> {
  const g = new GraphBuilder('argus_simplenet_head');
  const c = m.config;
  const { rows, gridH, gridW, first } = patchFeatures(g, m);
  const features = g.op('Reshape', [rows, g.constI64([1, gridH * gridW, c.targetDim])]);
  const scores = inlineGraph(g, await simplenetScoringGraph(c, m.weights), { features }, 'discriminator')['scores']!;
  const map = mapFromGrid(g, g.op('Reshape', [scores, g.constI64([1, gridH, gridW])]), patchMap(m, first), gridH, gridW, c.height, c.width);
  return { graph: finish(g, map, maxOf(g, scores), c.height, c.width), backbones: [{ role: 'backbone', id: c.backbone, taps: c.taps }], precision: 'float32' };
}

/**
 * Rows multiplied by 1 / max(‖row‖₂, 1e-12), as PFM's features.ts normalisedRows: in float64 like the
 * station, so the rows agree to the last bit. They feed int8 layers whose activation quantisation
 * would turn a last-bit difference into a whole quantisation step here and there.
 */
function normalisedRows(g: GraphBuilder, rows: string): string {
  const wide = g.op('Cast', [rows], { to: int(ONNX_DATA_TYPE.float64) });
  const norm = g.op('Sqrt', [g.op('ReduceSumSquare', [wide], { axes: ints([1]), keepdims: int(1) })]);
  const inverse = g.op('Div', [g.initializer(g.fresh('one'), 'float64', [], Float64Array.of(1)), g.op('Max', [norm, g.initializer(g.fresh('eps'), 'float64', [], Float64Array.of(1e-12))])]);
  return g.op('Cast', [g.op('Mul', [wide, inverse])], { to: int(ONNX_DATA_TYPE.float32) });
}

function pfmHead(m: PfmModel): Head {
  const g = new GraphBuilder(`argus_${m.method}_head`);
  const c = m.config;
  const tapsOf = (list: readonly string[]) => c.levels.map((l) => list[l - 1]!);
  const source = tapInputs(g, 'source', c.backbone, tapsOf(c.sourceTaps), c.height, c.width);
  const target = tapInputs(g, 'target', c.targetBackbone, tapsOf(c.targetTaps), c.height, c.width);
  const feeds: Record<string, string> = {};
  for (const l of m.spec.levels) {
    feeds[sourceFeed(l.level)] = normalisedRows(g, toRows(g, source.values[c.sourceTaps[l.level - 1]!]!, l.cs));
    feeds[targetFeed(l.level)] = normalisedRows(g, toRows(g, target.values[c.targetTaps[l.level - 1]!]!, l.ct));
  }
  const errors = inlineGraph(g, pfmScoringGraph(m.spec, m.weights, { precision: c.precision }), feeds, 'mapping');
  const maps = m.spec.levels.map((l) => {
    const grid = g.op('Reshape', [errors[errorOutput(l.level)]!, g.constI64([1, l.gridH, l.gridW])]);
    return mapFromGrid(g, grid, (x, w, h) => upsampleBilinear(x, w, h, c.width, c.height), l.gridH, l.gridW, c.height, c.width);
  });
  const map = maps.length === 1 ? maps[0]!
    : c.fusion === 'multiply' ? maps.slice(1).reduce((a, b) => g.op('Mul', [a, b]), maps[0]!)
      : g.op('Div', [g.op('Sum', maps), g.constF32([maps.length], [])]);
  return {
    graph: finish(g, map, maxOf(g, map), c.height, c.width),
    backbones: [{ role: 'source', id: c.backbone, taps: tapsOf(c.sourceTaps) }, { role: 'target', id: c.targetBackbone, taps: tapsOf(c.targetTaps) }],
    precision: c.precision,
  };
}

async function cflowHead(m: CflowModel): Promise<Head> {
  const g = new GraphBuilder('argus_cflow_head');
  const c = m.config;
  const norm = m.normalisation;
  if (!norm) throw new RangeError('this CFLOW-AD model has no normalisation constants; fit it again before exporting');
  const { values } = tapInputs(g, 'backbone', c.backbone, c.taps, c.height, c.width);
  const feeds = Object.fromEntries(m.grids.map((t) => [t.name, toRows(g, values[t.name]!, t.channels)]));
  const ll = inlineGraph(g, await cflowScoringGraph(c, m.flows, m.grids), feeds, 'flows');
  const parts = m.grids.map((t) => {
    const p = g.op('Exp', [g.op('Sub', [ll[`${t.name}:loglik`]!, g.constF32([norm.maxLogLikelihood[t.name]!], [])])]);
    const grid = g.op('Reshape', [p, g.constI64([1, t.gridH, t.gridW])]);
    return mapFromGrid(g, grid, (x, w, h) => upsampleBilinearAlignCorners(x, w, h, c.width, c.height), t.gridH, t.gridW, c.height, c.width);
  });
  const probability = parts.length === 1 ? parts[0]! : g.op('Sum', parts);
  const map = g.op('Sub', [g.constF32([norm.maxProbability], []), probability]);
  return { graph: finish(g, map, maxOf(g, map), c.height, c.width), backbones: [{ role: 'backbone', id: c.backbone, taps: c.taps }], precision: c.precision };
}

/**
 * A tiled model's head: its taps hold the canvas's k tiles as a batch ([k, C, h, w], the order of
 * cutTiles); the inner model's head scores each tile (inlined k times on one shared set of parameters,
 * one tile per copy: int8 heads quantise per tile as the station's inner model does), the tile maps
 * are blended into the canvas as stitchMaps does, and the score is the stitched map's maximum over the
 * picture, whose size the runner feeds as `content` [height, width] (the canvas is letterboxed).
 */
async function tiledHead(m: TiledModel): Promise<Head> {
  const inner = await buildHead(m.inner);
  const tileHead = importModel(inner.graph);
  const g = new GraphBuilder(`argus_${m.method}_tiled_head`);
  const { height, width } = m.input;
  const { grid } = m;
  const size = grid.size;
  const taps = tileHead.graph.inputs.map((i) => g.input(i.name, i.dtype, [tileCount(grid), ...(i.shape ?? []).slice(1)]));
  const content = g.input(TILED_CONTENT_INPUT, 'int64', [2]);
  const blend = blendWeights(grid, height, width);
  const toFloat64 = (x: string) => g.op('Cast', [x], { to: int(ONNX_DATA_TYPE.float64) });
  const placed: string[] = [];
  let t = 0;
  for (const top of grid.ys) {
    for (const left of grid.xs) {
      const at = g.constI64([t]);
      const feeds = Object.fromEntries(taps.map((name) => [name, g.op('Slice', [name, at, g.constI64([t + 1]), g.constI64([0])])]));
      const map = inlineGraph(g, tileHead, feeds, `tile${t}`, { outputs: ['map'], shared: 'tile' })['map']!;
      const share = g.initializer(g.fresh('blend'), 'float32', [1, size, size], blend[t]!);
      const weighted = g.op('Mul', [toFloat64(map), toFloat64(share)]);
      placed.push(g.op('Pad', [weighted, g.constI64([0, top, left, 0, height - top - size, width - left - size])]));
      t++;
    }
  }
  const map = g.op('Cast', [placed.length === 1 ? placed[0]! : g.op('Sum', placed)], { to: int(ONNX_DATA_TYPE.float32) });
  return { graph: finish(g, map, pictureMaxOf(g, map, content, height, width), height, width), backbones: inner.backbones, precision: inner.precision };
}

/**
 * The name of a tiled or per-position normalised head's extra input: the picture's [height, width] at
 * the top left of the canvas (the runners feed it where a head has it).
 */
const TILED_CONTENT_INPUT = 'content';

/**
 * A per-position normalised model's head: its detector's head (inlined, inputs passed through), the
 * map normalised by the stored mean and floored spread, and the score its maximum over the picture.
 */
async function positionNormHead(m: PositionNormModel): Promise<Head> {
  const inner = await buildHead(m.inner);
  const detector = importModel(inner.graph);
  const g = new GraphBuilder(`argus_${m.method}_position_norm_head`);
  const { height, width } = m.input;
  const feeds = Object.fromEntries(detector.graph.inputs.map((i) => [i.name, g.input(i.name, i.dtype, i.shape)]));
  const content = feeds[TILED_CONTENT_INPUT] ?? g.input(TILED_CONTENT_INPUT, 'int64', [2]);
  const raw = inlineGraph(g, detector, feeds, 'detector', { outputs: ['map'] })['map']!;
  const mean = g.initializer(g.fresh('mean'), 'float32', [1, height, width], m.statistics.mean);
  const scale = g.initializer(g.fresh('scale'), 'float32', [1, height, width], m.statistics.scale);
  const map = g.op('Div', [g.op('Sub', [raw, mean]), scale]);
  return { graph: finish(g, map, pictureMaxOf(g, map, content, height, width), height, width), backbones: inner.backbones, precision: inner.precision };
}

/**
 * Each tile's share of the stitched map (tile-sized), read off stitchMaps itself: stitching a map of
 * ones in tile t and zeros elsewhere gives tile t's blending weight over the summed weights. The head
 * sums map × share in float64, as stitchMaps sums.
 */
function blendWeights(grid: TileGrid, height: number, width: number): Float32Array[] {
  const k = tileCount(grid);
  const size = grid.size;
  const origins = grid.ys.flatMap((top) => grid.xs.map((left) => ({ top, left })));
  return origins.map(({ top, left }, t) => {
    const unit = Array.from({ length: k }, (_, i) => new Float32Array(size * size).fill(i === t ? 1 : 0));
    const share = stitchMaps(unit, grid, height, width);
    const out = new Float32Array(size * size);
    for (let y = 0; y < size; y++) out.set(share.subarray((top + y) * width + left, (top + y) * width + left + size), y * size);
    return out;
  });
}

/** The largest value of `map` [1, height, width] over its top-left content.height × content.width window, as [1]. */
function pictureMaxOf(g: GraphBuilder, map: string, content: string, height: number, width: number): string {
  const range = (n: number) => g.constI64(Array.from({ length: n }, (_, i) => i));
  const side = (axis: number) => g.op('Gather', [content, g.initializer(g.fresh('axis'), 'int64', [], BigInt64Array.of(BigInt(axis)))], { axis: int(0) });
  const rows = g.op('Unsqueeze', [g.op('Less', [range(height), side(0)]), g.constI64([1])]);
  const cols = g.op('Unsqueeze', [g.op('Less', [range(width), side(1)]), g.constI64([0])]);
  const inside = g.op('And', [rows, cols]);
  return maxOf(g, g.op('Where', [inside, map, g.constF32([-Infinity], [])]));
}

/** The head of a fitted model of any registered method. */
export async function buildHead(model: FittedModel): Promise<Head> {
  if (model instanceof PositionNormModel) return positionNormHead(model);
  if (model instanceof TiledModel) return tiledHead(model);
  if (model instanceof PatchCoreModel) return patchcoreHead(model);
  if (model instanceof PadimModel) return padimHead(model);
  if (model instanceof SimpleNetModel) return simplenetHead(model);
  if (model instanceof PfmModel) return pfmHead(model);
  if (model instanceof CflowModel) return cflowHead(model);
  throw new RangeError(`models of method '${model.method}' cannot be exported yet`);
}
