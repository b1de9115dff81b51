/**
 * F2PAD refinement of letterboxed and tiled detectors on cut-paste MPDD images (real backbone): the
 * square 512 px pictures are letterboxed into a 192 × 256 canvas (picture 192 × 192 top-left, 64 px of
 * padding on the right); tiled models cut it into six 128 px tiles (PatchCore) or two 192 px tiles
 * (PaDiM, whose per-position Gaussians need more images per position than a 10-image fit gives
 * small tiles; CFLOW-AD, whose flows are conditioned on the position in the tile). The refinement works on the canvas
 * and maps its results back from the picture's part to the original size, so a wrong mapping (the
 * whole canvas stretched back, or the padding counted) would shift the refined mask off the pasted
 * defect by a third of the image's width.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evenlySpaced, scanMvtec } from '../../src-main/datasets/mvtec.ts';
import { setSessionLogger } from '../../src-main/engine/session.ts';
import { CflowModel } from '../../src-main/methods/cflow/model.ts';
import { PadimModel } from '../../src-main/methods/padim/model.ts';
import { PatchCoreModel } from '../../src-main/methods/patchcore/model.ts';
import { TiledModel } from '../../src-main/methods/tiling.ts';
import { buildCutPasteSet, type CutPasteSample } from '../../src-main/refine/cutpaste.ts';
import { detectorMapsAndThreshold, fitDetector, overlap, type F2padDetector } from '../../src-main/refine/evaluate.ts';
import { createRefiner, type Refiner } from '../../src-main/refine/refine.ts';
import { sharedDataset } from '../fixtures/datasets.ts';

const MPDD = sharedDataset('mpdd_metal_plate');
const CANVAS = { height: 192, width: 256 } as const;
const TILES = { resize: 'tile', ...CANVAS, tileSize: 128, tileOverlap: 32 } as const;

interface Setup {
  refiner: Refiner;
  samples: CutPasteSample[];
  maps: Float32Array[];
  threshold: number;
}

/** A detector fitted on 10 of the cut-paste split's fitting images, its refiner and the set's maps. */
async function setUp(detector: F2padDetector, settings: Record<string, unknown>, count: number): Promise<Setup> {
  setSessionLogger(() => {});
  const set = await buildCutPasteSet(scanMvtec(MPDD), { count, seed: 0 });
  const { model, images } = await fitDetector(detector, evenlySpaced(set.split.fit, 10), settings);
  const refiner = await createRefiner(model, { images });
  return { refiner, samples: set.samples, ...(await detectorMapsAndThreshold(refiner, set.samples)) };
}

/** Refines every sample; checks the sizes and returns the mean IoU of the detector's and the refined masks. */
async function refineAll(s: Setup): Promise<{ detector: number; refined: number; found: number }> {
  let detector = 0;
  let refined = 0;
  let found = 0;
  for (let i = 0; i < s.samples.length; i++) {
    const sample = s.samples[i]!;
    const r = await s.refiner.refine(sample.image, s.threshold, {}, s.maps[i]);
    const { width, height } = sample.image;
    expect([r.mask.width, r.mask.height]).toEqual([width, height]);
    expect([r.detectorMask.width, r.detectorMask.height]).toEqual([width, height]);
    expect(r.magnitude.length).toBe(width * height);
    expect([r.repaired.width, r.repaired.height, r.repaired.channels]).toEqual([width, height, 3]);
    const d = overlap(r.detectorMask.data, sample.mask.data);
    const f = overlap(r.mask.data, sample.mask.data);
    detector += d.iou / s.samples.length;
    refined += f.iou / s.samples.length;
    if (d.iou > 0.2) {
      // where the detector found the defect, the refined mask lies mostly on the pasted one
      found++;
      expect(r.iterations).toBeGreaterThan(0);
      expect(f.precision!, `${sample.name} precision`).toBeGreaterThan(0.4);
    }
  }
  return { detector, refined, found };
}

/** The refined masks have the original size, lie on the pasted defect and overlap it at least as well as the detector's. */
function itRefinesAtLeastAsWellAsTheDetector(setup: () => Setup): void {
  it('refines at the original size onto the pasted defect, at least as well as the detector mask', async () => {
    const { detector, refined, found } = await refineAll(setup());
    expect(found).toBeGreaterThan(0);
    expect(refined, `mean IoU detector ${detector} refined ${refined}`).toBeGreaterThanOrEqual(detector);
  }, 120_000);
}

/** Two 192 px tiles (at x 0 and 64) of a method whose scores depend on the position in the tile. */
function itSolvesEachPartInTheTileThatOwnsIt(setup: () => Setup, inner: typeof PadimModel | typeof CflowModel): void {
  it("solves each part of the mask in the tile that owns it, at the tile's positions", () => {
    const model = setup().refiner.model as TiledModel;
    expect(model.inner).toBeInstanceOf(inner);
    // the overlap [64, 192) is split at its middle
    expect(setup().refiner.frames).toEqual([
      { x0: 0, y0: 0, x1: 192, y1: 192, owned: { x0: 0, y0: 0, x1: 128, y1: 192 } },
      { x0: 64, y0: 0, x1: 256, y1: 192, owned: { x0: 128, y0: 0, x1: 256, y1: 192 } },
    ]);
  });
}

describe('F2PAD refinement of a letterboxed PatchCore model', () => {
  let s: Setup;
  beforeAll(async () => {
    s = await setUp('patchcore', { resize: 'letterbox', ...CANVAS }, 2);
  }, 120_000);
  afterAll(async () => s?.refiner.release());

  it('reads the canvas the detector reads, the picture top-left', () => {
    const x = s.refiner.modelInput(s.samples[0]!.image);
    expect([x.width, x.height]).toEqual([CANVAS.width, CANVAS.height]);
    expect(x.content).toEqual({ width: 192, height: 192 });
    expect(s.refiner.model.input.resize).toBe('letterbox');
  });

  itRefinesAtLeastAsWellAsTheDetector(() => s);
});

describe('F2PAD refinement of a tiled PatchCore model', () => {
  let s: Setup;
  beforeAll(async () => {
    s = await setUp('patchcore', TILES, 2);
  }, 120_000);
  afterAll(async () => s?.refiner.release());

  it('scores with the inner model on crops of the whole canvas (its term is position-free)', () => {
    const model = s.refiner.model as TiledModel;
    expect(model).toBeInstanceOf(TiledModel);
    expect(model.inner).toBeInstanceOf(PatchCoreModel);
    expect(s.refiner.frames).toEqual([{ x0: 0, y0: 0, x1: 256, y1: 192, owned: { x0: 0, y0: 0, x1: 256, y1: 192 } }]);
  });

  itRefinesAtLeastAsWellAsTheDetector(() => s);
});

describe('F2PAD refinement of a tiled PaDiM model (per-position Gaussians of the tile)', () => {
  let s: Setup;
  beforeAll(async () => {
    s = await setUp('padim', { ...TILES, tileSize: 192 }, 2);
  }, 120_000);
  afterAll(async () => s?.refiner.release());

  itSolvesEachPartInTheTileThatOwnsIt(() => s, PadimModel);

  it('refines at the original size onto the pasted defect, better than the detector mask', async () => {
    const { detector, refined } = await refineAll(s);
    expect(refined, `mean IoU detector ${detector} refined ${refined}`).toBeGreaterThan(detector);
  }, 120_000);
});

describe('F2PAD refinement of a tiled CFLOW-AD model (flows conditioned on the position in the tile)', () => {
  let s: Setup;
  beforeAll(async () => {
    // 2 coupling blocks per flow keep the fit short, as in f2pad.test.ts
    s = await setUp('cflow', { ...TILES, tileSize: 192, blocks: 2 }, 2);
  }, 180_000);
  afterAll(async () => s?.refiner.release());

  itSolvesEachPartInTheTileThatOwnsIt(() => s, CflowModel);

  itRefinesAtLeastAsWellAsTheDetector(() => s);
});
