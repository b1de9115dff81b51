/**
 * PatchCore (METHODS.md §5): a coreset memory bank of locally aware patch features; a test patch
 * scores its squared distance to the nearest memory entries; the image scores its worst patch.
 */
import { Backbone } from '../../features/extractor.ts';
import { buildPatchEmbeddingGraph, type PatchFeatureConfig } from '../../features/patch-embedding.ts';
import { alignmentFeeds } from '../../features/tap-alignment.ts';
import { pooledSession, type Session } from '../../engine/session.ts';
import { matmul } from '../../engine/linalg.ts';
import { Random } from '../../util/random.ts';
import { approximateGreedyCoreset } from './coreset.ts';
import { MemoryBankIndex } from './nn-search.ts';
import { patchcoreInput, type PatchCoreConfig } from './defaults.ts';
import type { BackboneRef, FitEvents, FittedModel, ImageBatch, InputSpec, Prediction, StoredModel, TrainingScores } from '../method.ts';
import { anomalyMapFromPatches } from '../anomaly-map.ts';
import { ignoredCells } from '../ignored-cells.ts';
import { encodeModelFile, ModelFormatError, requireCount, requireTensor } from '../model-file.ts';
import { summarizeTrainingScores, trainingSample } from '../training-scores.ts';

/** Backbone plus the embedding graph: images in, [n, gridH·gridW, targetDim] patch features out. */
export class PatchEmbedder {
  private constructor(
    private readonly backbone: Backbone,
    private readonly head: Session,
    readonly config: PatchFeatureConfig,
  ) {}

  static async open(config: PatchFeatureConfig): Promise<PatchEmbedder> {
    const backbone = await Backbone.open(config.backbone);
    const taps = config.taps.map((t) => backbone.tap(t));
    const key = `embedding:${config.backbone}:${config.taps.join('+')}:${config.patchSize}:${config.pretrainDim}:${config.targetDim}`;
    const head = await pooledSession(key, () =>
      buildPatchEmbeddingGraph(taps, { patchSize: config.patchSize, pretrainDim: config.pretrainDim, targetDim: config.targetDim }),
    );
    return new PatchEmbedder(backbone, head, config);
  }

  get gridStride(): number {
    return this.backbone.tap(this.config.taps[0]!).stride;
  }

  get gridOffset(): { x: number; y: number } {
    return this.backbone.tap(this.config.taps[0]!).offset;
  }

  get sha256(): string {
    return this.backbone.spec.sha256;
  }

  get backboneRef(): BackboneRef {
    return { id: this.backbone.spec.id, sha256: this.backbone.spec.sha256 };
  }

  async embed(batch: ImageBatch): Promise<{ features: Float32Array; gridH: number; gridW: number }> {
    const taps = await this.backbone.run(batch, this.config.taps);
    const align = alignmentFeeds(this.config.taps.map((t) => this.backbone.tap(t)), batch.height, batch.width, 'bilinear', this.config.alignOffsets);
    const out = await this.head.run({ ...taps, ...align });
    const first = taps[this.config.taps[0]!]!;
    return { features: out['embedding']!.data as Float32Array, gridH: first.dims[2]!, gridW: first.dims[3]! };
  }
}

/**
 * Fits the memory bank. When every training patch fits in `fitMemoryRows`, the coreset is chosen over
 * all of them at once (the official algorithm). Otherwise fitting memory stays bounded whatever the
 * number of training images: the rows buffer holds a pool of representatives (half) and the chunk
 * being read (half); each full chunk is reduced by the same greedy coreset to its share of the pool
 * (in proportion to its rows among all the training set's, and at most POOL_OVERSAMPLING times its
 * share of the bank), and the bank is the coreset of the pool,
 * at most half the buffer (131,072 rows at the defaults). Greedy k-centre coresets compose: a patch
 * is within its chunk coreset's radius of a pool row, which is within the final radius of the bank.
 */
/** A streamed fit keeps up to this many times a chunk's share of the bank as its representatives in the pool. */
const POOL_OVERSAMPLING = 4;

export async function fitPatchCore(train: AsyncIterable<ImageBatch>, trainCount: number, config: PatchCoreConfig, events: FitEvents = {}): Promise<PatchCoreModel> {
  const embedder = await PatchEmbedder.open(config);
  const D = config.targetDim;
  const sample = trainingSample(trainCount);
  const sampled = new Map<number, Float32Array>();
  let buffer: Float32Array | undefined;
  // each buffered row's origin: (training image ordinal, grid cell), two per row
  let sources: Int32Array | undefined;
  let plan: { streamed: boolean; poolRows: number; chunkRows: number; expectedRows: number } | undefined;
  let pooled = 0; // representatives at the front of the buffer
  let pending = 0; // rows of the current chunk after them
  let rows = 0;
  let images = 0;
  let grid = { h: 0, w: 0 };
  const reduceChunk = async () => {
    if (!plan!.streamed || pending === 0) return;
    const chunk = buffer!.subarray(pooled * D, (pooled + pending) * D);
    // its part of the pool, and no more than a few times its part of the bank (each reduction costs rows x share)
    const share = Math.max(1, Math.min(pending, Math.floor((pending * plan!.poolRows) / plan!.expectedRows), Math.ceil(POOL_OVERSAMPLING * pending * config.coresetRatio)));
    const kept = await coreset(chunk, pending, share, config, {});
    buffer!.set(kept.bank, pooled * D);
    sources!.set(pickedSources(sources!.subarray(pooled * 2, (pooled + pending) * 2), kept.selected), pooled * 2);
    pooled += share;
    pending = 0;
  };
  for await (const batch of train) {
    const { features, gridH, gridW } = await embedder.embed(batch);
    grid = { h: gridH, w: gridW };
    const per = gridH * gridW * D;
    const n = features.length / D;
    if (!plan) {
      const expectedRows = (n / batch.n) * trainCount;
      // a chunk holds at least two batches, whatever the setting
      const capacity = Math.max(config.fitMemoryRows, 4 * n);
      plan = expectedRows <= capacity
        ? { streamed: false, poolRows: expectedRows, chunkRows: expectedRows, expectedRows }
        : { streamed: true, poolRows: Math.floor(capacity / 2), chunkRows: capacity - Math.floor(capacity / 2), expectedRows };
      buffer = new Float32Array((plan.streamed ? capacity : expectedRows) * D);
      sources = new Int32Array((plan.streamed ? capacity : expectedRows) * 2);
    }
    for (let i = 0; i < batch.n; i++) if (sample.includes(images + i)) sampled.set(images + i, features.slice(i * per, (i + 1) * per));
    const kept = keptPatchRows(features, D, batch, gridH, gridW, images);
    const k = kept.rows.length / D;
    if (plan.streamed && pending + k > plan.chunkRows) await reduceChunk();
    if ((pooled + pending + k) * D > buffer!.length) throw new RangeError(`PatchCore was told of ${trainCount} training images but received more`);
    buffer!.set(kept.rows, (pooled + pending) * D);
    sources!.set(kept.sources, (pooled + pending) * 2);
    pending += k;
    rows += k;
    images += batch.n;
    events.onProgress?.({ stage: 'features', done: images, total: trainCount });
  }
  if (!buffer || rows === 0) throw new RangeError('PatchCore needs at least one training image');
  await reduceChunk();
  const held = pooled + pending;
  const count = Math.min(held, Math.max(1, Math.floor(rows * config.coresetRatio)));
  const chosen = count === held && plan!.streamed
    ? { bank: buffer.slice(0, held * D), selected: Int32Array.from({ length: held }, (_, i) => i) }
    : await coreset(buffer.subarray(0, held * D), held, count, config, events);
  const bankSources = pickedSources(sources!.subarray(0, held * 2), chosen.selected);
  buffer = undefined; // before the index is built: the rows buffer is the fit's largest allocation
  sources = undefined;
  const model = new PatchCoreModel(config, embedder, await MemoryBankIndex.withPruning(chosen.bank, D), rows, { sources: bankSources, images });
  // in-sample scores of a few training images, from the features kept as they streamed by
  const scored: Prediction[] = [];
  for (const i of sample) scored.push(...(await model.scoreFeatures(sampled.get(i)!, 1, grid.h, grid.w)));
  model.trainingScores = summarizeTrainingScores(scored);
  return model;
}

/**
 * The patch rows of a batch ([n·gridH·gridW, D]) whose cell centre lies outside the images' ignore
 * regions: a label or a fixture is not what a good part looks like, so it never enters the bank.
 * With each kept row, where it comes from: (firstImage + image of the batch, grid cell).
 */
function keptPatchRows(features: Float32Array, D: number, batch: ImageBatch, gridH: number, gridW: number, firstImage: number): { rows: Float32Array; sources: Int32Array } {
  const cells = gridH * gridW;
  const out = batch.ignore ? new Float32Array(features.length) : features;
  const sources = new Int32Array(batch.n * cells * 2);
  let kept = 0;
  for (let i = 0; i < batch.n; i++) {
    const ignored = ignoredCells(batch, i, gridH, gridW);
    for (let cell = 0; cell < cells; cell++) {
      if (ignored?.[cell]) continue;
      const row = i * cells + cell;
      if (ignored) out.set(features.subarray(row * D, (row + 1) * D), kept * D);
      sources[kept * 2] = firstImage + i;
      sources[kept * 2 + 1] = cell;
      kept++;
    }
  }
  return { rows: out.subarray(0, kept * D), sources: sources.subarray(0, kept * 2) };
}

/** The (image, cell) pairs of the selected rows, in selection order. */
function pickedSources(sources: Int32Array, selected: Int32Array): Int32Array {
  const out = new Int32Array(selected.length * 2);
  selected.forEach((r, i) => {
    out[i * 2] = sources[r * 2]!;
    out[i * 2 + 1] = sources[r * 2 + 1]!;
  });
  return out;
}

/** `count` of `rows` patch features: the greedy coreset over a seeded random projection (all of them when count >= rows). */
async function coreset(features: Float32Array, rows: number, count: number, config: PatchCoreConfig, events: FitEvents): Promise<{ bank: Float32Array; selected: Int32Array }> {
  const D = config.targetDim;
  const rng = new Random(config.seed);
  const bound = 1 / Math.sqrt(D);
  const projection = Float32Array.from({ length: D * config.projectionDim }, () => rng.uniform(-bound, bound));
  const projected = (await matmul(features, [rows, D], projection, [D, config.projectionDim])).data;
  const selected = count >= rows
    ? Int32Array.from({ length: rows }, (_, i) => i)
    : await approximateGreedyCoreset(projected, config.projectionDim, {
        count,
        starts: config.coresetStarts,
        pick: (n, k) => rng.sample(n, k),
        onProgress: (done, total) => events.onProgress?.({ stage: 'coreset', done, total }),
      });
  const bank = new Float32Array(selected.length * D);
  selected.forEach((r, i) => bank.set(features.subarray(r * D, (r + 1) * D), i * D));
  return { bank, selected };
}

/**
 * Stored: the memory bank [N, D] and, when the index prunes, its principal basis [D, r] (1 MB at the
 * defaults; recomputing it from the bank takes seconds). The rest of the index is rebuilt from them.
 */
export async function deserializePatchCore(stored: StoredModel<PatchCoreConfig>): Promise<PatchCoreModel> {
  const D = stored.config.targetDim;
  const bank = requireTensor(stored, 'memory_bank', [null, D]);
  const trainPatches = requireCount(stored, 'trainPatches');
  const embedder = await PatchEmbedder.open(stored.config);
  let index: MemoryBankIndex;
  if (stored.tensors.has('pruning_basis')) {
    const rank = stored.tensors.get('pruning_basis')!.dims[1] ?? 0;
    if (rank < 1 || rank >= D) throw new ModelFormatError('tensor', `${stored.source}: tensor 'pruning_basis' must have 1 to ${D - 1} columns`);
    const basis = requireTensor(stored, 'pruning_basis', [D, rank]);
    const candidates = requireCount(stored, 'pruningCandidates');
    if (candidates < 1) throw new ModelFormatError('meta', `${stored.source}: meta field 'pruningCandidates' must be positive`);
    // the search is exact only over an orthonormal basis
    if ((await orthonormalityError(basis, D, rank)) > 1e-4) throw new ModelFormatError('tensor', `${stored.source}: tensor 'pruning_basis' is not orthonormal`);
    index = await MemoryBankIndex.withBasis(bank, D, basis, candidates);
  } else {
    index = await MemoryBankIndex.withPruning(bank, D);
  }
  const model = new PatchCoreModel(stored.config, embedder, index, trainPatches, storedProvenance(stored, bank.length / D));
  model.trainingScores = stored.trainingScores;
  return model;
}

/** The bank rows' origins, when the model was fitted with them (older models have none). */
function storedProvenance(stored: StoredModel<PatchCoreConfig>, rows: number): BankProvenance | null {
  if (!stored.tensors.has('bank_source')) return null;
  const source = requireTensor(stored, 'bank_source', [rows, 2]);
  const images = requireCount(stored, 'sourceImages');
  const sources = Int32Array.from(source);
  for (let i = 0; i < sources.length; i += 2) {
    if (sources[i]! >= images || sources[i]! < -1 || sources[i + 1]! < 0 || sources[i] !== source[i] || sources[i + 1] !== source[i + 1]) {
      throw new ModelFormatError('tensor', `${stored.source}: tensor 'bank_source' row ${i / 2} names no training image of the ${images} recorded`);
    }
  }
  return { sources, images };
}

/** max |BᵀB − I| of a [dim, rank] matrix. */
async function orthonormalityError(basis: Float32Array, dim: number, rank: number): Promise<number> {
  const t = new Float32Array(rank * dim);
  for (let r = 0; r < dim; r++) for (let c = 0; c < rank; c++) t[c * dim + r] = basis[r * rank + c]!;
  const gram = (await matmul(t, [rank, dim], basis, [dim, rank])).data;
  let worst = 0;
  for (let i = 0; i < rank; i++) for (let j = 0; j < rank; j++) worst = Math.max(worst, Math.abs(gram[i * rank + j]! - (i === j ? 1 : 0)));
  return Number.isNaN(worst) ? Infinity : worst;
}

/**
 * Where each memory-bank row comes from: sources[2i] is the ordinal of its training image (in the
 * order the fit read them; -1 for a row of a model that did not record it), sources[2i + 1] its grid
 * cell (row · gridW + column). `images` ordinals are in use (the next added image gets that one).
 */
export interface BankProvenance {
  readonly sources: Int32Array;
  readonly images: number;
}

/** The most anomalous patch of an image and its nearest memory-bank entry (why the image was flagged). */
export interface NearestPatch {
  readonly gridHeight: number;
  readonly gridWidth: number;
  /** The worst grid cell outside ignore regions (or the one asked for; row · gridWidth + column) and its patch score. */
  readonly cell: number;
  readonly score: number;
  /** The nearest memory-bank row to that patch's feature and their Euclidean distance. */
  readonly bankRow: number;
  readonly distance: number;
  /** Its training image ordinal and grid cell; null when the model did not record where its rows came from. */
  readonly source: { readonly image: number; readonly cell: number } | null;
}

export class PatchCoreModel implements FittedModel {
  readonly method = 'patchcore';
  /** Set once, at fit or load. */
  trainingScores: TrainingScores | undefined;

  constructor(
    readonly config: PatchCoreConfig,
    private readonly embedder: PatchEmbedder,
    readonly index: MemoryBankIndex,
    private readonly trainPatches: number,
    readonly provenance: BankProvenance | null,
  ) {
    if (provenance && provenance.sources.length !== index.size * 2) throw new RangeError(`bank provenance covers ${provenance.sources.length / 2} rows, the bank ${index.size}`);
  }

  /** The same model (bank, index, training record) searching its bank the other way: no refit needed. */
  withSearch(search: PatchCoreConfig['search']): PatchCoreModel {
    const twin = new PatchCoreModel({ ...this.config, search }, this.embedder, this.index, this.trainPatches, this.provenance);
    twin.trainingScores = this.trainingScores;
    return twin;
  }

  withImageOrdinals(ordinals: readonly number[], images: number): PatchCoreModel {
    if (!this.provenance) return this;
    const sources = Int32Array.from(this.provenance.sources);
    for (let r = 0; r < sources.length; r += 2) {
      if (sources[r]! < 0) continue; // a row added to a model stored without provenance
      const renamed = ordinals[sources[r]!];
      if (renamed === undefined || renamed < 0 || renamed >= images) throw new RangeError(`bank row ${r / 2} comes from fit image ${sources[r]}, which has no ordinal among ${images} images`);
      sources[r] = renamed;
    }
    const model = new PatchCoreModel(this.config, this.embedder, this.index, this.trainPatches, { sources, images });
    model.trainingScores = this.trainingScores;
    return model;
  }

  private exact: PatchCoreModel | undefined;

  /** With the approximate search, the same model searching exactly (its maps are upper bounds of the twin's). */
  get exactTwin(): PatchCoreModel | undefined {
    if (this.config.search !== 'approximate') return undefined;
    this.exact ??= this.withSearch('exact');
    return this.exact;
  }

  /** Feature grid cell size in input pixels. */
  get gridStride(): number {
    return this.embedder.gridStride;
  }

  get input(): InputSpec {
    return patchcoreInput(this.config);
  }

  get backbone(): BackboneRef {
    return this.embedder.backboneRef;
  }

  describe(): Record<string, unknown> {
    return {
      ...this.config,
      memoryBank: [this.index.size, this.index.dim],
      trainPatches: this.trainPatches,
      backboneSha256: this.embedder.sha256,
      trainingScores: this.trainingScores,
    };
  }

  serialize(): Uint8Array {
    const pruning = this.index.pruningBasis;
    return encodeModelFile({
      method: this.method,
      config: this.config,
      backbone: this.backbone,
      trainingScores: this.trainingScores,
      extra: {
        trainPatches: this.trainPatches,
        ...(pruning ? { pruningCandidates: pruning.candidates } : {}),
        ...(this.provenance ? { sourceImages: this.provenance.images } : {}),
      },
      tensors: new Map([
        ['memory_bank', { dims: [this.index.size, this.index.dim], data: this.index.bank }],
        ...(pruning ? [['pruning_basis', { dims: [this.index.dim, pruning.rank], data: pruning.basis }] as const] : []),
        ...(this.provenance ? [['bank_source', { dims: [this.index.size, 2], data: Float32Array.from(this.provenance.sources) }] as const] : []),
      ]),
    });
  }

  async predict(batch: ImageBatch): Promise<Prediction[]> {
    const { features, gridH, gridW } = await this.embedder.embed(batch);
    return this.scoreFeatures(features, batch.n, gridH, gridW);
  }

  /**
   * Add-to-normal without a retrain: the same model with the coreset (at the model's ratio) of the
   * new normal images' patches appended to its memory bank. The rest of the bank is kept as it is, so
   * this takes the new images' feature extraction and coreset only (seconds for a few images). The
   * new rows' images take the ordinals after the model's (rows of a model without provenance get -1).
   */
  async extended(normal: AsyncIterable<ImageBatch>, events: FitEvents = {}): Promise<PatchCoreModel> {
    const D = this.config.targetDim;
    const first = this.provenance?.images ?? 0;
    const parts: Array<{ rows: Float32Array; sources: Int32Array }> = [];
    let images = 0;
    for await (const batch of normal) {
      const { features, gridH, gridW } = await this.embedder.embed(batch);
      parts.push(keptPatchRows(features, D, batch, gridH, gridW, first + images));
      images += batch.n;
      events.onProgress?.({ stage: 'features', done: images, total: images });
    }
    if (images === 0) throw new RangeError('no images to add to the memory bank');
    const rows = parts.reduce((a, f) => a + f.rows.length, 0) / D;
    const features = new Float32Array(rows * D);
    const sources = new Int32Array(rows * 2);
    let at = 0;
    for (const f of parts) {
      features.set(f.rows, at * D);
      sources.set(f.sources, at * 2);
      at += f.rows.length / D;
    }
    const added = await coreset(features, rows, Math.max(1, Math.floor(rows * this.config.coresetRatio)), this.config, events);
    const bank = new Float32Array(this.index.bank.length + added.bank.length);
    bank.set(this.index.bank);
    bank.set(added.bank, this.index.bank.length);
    const bankSources = new Int32Array(bank.length / D * 2).fill(-1);
    if (this.provenance) bankSources.set(this.provenance.sources);
    bankSources.set(pickedSources(sources, added.selected), this.index.size * 2);
    const model = new PatchCoreModel(this.config, this.embedder, await MemoryBankIndex.withPruning(bank, D), this.trainPatches + rows, { sources: bankSources, images: first + images });
    model.trainingScores = this.trainingScores;
    return model;
  }

  /**
   * Why the image was flagged: its worst patch outside `ignore` ([height·width] at the input, 1 =
   * ignored), or the patch under the input pixel `locate` picks from the image's map (what a model
   * built on this one scores: patchcore/flagged-patch.ts), and the nearest memory entry.
   */
  async nearestPatch(batch: ImageBatch, locate?: (map: Float32Array) => number): Promise<NearestPatch> {
    if (batch.n !== 1) throw new RangeError('nearestPatch explains one image at a time');
    const { features, gridH, gridW } = await this.embedder.embed(batch);
    const [prediction] = await this.scoreFeatures(features, 1, gridH, gridW);
    const values = prediction!.grid!.values;
    let cell = -1;
    if (locate) {
      const at = locate(prediction!.map);
      cell = Math.floor((Math.floor(at / batch.width) * gridH) / batch.height) * gridW + Math.floor(((at % batch.width) * gridW) / batch.width);
    } else {
      const ignored = ignoredCells(batch, 0, gridH, gridW);
      for (let c = 0; c < values.length; c++) if (!ignored?.[c] && (cell < 0 || values[c]! > values[cell]!)) cell = c;
      if (cell < 0) cell = values.indexOf(Math.max(...values)); // all of it ignored: the worst patch anyway
    }
    const D = this.index.dim;
    const nn = await this.index.search(features.subarray(cell * D, (cell + 1) * D), 1);
    const bankRow = nn.indices[0]!;
    const image = this.provenance?.sources[bankRow * 2] ?? -1;
    return {
      gridHeight: gridH, gridWidth: gridW, cell, score: values[cell]!, bankRow, distance: Math.sqrt(Math.max(0, nn.distances[0]!)),
      source: image >= 0 ? { image, cell: this.provenance!.sources[bankRow * 2 + 1]! } : null,
    };
  }

  /**
   * After an approximate search, the image's patch scores made exact from the top down until the
   * maximum is certain: an approximate score is never below the exact one, so once the largest exact
   * score found is at least every remaining approximate score, no other patch can exceed it. The image
   * score (the maximum) is then the exact search's; patches below it may keep a slightly high value.
   */
  private async exactWorstPatches(features: Float32Array, patchScores: Float32Array, nearest: Int32Array, k: number): Promise<void> {
    const D = this.index.dim;
    const order = Array.from(patchScores.keys()).sort((a, b) => patchScores[b]! - patchScores[a]!);
    let best = -Infinity;
    for (const c of order) {
      if (patchScores[c]! <= best) break;
      const nn = await this.index.search(features.subarray(c * D, (c + 1) * D), k);
      let s = 0;
      for (let j = 0; j < nn.k; j++) s += nn.distances[j]!;
      patchScores[c] = s / nn.k;
      nearest[c] = nn.indices[0]!;
      best = Math.max(best, patchScores[c]!);
    }
  }

  /** Predictions from patch features [n·gridH·gridW, D] of n images. */
  async scoreFeatures(features: Float32Array, n: number, gridH: number, gridW: number): Promise<Prediction[]> {
    const cells = gridH * gridW;
    const k = Math.max(1, this.config.numNeighbours);
    const D = this.index.dim;
    const approximate = this.config.search === 'approximate';
    const nn = approximate ? await this.index.searchApproximate(features, k) : await this.index.search(features, k);
    const meanDistance = (distances: Float32Array, row: number, kk: number) => {
      let s = 0;
      for (let j = 0; j < kk; j++) s += distances[row * kk + j]!;
      return s / kk;
    };
    const predictions: Prediction[] = [];
    for (let i = 0; i < n; i++) {
      const patchScores = new Float32Array(cells);
      const nearest = new Int32Array(cells);
      for (let c = 0; c < cells; c++) {
        patchScores[c] = meanDistance(nn.distances, i * cells + c, nn.k);
        nearest[c] = nn.indices[(i * cells + c) * nn.k]!;
      }
      if (approximate) await this.exactWorstPatches(features.subarray(i * cells * D, (i + 1) * cells * D), patchScores, nearest, k);
      let worst = 0;
      for (let c = 1; c < cells; c++) if (patchScores[c]! > patchScores[worst]!) worst = c;
      let score = patchScores[worst]!;
      if (this.config.reweightNeighbours > 0) {
        const query = features.subarray((i * cells + worst) * D, (i * cells + worst + 1) * D);
        score *= await this.reweight(query, nearest[worst]!);
      }
      const map = anomalyMapFromPatches(patchScores, gridW, gridH, this.config, this.embedder.gridStride, this.embedder.gridOffset);
      predictions.push({ score, map, grid: { values: patchScores, width: gridW, height: gridH } });
    }
    return predictions;
  }

  /** Paper eq. 7: 1 − softmax weight of the nearest memory entry among its own neighbourhood. */
  private async reweight(query: Float32Array, nearest: number): Promise<number> {
    const D = this.index.dim;
    const bank = this.index.bank;
    const neighbourhood = await this.index.search(bank.subarray(nearest * D, (nearest + 1) * D), this.config.reweightNeighbours);
    const dist = (row: number) => {
      let s = 0;
      for (let d = 0; d < D; d++) s += (query[d]! - bank[row * D + d]!) ** 2;
      return Math.sqrt(s);
    };
    const ds = Array.from(neighbourhood.indices, dist);
    const dNearest = dist(nearest);
    const top = Math.max(dNearest, ...ds);
    const denominator = ds.reduce((acc, d) => acc + Math.exp(d - top), 0);
    return 1 - Math.exp(dNearest - top) / denominator;
  }
}
