/**
 * The F2PAD evaluation set (seed §IV-A1, eq. 16): cut-paste defects with exact masks,
 * X = (1 − M_s) ⊙ I + M_s ⊙ S, built deterministically from a dataset and a seed.
 *
 * - Host I: a normal image never fitted on: test/good plus a held-back third of train/good (every
 *   third image, starting at the second); the rest of train/good is what the detector is fitted on.
 * - Mask source M_s: a real defect mask of the dataset (ground_truth/*), cropped to its bounding box,
 *   randomly resized (longer side uniform in [minSide, maxSide] × the host's shorter side; nearest) and
 *   placed uniformly at random fully inside the host.
 * - Anomaly source S: a random colour (uniform RGB) clearly different from the host under the mask
 *   (mean distance ≥ 0.3 and at most 5 % of the pixels within 0.15, in [0, 1] RGB; redrawn up to 64
 *   times, else the farthest draw is kept); or, for parts with left/right structure (opt-in fraction),
 *   the horizontally mirrored location of another normal (fitting) image pasted in.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { readImage, type RasterImage } from '../vision/image.ts';
import { toRgb } from '../vision/resample.ts';
import { readMask, resizeMaskNearest, type BinaryMask } from '../vision/mask.ts';
import { toBytes } from '../vision/picture.ts';
import { writePng } from '../vision/overlay.ts';
import { Random } from '../util/random.ts';
import type { Dataset, DatasetImage } from '../datasets/mvtec.ts';

export interface CutPasteOptions {
  readonly count: number;
  readonly seed: number;
  /** Fraction of samples whose anomaly source is the other side of another normal image (default 0). */
  readonly structural: number;
  readonly minSide: number;
  readonly maxSide: number;
}

export const CUTPASTE_DEFAULTS: CutPasteOptions = { count: 54, seed: 0, structural: 0, minSide: 0.1, maxSide: 0.3 };

export interface CutPasteSample {
  readonly name: string;
  readonly image: RasterImage;
  readonly mask: BinaryMask;
  readonly host: string;
  readonly maskSource: string;
  readonly kind: 'colour' | 'structural';
  readonly colour?: readonly [number, number, number];
}

export interface CutPasteSplit {
  /** train/good images the detector is fitted on. */
  readonly fit: DatasetImage[];
  /** Normal images never fitted on (hosts). */
  readonly hosts: DatasetImage[];
  /** Defect masks available as mask sources. */
  readonly maskSources: string[];
}

export function splitForCutPaste(dataset: Dataset): CutPasteSplit {
  const fit: DatasetImage[] = [];
  const heldBack: DatasetImage[] = [];
  dataset.train.forEach((e, i) => (i % 3 === 1 ? heldBack : fit).push(e));
  const hosts = [...dataset.test.filter((e) => !e.defective), ...heldBack];
  const maskSources = dataset.test.filter((e) => e.defective && e.maskPath).map((e) => e.maskPath!);
  if (hosts.length === 0) throw new RangeError(`${dataset.name}: no normal images to host cut-paste defects`);
  if (maskSources.length === 0) throw new RangeError(`${dataset.name}: no ground-truth defect masks to use as mask sources`);
  return { fit, hosts, maskSources };
}

interface CroppedMask {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

function cropToContent(m: BinaryMask): CroppedMask | undefined {
  let x0 = m.width, y0 = m.height, x1 = -1, y1 = -1;
  for (let y = 0; y < m.height; y++) for (let x = 0; x < m.width; x++) if (m.data[y * m.width + x]) {
    x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
  }
  if (x1 < 0) return undefined;
  const width = x1 - x0 + 1;
  const height = y1 - y0 + 1;
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) data.set(m.data.subarray((y0 + y) * m.width + x0, (y0 + y) * m.width + x0 + width), y * width);
  return { width, height, data };
}

/** Builds the set; `fitImages` (optional) are the structural anomaly sources (default: split.fit). */
export async function buildCutPasteSet(dataset: Dataset, options: Partial<CutPasteOptions> = {}): Promise<{ split: CutPasteSplit; samples: CutPasteSample[] }> {
  const o = { ...CUTPASTE_DEFAULTS, ...options };
  const split = splitForCutPaste(dataset);
  const rng = new Random(o.seed);
  // a fixed host order: shuffled once, then cycled, so every host is used before any repeats
  const hostOrder = shuffle(split.hosts.map((_, i) => i), rng);
  const masks = new Map<string, CroppedMask | undefined>();
  const samples: CutPasteSample[] = [];
  for (let j = 0; j < o.count; j++) {
    const hostEntry = split.hosts[hostOrder[j % hostOrder.length]!]!;
    const host = toRgb(await readImage(hostEntry.path));
    const W = host.width;
    const H = host.height;
    // mask source: draw until a non-empty one fits
    let placed: Uint8Array | undefined;
    let source = '';
    for (let attempt = 0; attempt < 32 && !placed; attempt++) {
      source = split.maskSources[rng.int(split.maskSources.length)]!;
      if (!masks.has(source)) masks.set(source, cropToContent(await readMask(source)));
      const m = masks.get(source);
      const side = o.minSide + (o.maxSide - o.minSide) * rng.next();
      if (!m) continue;
      const scale = (side * Math.min(W, H)) / Math.max(m.width, m.height);
      const w = Math.max(1, Math.min(W, Math.round(m.width * scale)));
      const h = Math.max(1, Math.min(H, Math.round(m.height * scale)));
      const r = resizeMaskNearest(m, w, h);
      let area = 0;
      for (const v of r.data) area += v;
      if (area < 16) continue;
      const ox = rng.int(W - w + 1);
      const oy = rng.int(H - h + 1);
      placed = new Uint8Array(W * H);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (r.data[y * w + x]) placed[(oy + y) * W + ox + x] = 1;
    }
    if (!placed) throw new RangeError(`${dataset.name}: could not place a mask source on ${hostEntry.path}`);
    const structural = rng.next() < o.structural && split.fit.length > 0;
    const image = new Float32Array(host.data);
    let colour: [number, number, number] | undefined;
    if (structural) {
      const donorEntry = split.fit[rng.int(split.fit.length)]!;
      const donorImg = toRgb(await readImage(donorEntry.path));
      for (let p = 0; p < W * H; p++) {
        if (!placed[p]) continue;
        const y = Math.floor(p / W);
        const x = p % W;
        // mirrored location in the donor, scaled to the donor's size
        const sx = Math.min(donorImg.width - 1, Math.floor(((W - 1 - x) * donorImg.width) / W));
        const sy = Math.min(donorImg.height - 1, Math.floor((y * donorImg.height) / H));
        for (let c = 0; c < 3; c++) image[p * 3 + c] = donorImg.data[(sy * donorImg.width + sx) * 3 + c]!;
      }
    } else {
      colour = pickColour(host, placed, rng);
      for (let p = 0; p < W * H; p++) if (placed[p]) for (let c = 0; c < 3; c++) image[p * 3 + c] = colour[c]!;
    }
    samples.push({
      name: `cutpaste_${String(j).padStart(3, '0')}`,
      image: { width: W, height: H, channels: 3, data: image },
      mask: { width: W, height: H, data: placed },
      host: hostEntry.path,
      maskSource: source,
      kind: structural ? 'structural' : 'colour',
      ...(colour ? { colour } : {}),
    });
  }
  return { split, samples };
}

function pickColour(host: RasterImage, mask: Uint8Array, rng: Random): [number, number, number] {
  let best: [number, number, number] = [0, 0, 0];
  let bestMean = -1;
  for (let attempt = 0; attempt < 64; attempt++) {
    const c: [number, number, number] = [rng.next(), rng.next(), rng.next()];
    let sum = 0;
    let close = 0;
    let n = 0;
    for (let p = 0; p < mask.length; p++) {
      if (!mask[p]) continue;
      const d = Math.hypot(c[0] - host.data[p * 3]!, c[1] - host.data[p * 3 + 1]!, c[2] - host.data[p * 3 + 2]!);
      sum += d;
      if (d < 0.15) close++;
      n++;
    }
    const mean = sum / Math.max(n, 1);
    if (mean >= 0.3 && close <= 0.05 * n) return c;
    if (mean > bestMean) { bestMean = mean; best = c; }
  }
  return best;
}

function shuffle<T>(items: T[], rng: Random): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/**
 * Writes the set as an MVTec-layout folder the station can import: train/good (copies of the fitting
 * images), test/cutpaste/<name>.png and ground_truth/cutpaste/<name>_mask.png (0/255).
 */
export async function writeCutPasteSet(out: string, split: CutPasteSplit, samples: readonly CutPasteSample[]): Promise<void> {
  const train = join(out, 'train', 'good');
  const test = join(out, 'test', 'cutpaste');
  const truth = join(out, 'ground_truth', 'cutpaste');
  for (const d of [train, test, truth]) mkdirSync(d, { recursive: true });
  for (const e of split.fit) copyFileSync(e.path, join(train, `${basename(e.path, extname(e.path))}${extname(e.path)}`));
  for (const s of samples) {
    await writePng(join(test, `${s.name}.png`), toBytes(s.image), s.image.width, s.image.height);
    const m = new Uint8Array(s.mask.data.length * 3);
    for (let i = 0; i < s.mask.data.length; i++) m[i * 3] = m[i * 3 + 1] = m[i * 3 + 2] = s.mask.data[i] ? 255 : 0;
    await writePng(join(truth, `${s.name}_mask.png`), m, s.mask.width, s.mask.height);
  }
}
