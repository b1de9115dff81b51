/**
 * Tiling: any method at native resolution. The image is letterboxed (aspect ratio kept, nothing
 * cropped) into a canvas of the configured height × width; the canvas is covered by overlapping
 * square tiles of `tileSize` px; every tile is fitted on (training) or scored (inference) by the same
 * inner model at its own input size; the tile maps are stitched back with the overlaps blended by
 * linear ramps, and the image score is the largest value of the stitched map over the picture.
 *
 * `withTiling` decorates a method: with `resize: 'tile'` it does all of the above, otherwise it is
 * the method itself. The inner model never sees 'tile'; a saved tiled model stores the user's
 * configuration (resize 'tile', canvas size, tile size and overlap) and loads back tiled.
 */
import { decodeTensorFile, encodeTensorFile } from '../engine/training/tensor-file.ts';
import type { ContentBox } from '../vision/index.ts';
import { pickImages } from './image-batch.ts';
import type { FitEvents, FittedModel, ImageBatch, InputSpec, Method, Prediction, StoredModel } from './method.ts';
import { summarizeTrainingScores, trainingSample } from './training-scores.ts';
import { mapToFloat32 } from '../util/arrays.ts';

/** What every method configures about its input. */
interface InputConfig {
  readonly resize: string;
  /** The input size; the canvas size in tile mode. */
  readonly height: number;
  readonly width: number;
}

/** The settings every method gains from the decorator (merged into its defaults). */
export interface TileSettings {
  /** Square tile side, px: the inner model's input size. */
  readonly tileSize: number;
  /** Least overlap between neighbouring tiles, px (tiles spread evenly, so it may be more). */
  readonly tileOverlap: number;
}

export type TilingConfig = InputConfig & TileSettings;

export const TILING_DEFAULTS = { tileSize: 256, tileOverlap: 32 } as const;

/** The resize modes a fitted model has ('auto' is resolved before fitting: methods/input-proposal.ts). */
export const RESIZE_MODES = ['stretch', 'letterbox', 'tile'] as const;

/** Tiles per call of the inner model, fitting or scoring: bounds memory whatever the canvas and batch. */
const TILES_PER_CALL = 8;

/**
 * Start offsets of tiles of `tile` px covering [0, length) with at least `overlap` px shared by
 * neighbours: the fewest tiles, spread evenly, the first at 0 and the last ending at `length`.
 */
export function tileStarts(length: number, tile: number, overlap: number): number[] {
  if (tile > length) throw new RangeError(`a ${tile} px tile does not fit in ${length} px`);
  if (overlap < 0 || overlap >= tile) throw new RangeError(`tile overlap must be in [0, ${tile}), received ${overlap}`);
  if (tile === length) return [0];
  const count = Math.ceil((length - overlap) / (tile - overlap));
  const n = Math.max(2, count);
  return Array.from({ length: n }, (_, i) => Math.round((i * (length - tile)) / (n - 1)));
}

export interface TileGrid {
  readonly xs: readonly number[];
  readonly ys: readonly number[];
  readonly size: number;
}

export function tileGrid(height: number, width: number, size: number, overlap: number): TileGrid {
  return { xs: tileStarts(width, size, overlap), ys: tileStarts(height, size, overlap), size };
}

export const tileCount = (g: TileGrid): number => g.xs.length * g.ys.length;

/** Where tile `index` (cutTiles order) lies in the canvas, in px. */
export interface TilePlace {
  readonly index: number;
  readonly left: number;
  readonly top: number;
  readonly size: number;
}

export function tilePlace(grid: TileGrid, index: number): TilePlace {
  const columns = grid.xs.length;
  return { index, left: grid.xs[index % columns]!, top: grid.ys[Math.floor(index / columns)]!, size: grid.size };
}

/** Of the tiles covering canvas pixel (x, y), the one it lies deepest inside (farthest from that tile's edges). */
export function tileAround(grid: TileGrid, x: number, y: number): TilePlace {
  const depth = (t: TilePlace) => Math.min(x - t.left, t.left + t.size - 1 - x, y - t.top, t.top + t.size - 1 - y);
  return tilesAt(grid, x, y).map((i) => tilePlace(grid, i)).reduce((a, b) => (depth(b) > depth(a) ? b : a));
}

/** Tile `index` of a one-image batch, as a batch of its own. */
export function tileOf(batch: ImageBatch, grid: TileGrid, index: number): ImageBatch {
  if (batch.n !== 1) throw new RangeError(`tileOf cuts a tile from one image; the batch holds ${batch.n}`);
  const place = tilePlace(grid, index);
  return cutTiles(batch, { xs: [place.left], ys: [place.top], size: grid.size });
}

/**
 * Blending weight along one axis of a tile starting at `start`: a linear ramp over the part shared
 * with the previous / next tile, 1 elsewhere (and at the canvas border, where nothing is shared).
 */
function axisWeights(starts: readonly number[], index: number, size: number): Float32Array {
  const w = new Float32Array(size).fill(1);
  const start = starts[index]!;
  const before = index > 0 ? starts[index - 1]! + size - start : 0;
  const after = index + 1 < starts.length ? start + size - starts[index + 1]! : 0;
  for (let i = 0; i < before; i++) w[i] = Math.min(w[i]!, (i + 1) / (before + 1));
  for (let i = 0; i < after; i++) w[size - 1 - i] = Math.min(w[size - 1 - i]!, (i + 1) / (after + 1));
  return w;
}

/** The tiles of every canvas in `batch`, image-major, row-major within an image. */
export function cutTiles(batch: ImageBatch, grid: TileGrid): ImageBatch {
  const { size } = grid;
  const k = tileCount(grid);
  const n = batch.n * k;
  const plane = batch.height * batch.width;
  const data = new Float32Array(n * 3 * size * size);
  const ignore = batch.ignore ? new Uint8Array(n * size * size) : undefined;
  let t = 0;
  for (let i = 0; i < batch.n; i++) {
    for (const y0 of grid.ys) {
      for (const x0 of grid.xs) {
        for (let c = 0; c < 3; c++) {
          const src = (i * 3 + c) * plane;
          const dst = (t * 3 + c) * size * size;
          for (let y = 0; y < size; y++) data.set(batch.data.subarray(src + (y0 + y) * batch.width + x0, src + (y0 + y) * batch.width + x0 + size), dst + y * size);
        }
        if (ignore) for (let y = 0; y < size; y++) ignore.set(batch.ignore!.subarray(i * plane + (y0 + y) * batch.width + x0, i * plane + (y0 + y) * batch.width + x0 + size), (t * size + y) * size);
        t++;
      }
    }
  }
  return { data, n, height: size, width: size, ...(ignore ? { ignore } : {}) };
}

/** One canvas map (height × width) from its tiles' maps (in cutTiles order), overlaps blended. */
export function stitchMaps(tiles: readonly Float32Array[], grid: TileGrid, height: number, width: number): Float32Array {
  const { size } = grid;
  const sum = new Float64Array(height * width);
  const weight = new Float64Array(height * width);
  const wx = grid.xs.map((_, i) => axisWeights(grid.xs, i, size));
  const wy = grid.ys.map((_, i) => axisWeights(grid.ys, i, size));
  let t = 0;
  grid.ys.forEach((y0, r) => {
    grid.xs.forEach((x0, c) => {
      const map = tiles[t++]!;
      if (map.length !== size * size) throw new RangeError(`a tile map holds ${map.length} values, expected ${size}x${size}`);
      for (let y = 0; y < size; y++) {
        const row = (y0 + y) * width + x0;
        for (let x = 0; x < size; x++) {
          const w = wy[r]![y]! * wx[c]![x]!;
          sum[row + x]! += w * map[y * size + x]!;
          weight[row + x]! += w;
        }
      }
    });
  });
  return mapToFloat32(sum, (s, p) => s / weight[p]!);
}

/** The tiles (in cutTiles order) that cover canvas pixel (x, y). */
function tilesAt(grid: TileGrid, x: number, y: number): number[] {
  const rows = grid.ys.flatMap((y0, r) => (y >= y0 && y < y0 + grid.size ? [r] : []));
  const columns = grid.xs.flatMap((x0, c) => (x >= x0 && x < x0 + grid.size ? [c] : []));
  return rows.flatMap((r) => columns.map((c) => r * grid.xs.length + c));
}

/**
 * Where the map is largest over the picture (the top-left content box of a letterboxed canvas),
 * leaving out pixels under `ignore` (canvas-sized, 1 = ignored) unless it covers the whole picture.
 */
export function pictureArgmax(map: Float32Array, width: number, content: ContentBox | undefined, ignore?: Uint8Array): number {
  const w = content?.width ?? width;
  const h = content?.height ?? map.length / width;
  let best = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = y * width + x;
      if (ignore?.[p] !== 1 && (best < 0 || map[p]! > map[best]!)) best = p;
    }
  }
  return best >= 0 ? best : pictureArgmax(map, width, content);
}

/** The inner method's configuration for a tiled one: square tiles, stretched (they are cut to size). */
function innerConfig<C extends TilingConfig>(config: C): C {
  return { ...config, resize: 'stretch', height: config.tileSize, width: config.tileSize } as C;
}

export function checkTiling(config: TilingConfig): void {
  const { tileSize, tileOverlap, height, width } = config;
  if (!Number.isInteger(tileSize) || tileSize < 32) throw new RangeError(`tile size must be a whole number of pixels, at least 32; received ${tileSize}`);
  if (!Number.isInteger(tileOverlap) || tileOverlap < 0 || tileOverlap >= tileSize / 2) {
    throw new RangeError(`tile overlap must be a whole number of pixels in [0, ${tileSize / 2}) for ${tileSize} px tiles; received ${tileOverlap}`);
  }
  if (height < tileSize || width < tileSize) throw new RangeError(`the ${height}x${width} canvas is smaller than one ${tileSize} px tile: enlarge the size or shrink the tiles`);
}

export class TiledModel implements FittedModel {
  readonly method: string;
  readonly input: InputSpec;
  readonly backbone: FittedModel['backbone'];
  trainingScores: FittedModel['trainingScores'];
  readonly grid: TileGrid;

  constructor(readonly inner: FittedModel, readonly config: TilingConfig) {
    this.method = inner.method;
    this.backbone = inner.backbone;
    this.input = { height: config.height, width: config.width, filter: inner.input.filter, resize: 'tile' };
    this.grid = tileGrid(config.height, config.width, config.tileSize, config.tileOverlap);
    this.trainingScores = inner.trainingScores;
  }

  /**
   * `normalise`, a transform of the stitched map that keeps each pixel's order (per-position
   * normalisation: methods/position-norm.ts), is applied before the image score is taken, so that the
   * score and its certification are the transformed map's.
   */
  async predict(batch: ImageBatch, normalise: (map: Float32Array) => Float32Array = (map) => map): Promise<Prediction[]> {
    if (batch.height !== this.input.height || batch.width !== this.input.width) {
      throw new RangeError(`this tiled model reads ${this.input.height}x${this.input.width} canvases, received ${batch.height}x${batch.width}`);
    }
    const k = tileCount(this.grid);
    const tiles = cutTiles(batch, this.grid);
    const maps: Float32Array[] = [];
    for (const part of tileBatches(tiles, TILES_PER_CALL)) for (const p of await this.inner.predict(part)) maps.push(p.map);
    const exact = this.inner.exactTwin;
    const plane = batch.height * batch.width;
    const predictions: Prediction[] = [];
    for (let i = 0; i < batch.n; i++) {
      const own = maps.slice(i * k, (i + 1) * k);
      const content = batch.content?.[i];
      if (!exact) {
        const map = normalise(stitchMaps(own, this.grid, batch.height, batch.width));
        predictions.push({ score: map[pictureArgmax(map, batch.width, content)]!, map });
        continue;
      }
      const ignore = batch.ignore?.subarray(i * plane, (i + 1) * plane);
      const rescore = async (t: number) => (await exact.predict(tileRange(tiles, i * k + t, 1)))[0]!.map;
      predictions.push(await this.certifiedMaximum(own, [...(ignore ? [ignore] : []), undefined], batch.height, content, rescore, normalise));
    }
    return predictions;
  }

  /**
   * The stitched map of one canvas's tile maps, with the tiles under its largest value re-scored
   * exactly (`rescore`, the inner model's exact twin) until that value lies on exact tiles only, for
   * each region in turn (the picture less an ignore mask, as the station scores it; then the picture,
   * whose certified maximum is the score). The approximate tiles' values are upper bounds of the exact
   * ones, and so is every stitched value (a blend with positive weights), so no exact value exceeds
   * the certified maximum: it is the exact model's image score. `normalise` keeps each pixel's order,
   * so the same holds for the normalised map.
   */
  private async certifiedMaximum(maps: Float32Array[], regions: ReadonlyArray<Uint8Array | undefined>, height: number, content: ContentBox | undefined,
    rescore: (tile: number) => Promise<Float32Array>, normalise: (map: Float32Array) => Float32Array): Promise<Prediction> {
    const width = this.input.width;
    const exact = new Set<number>();
    let map = normalise(stitchMaps(maps, this.grid, height, width));
    let at = 0;
    for (const ignore of regions) {
      for (;;) {
        at = pictureArgmax(map, width, content, ignore);
        const under = tilesAt(this.grid, at % width, Math.floor(at / width)).filter((t) => !exact.has(t));
        if (under.length === 0) break;
        for (const t of under) {
          maps[t] = await rescore(t);
          exact.add(t);
        }
        map = normalise(stitchMaps(maps, this.grid, height, width));
      }
    }
    return { score: map[at]!, map };
  }

  /**
   * Add-to-normal without a retrain, where the inner model has it (PatchCore): the new images' tiles
   * go to the inner model; the canvas, tiles and training scores stay.
   */
  async extended(normal: AsyncIterable<ImageBatch>, events: FitEvents = {}): Promise<TiledModel> {
    const inner = this.inner as FittedModel & { extended?: (n: AsyncIterable<ImageBatch>, e: FitEvents) => Promise<FittedModel> };
    if (!inner.extended) throw new RangeError(`adding normal images without a retrain is not possible for ${this.method} models`);
    return this.withInner(await inner.extended(tilesOf(normal, this.grid), events));
  }

  /** The inner model numbers tiles (image-major, tileOrdinal): image i's tile t is i·tiles + t. */
  withImageOrdinals(ordinals: readonly number[], images: number): TiledModel {
    if (!this.inner.withImageOrdinals) return this;
    const k = tileCount(this.grid);
    const tiles = ordinals.flatMap((o) => Array.from({ length: k }, (_, t) => o * k + t));
    return this.withInner(this.inner.withImageOrdinals(tiles, images * k));
  }

  /** The same tiling (canvas, tiles, training scores) around another inner model. */
  withInner(inner: FittedModel): TiledModel {
    const model = new TiledModel(inner, this.config);
    model.trainingScores = this.trainingScores;
    return model;
  }

  describe(): Record<string, unknown> {
    return { ...this.inner.describe(), ...this.config, tiles: tileCount(this.grid), tileColumns: this.grid.xs.length, tileRows: this.grid.ys.length, trainingScores: this.trainingScores };
  }

  /** The inner model's file with the tiled configuration (and training scores) in its meta. */
  serialize(): Uint8Array {
    const file = decodeTensorFile(this.inner.serialize(), 'the inner model');
    return encodeTensorFile({ meta: { ...file.meta, config: this.config, trainingScores: this.trainingScores }, tensors: file.tensors });
  }
}

/** The canvases of a few evenly spaced training images, kept while they stream past the inner fit. */
async function* keepingSample(train: AsyncIterable<ImageBatch>, wanted: ReadonlySet<number>, kept: ImageBatch[]): AsyncGenerator<ImageBatch> {
  let index = 0;
  for await (const batch of train) {
    for (let i = 0; i < batch.n; i++, index++) {
      if (wanted.has(index)) kept.push(pickImages(batch, [i]));
    }
    yield batch;
  }
}

/**
 * The tiles of every canvas, TILES_PER_CALL at a time: a batch of canvases holds batch × tiles of
 * them (8 parts of 18 tiles: 144), and ONNX Runtime's arena keeps the largest call's working memory
 * for the rest of the fit (144 tiles at once: an 11 GB fit, 8 at once: 2.5 GB, measured).
 */
async function* tilesOf(train: AsyncIterable<ImageBatch>, grid: TileGrid): AsyncGenerator<ImageBatch> {
  for await (const batch of train) yield* tileBatches(cutTiles(batch, grid), TILES_PER_CALL);
}

/** `tiles` in consecutive batches of at most `size`. */
function* tileBatches(tiles: ImageBatch, size: number): Generator<ImageBatch> {
  for (let t = 0; t < tiles.n; t += size) yield tileRange(tiles, t, Math.min(size, tiles.n - t));
}

/** Tiles [from, from + n) of `tiles` (a view, nothing copied). */
function tileRange(tiles: ImageBatch, from: number, n: number): ImageBatch {
  const plane = tiles.height * tiles.width;
  return {
    data: tiles.data.subarray(from * 3 * plane, (from + n) * 3 * plane),
    n,
    height: tiles.height,
    width: tiles.width,
    ...(tiles.ignore ? { ignore: tiles.ignore.subarray(from * plane, (from + n) * plane) } : {}),
  };
}

/** `method` with tiling (resize 'tile'); unchanged for every other resize mode. */
export function withTiling<C extends InputConfig>(method: Method<C>): Method<C & TileSettings> {
  const tiled = (config: TilingConfig) => config.resize === 'tile';
  /** A model that is not tiled keeps no tile settings: it saves and describes as the bare method's. */
  const untiled = (config: C & TileSettings): C => {
    const { tileSize: _size, tileOverlap: _overlap, ...rest } = config;
    return rest as unknown as C;
  };
  return {
    ...method,
    defaults: { ...TILING_DEFAULTS, ...method.defaults },
    input(config) {
      if (!tiled(config)) return method.input(untiled(config));
      return { ...method.input(innerConfig(config)), height: config.height, width: config.width, resize: 'tile' };
    },
    validate(config) {
      if (!(RESIZE_MODES as readonly string[]).includes(config.resize)) throw new RangeError(`resize must be one of ${RESIZE_MODES.join(', ')}; received '${config.resize}'`);
      if (!tiled(config)) return method.validate?.(untiled(config));
      checkTiling(config);
      method.validate?.(innerConfig(config));
    },
    async fit(train, trainCount, config, events?: FitEvents) {
      if (!tiled(config)) return method.fit(train, trainCount, untiled(config), events);
      checkTiling(config);
      const grid = tileGrid(config.height, config.width, config.tileSize, config.tileOverlap);
      const kept: ImageBatch[] = [];
      const inner = await method.fit(tilesOf(keepingSample(train, new Set(trainingSample(trainCount)), kept), grid), trainCount * tileCount(grid), innerConfig(config), events);
      const model = new TiledModel(inner, config);
      const scored: Prediction[] = [];
      for (const b of kept) scored.push(...(await model.predict(b)));
      if (scored.length > 0) model.trainingScores = summarizeTrainingScores(scored);
      return model;
    },
    async deserialize(stored: StoredModel<C & TileSettings>) {
      if (!tiled(stored.config)) return method.deserialize({ ...stored, config: untiled(stored.config) });
      checkTiling(stored.config);
      const inner = await method.deserialize({ ...stored, config: innerConfig(stored.config) });
      const model = new TiledModel(inner, stored.config);
      model.trainingScores = stored.trainingScores;
      return model;
    },
  };
}
