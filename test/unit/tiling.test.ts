import { describe, expect, it } from 'vitest';
import { cutTiles, stitchMaps, tileCount, tileGrid, tileStarts, withTiling } from '../../src-main/methods/tiling.ts';
import type { FittedModel, ImageBatch, Method, ResizeMode } from '../../src-main/methods/method.ts';
import { proposeInput, resolveAutoInput } from '../../src-main/methods/input-proposal.ts';

describe('tile layout', () => {
  it('covers the length with the fewest tiles sharing at least the overlap, first at 0 and last at the end', () => {
    expect(tileStarts(256, 256, 32)).toEqual([0]);
    expect(tileStarts(640, 256, 32)).toEqual([0, 192, 384]);
    for (const [length, tile, overlap] of [[300, 256, 32], [1250, 256, 32], [777, 128, 16], [512, 256, 0]] as const) {
      const s = tileStarts(length, tile, overlap);
      expect(s[0]).toBe(0);
      expect(s.at(-1)! + tile).toBe(length);
      for (let i = 1; i < s.length; i++) expect(s[i - 1]! + tile - s[i]!).toBeGreaterThanOrEqual(overlap);
    }
  });

  it('refuses a tile larger than the canvas and an overlap as large as the tile', () => {
    expect(() => tileStarts(200, 256, 32)).toThrow(/does not fit/);
    expect(() => tileStarts(512, 256, 256)).toThrow(/overlap/);
  });
});

describe('cutting and stitching', () => {
  const grid = tileGrid(96, 160, 64, 16);
  const [h, w] = [96, 160];

  it('cuts every canvas into its tiles, channel by channel, with the ignore masks', () => {
    const data = Float32Array.from({ length: 2 * 3 * h * w }, (_, i) => i);
    const ignore = Uint8Array.from({ length: 2 * h * w }, (_, i) => i % 7 === 0 ? 1 : 0);
    const tiles = cutTiles({ data, n: 2, height: h, width: w, ignore }, grid);
    const k = tileCount(grid);
    expect(tiles.n).toBe(2 * k);
    // image 1, tile (row 1, column 2), channel 2, pixel (5, 7)
    const t = k + grid.xs.length + 2;
    const [y0, x0] = [grid.ys[1]!, grid.xs[2]!];
    expect(tiles.data[(t * 3 + 2) * 64 * 64 + 5 * 64 + 7]).toBe(data[(1 * 3 + 2) * h * w + (y0 + 5) * w + x0 + 7]);
    expect(tiles.ignore![t * 64 * 64 + 5 * 64 + 7]).toBe(ignore[h * w + (y0 + 5) * w + x0 + 7]);
  });

  it('stitches the tiles of a map back to the same map, overlaps included', () => {
    const map = Float32Array.from({ length: h * w }, (_, p) => Math.sin(p / 17) + (p % w) / w);
    const tiles = cutTiles({ data: Float32Array.from({ length: 3 * h * w }, (_, i) => map[i % (h * w)]!), n: 1, height: h, width: w }, grid);
    const tileMaps = Array.from({ length: tiles.n }, (_, t) => tiles.data.slice(t * 3 * 64 * 64, t * 3 * 64 * 64 + 64 * 64));
    const stitched = stitchMaps(tileMaps, grid, h, w);
    for (let p = 0; p < map.length; p++) expect(stitched[p]).toBeCloseTo(map[p]!, 5);
  });

  it('blends disagreeing tiles smoothly: inside an overlap the value moves from one tile to the next', () => {
    const g = tileGrid(64, 112, 64, 16);
    expect(g.xs).toEqual([0, 48]);
    const stitched = stitchMaps([new Float32Array(64 * 64).fill(0), new Float32Array(64 * 64).fill(1)], g, 64, 112);
    const row = Array.from(stitched.subarray(0, 112));
    expect(row[47]).toBe(0);
    expect(row[64]).toBe(1);
    for (let x = 48; x < 64; x++) {
      expect(row[x]).toBeGreaterThan(row[x - 1]!);
      expect(row[x]).toBeLessThan(1);
    }
  });
});

describe('fitting on tiles', () => {
  /** A method that only records the batches its fit reads, and predicts flat maps. */
  function recordingMethod(seen: ImageBatch[]): Method<{ resize: ResizeMode; height: number; width: number }> {
    const model = (size: number): FittedModel => ({
      method: 'recording', input: { height: size, width: size, filter: 'bilinear', resize: 'stretch' }, backbone: { id: 'none', sha256: '' },
      predict: async (b) => Array.from({ length: b.n }, () => ({ score: 0, map: new Float32Array(b.height * b.width) })),
      describe: () => ({}), serialize: () => new Uint8Array(),
    });
    return {
      name: 'recording', fitStages: [{ stage: 'features', share: 1 }], defaults: { resize: 'stretch', height: 64, width: 64 },
      input: (c) => ({ height: c.height, width: c.width, filter: 'bilinear', resize: c.resize }),
      fit: async (train, _count, c) => {
        for await (const b of train) seen.push({ ...b, data: b.data.slice(), ...(b.ignore ? { ignore: b.ignore.slice() } : {}) });
        return model(c.height);
      },
      deserialize: async (stored) => model(stored.config.height),
    };
  }

  it('hands the inner method a few tiles at a time whatever the batch of canvases, all of them in order, with their ignore masks', async () => {
    // the working memory of one call stays with ONNX Runtime for the rest of the fit: 8 parts of 18 tiles in one call took 11 GB
    const seen: ImageBatch[] = [];
    const method = withTiling(recordingMethod(seen));
    const [h, w, size] = [64, 200, 32];
    const grid = tileGrid(h, w, size, 8);
    const config = { ...method.defaults, resize: 'tile' as const, height: h, width: w, tileSize: size, tileOverlap: 8 };
    const k = tileCount(grid);
    const data = Float32Array.from({ length: 4 * 3 * h * w }, (_, i) => i % 9973);
    const ignore = Uint8Array.from({ length: 4 * h * w }, (_, i) => (i % 5 === 0 ? 1 : 0));
    async function* canvases() {
      yield { data, n: 4, height: h, width: w, ignore };
    }
    await method.fit(canvases(), 4, config);
    expect(Math.max(...seen.map((b) => b.n))).toBeLessThanOrEqual(8);
    expect(seen.reduce((a, b) => a + b.n, 0)).toBe(4 * k);
    const all = cutTiles({ data, n: 4, height: h, width: w, ignore }, grid);
    const joined = new Float32Array(all.data.length);
    const joinedIgnore = new Uint8Array(all.ignore!.length);
    let at = 0;
    for (const b of seen) {
      joined.set(b.data, at * 3 * size * size);
      joinedIgnore.set(b.ignore!, at * size * size);
      at += b.n;
    }
    expect(k).toBe(24);
    expect(joined.every((v, i) => v === all.data[i])).toBe(true);
    expect(joinedIgnore.every((v, i) => v === all.ignore![i])).toBe(true);
  });
});

describe('resize auto', () => {
  it('stretches nearly square images to the method size, as the papers', () => {
    const p = proposeInput([{ width: 512, height: 512 }, { width: 520, height: 500 }], 256);
    expect(p.setting).toMatchObject({ resize: 'stretch', height: 256, width: 256 });
    expect(p.reason).toMatch(/nearly square/);
  });

  it('stretches moderately long, small images (tiling them scored lower on magnetic tile) and says how much they are squashed', () => {
    const p = proposeInput([{ width: 352, height: 256 }, { width: 360, height: 250 }, { width: 330, height: 260 }], 256);
    expect(p.setting).toMatchObject({ resize: 'stretch', height: 256, width: 256 });
    expect(p.reason).toMatch(/not long enough to tile.*squashed by \d+ %/);
  });

  it('tiles large images near native resolution so small defects keep their pixels, capped at 2.5x the method size', () => {
    const pcb = proposeInput([{ width: 640, height: 640 }], 256);
    expect(pcb.setting).toEqual({ resize: 'tile', height: 640, width: 640, tileSize: 256, tileOverlap: 32 });
    expect(pcb.reason).toMatch(/large images.*9 tiles of 256 px over a 640x640 canvas/);
    const plate = proposeInput([{ width: 1024, height: 1024 }, { width: 1024, height: 1024 }], 256);
    expect(plate.setting).toMatchObject({ resize: 'tile', height: 640, width: 640 });
    const wide = proposeInput([{ width: 1500, height: 1000 }], 256);
    expect(wide.setting).toMatchObject({ resize: 'tile', height: 640, width: 960 });
  });

  it('never proposes a canvas longer than a tiled model takes', () => {
    const p = proposeInput([{ width: 6000, height: 250 }], 256);
    expect(p.setting).toMatchObject({ resize: 'tile', height: 256, width: 2048 });
  });

  it('tiles small long parts with the short side raised to the method size, in their orientation, and says so in one line', () => {
    const p = proposeInput([{ width: 512, height: 128 }, { width: 512, height: 128 }], 256);
    expect(p.setting).toEqual({ resize: 'tile', height: 256, width: 1024, tileSize: 256, tileOverlap: 32 });
    expect(p.reason).toMatch(/^images 4\.00:1 \(512x128\): 5 tiles of 256 px over a 256x1024 canvas \(aspect kept, short side at the method's 256 px/);
    expect(p.reason).not.toMatch(/\n/);
    // sizes cannot tell whether long parts are aligned: the line says what to switch on if they are
    expect(p.reason).toMatch(/; if every part lies in the same place in its picture, normalising per position may rank them better$/);
    const portrait = proposeInput([{ width: 120, height: 290 }], 256);
    expect(portrait.setting).toMatchObject({ resize: 'tile', width: 256, height: 640 });
  });

  it('keeps the native resolution of long parts whose short side is larger than the method size, up to 2.5x it', () => {
    const commutator = proposeInput([{ width: 1250, height: 500 }, { width: 1240, height: 510 }, { width: 1250, height: 500 }], 256);
    expect(commutator.setting).toEqual({ resize: 'tile', height: 512, width: 1280, tileSize: 256, tileOverlap: 32 });
    expect(commutator.reason).toMatch(/18 tiles of 256 px over a 512x1280 canvas \(aspect kept, short side at 512 px \(native 500 px\)/);
    // sizes cannot tell hairline defects from small ones either: the line says what to set for them
    expect(commutator.reason).toMatch(/; for hairline defects, an image score at a 256 px short side may rank them better$/);
    const boards = proposeInput([{ width: 1280, height: 640 }], 256);
    expect(boards.setting).toMatchObject({ resize: 'tile', height: 640, width: 1280 });
    const plates = proposeInput([{ width: 1000, height: 3000 }], 256);
    expect(plates.setting).toMatchObject({ resize: 'tile', height: 1920, width: 640 });
    expect(plates.reason).toMatch(/capped at 2\.5x the method's size/);
  });

  it('resolves only auto, and refuses an input size given beside it', () => {
    const defaults = { height: 256, width: 256, resize: 'stretch', tileSize: 256, tileOverlap: 32 };
    expect(resolveAutoInput({ ...defaults }, defaults, [])).toEqual({ config: defaults });
    const r = resolveAutoInput({ ...defaults, resize: 'auto' }, defaults, [{ width: 250, height: 750 }]);
    expect(r.config).toMatchObject({ resize: 'tile', height: 768, width: 256 });
    expect(r.reason).toBeTruthy();
    expect(() => resolveAutoInput({ ...defaults, resize: 'auto', height: 512 }, defaults, [])).toThrow(/auto' chooses the input size/);
  });
});
