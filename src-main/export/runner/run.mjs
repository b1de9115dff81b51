#!/usr/bin/env node
// Scores images with an exported Argus model (this folder), as the station does.
// Needs Node >= 20 with onnxruntime-node and sharp (`npm install` here installs the versions in package.json).
// Usage: node run.mjs <image or folder>... [--json] [--maps <dir>]
//   prints CSV "file,score,verdict" (verdict under threshold.json: pass, review, fail, or unjudged);
//   --json prints one JSON object a line instead, with the map's size; --maps writes each anomaly map
//   as raw little-endian float32 (row-major, the picture's part of the model input) to <dir>/<file>.f32.
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { basename, dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');
const sharp = require('sharp');
sharp.cache(false);

const HERE = dirname(fileURLToPath(import.meta.url));
const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.tif', '.tiff', '.webp']);
const readJson = (name) => JSON.parse(readFileSync(join(HERE, name), 'utf8'));

// ---------------------------------------------------------------- decoding (as the station's vision/image.ts)
const SHARP_OPTIONS = { failOn: 'error', limitInputPixels: 100_000_000, ignoreIcc: true, autoOrient: false, sequentialRead: true };

/** HWC float32 RGB in [0, 1] (grey repeated into three channels, alpha dropped). */
async function decode(path) {
  const buf = readFileSync(path);
  const meta = await sharp(buf, SHARP_OPTIONS).metadata();
  const depth = meta.depth;
  if (depth !== 'uchar' && depth !== 'ushort') throw new Error(`unsupported sample format ${depth}`);
  const sixteen = depth === 'ushort';
  const grey = meta.space === 'b-w' || meta.space === 'grey16' || (meta.space === 'multiband' && meta.channels <= 2);
  const space = grey ? (sixteen ? 'grey16' : 'b-w') : sixteen ? 'rgb16' : 'srgb';
  const { data, info } = await sharp(buf, SHARP_OPTIONS).toColourspace(space).raw({ depth }).toBuffer({ resolveWithObject: true });
  const aligned = sixteen && data.byteOffset % 2 !== 0 ? Buffer.from(data) : data;
  const samples = sixteen ? new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.length / 2) : aligned;
  const { width, height, channels } = info;
  const scale = sixteen ? 65535 : 255;
  const out = new Float32Array(width * height * 3);
  const used = channels <= 2 ? 1 : 3;
  for (let p = 0; p < width * height; p++) {
    for (let c = 0; c < 3; c++) out[p * 3 + c] = samples[p * channels + (used === 1 ? 0 : c)] / scale;
  }
  return { width, height, data: out };
}

// ---------------------------------------------------------------- resize matrices (preprocess.json "resample")
const KERNELS = {
  bilinear: { support: 1, fn: (x) => (Math.abs(x) < 1 ? 1 - Math.abs(x) : 0) },
  bicubic: {
    support: 2,
    fn: (x) => {
      const a = -0.5;
      const t = Math.abs(x);
      if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
      if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
      return 0;
    },
  },
  lanczos: {
    support: 3,
    fn: (x) => {
      const sinc = (v) => (v === 0 ? 1 : Math.sin(v * Math.PI) / (v * Math.PI));
      return x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0;
    },
  },
};

/** [outSize, inSize] row-major: output index d = Σ_x m[d][x] · input[x]. */
function axisMatrix(inSize, outSize, filter) {
  const m = new Float64Array(outSize * inSize);
  if (inSize === outSize) {
    for (let d = 0; d < outSize; d++) m[d * inSize + d] = 1;
    return m;
  }
  if (filter === 'nearest') {
    for (let d = 0; d < outSize; d++) m[d * inSize + Math.min(Math.floor(((d + 0.5) * inSize) / outSize), inSize - 1)] = 1;
    return m;
  }
  const kernel = KERNELS[filter];
  if (!kernel) throw new Error(`unknown filter ${filter}`);
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = kernel.support * filterscale;
  for (let d = 0; d < outSize; d++) {
    const center = (d + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize);
    let sum = 0;
    const w = [];
    for (let x = xmin; x < xmax; x++) {
      const v = kernel.fn((x - center + 0.5) / filterscale);
      w.push(v);
      sum += v;
    }
    for (let i = 0; i < w.length; i++) m[d * inSize + xmin + i] = sum !== 0 ? w[i] / sum : w[i];
  }
  return m;
}

/** The axis matrix onto `inner` outputs, its last row repeated up to `size` rows (letterbox padding). */
function paddedAxis(inSize, inner, size, filter) {
  const inner_ = axisMatrix(inSize, inner, filter);
  const m = new Float64Array(size * inSize);
  for (let d = 0; d < size; d++) m.set(inner_.subarray(Math.min(d, inner - 1) * inSize, (Math.min(d, inner - 1) + 1) * inSize), d * inSize);
  return m;
}

function resizePlan(width, height, pre) {
  const { width: W, height: H } = pre.input;
  let cw = W;
  let ch = H;
  if (pre.resize !== 'stretch') { // 'letterbox', and 'tile': a tiled model's canvas is letterboxed
    const scale = Math.min(W / width, H / height);
    cw = Math.min(W, Math.max(1, Math.round(width * scale)));
    ch = Math.min(H, Math.max(1, Math.round(height * scale)));
  }
  const rows = paddedAxis(height, ch, H, pre.filter);
  const colsT = paddedAxis(width, cw, W, pre.filter);
  const cols = new Float64Array(width * W);
  for (let d = 0; d < W; d++) for (let x = 0; x < width; x++) cols[x * W + d] = colsT[d * width + x];
  return { rows, cols, content: { width: cw, height: ch } };
}

// ---------------------------------------------------------------- scoring
const SESSION_OPTIONS = { executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: availableParallelism() };

export async function openPackage(dir = HERE) {
  const pre = JSON.parse(readFileSync(join(dir, 'preprocess.json'), 'utf8'));
  const threshold = JSON.parse(readFileSync(join(dir, 'threshold.json'), 'utf8'));
  const open = (file) => ort.InferenceSession.create(join(dir, file), SESSION_OPTIONS);
  const preprocess = await open(pre.graph);
  const backbones = [];
  for (const b of pre.backbones) backbones.push({ ...b, session: await open(b.file) });
  const head = await open('head.onnx');
  return { pre, threshold, preprocess, backbones, head };
}

export function verdict(threshold, score) {
  if (!threshold) return 'unjudged';
  if (threshold.reviewLow !== null && threshold.reviewHigh !== null) {
    if (score < threshold.reviewLow) return 'pass';
    return score >= threshold.reviewHigh ? 'fail' : 'review';
  }
  return score >= threshold.imageThreshold ? 'fail' : 'pass';
}

export async function scoreImage(pkg, path) {
  const image = await decode(path);
  const { pre } = pkg;
  const plan = resizePlan(image.width, image.height, pre);
  const f32 = (data, dims) => new ort.Tensor('float32', data, dims);
  const { input } = await pkg.preprocess.run({
    image: f32(image.data, [image.height, image.width, 3]),
    rows: new ort.Tensor('float64', plan.rows, [pre.input.height, image.height]),
    cols: new ort.Tensor('float64', plan.cols, [image.width, pre.input.width]),
  });
  const feeds = {};
  for (const b of pkg.backbones) {
    const out = await b.session.run({ [b.input]: input }, b.taps);
    for (const t of b.taps) feeds[`${b.role}/${t}`] = out[t];
  }
  const { width, height } = plan.content;
  // a tiled model's head takes its score over the picture: its [height, width] in the canvas
  if (pkg.head.inputNames.includes('content')) feeds.content = new ort.Tensor('int64', BigInt64Array.of(BigInt(height), BigInt(width)), [2]);
  const out = await pkg.head.run(feeds);
  const score = out.score.data[0];
  const full = out.map.data;
  const map = new Float32Array(width * height);
  for (let y = 0; y < height; y++) map.set(full.subarray(y * pre.input.width, y * pre.input.width + width), y * width);
  return { score, map, mapWidth: width, mapHeight: height, verdict: verdict(pkg.threshold, score) };
}

function listImages(args) {
  const files = [];
  for (const a of args) {
    if (statSync(a).isDirectory()) {
      for (const f of readdirSync(a).sort()) if (IMAGE_EXTENSIONS.has(extname(f).toLowerCase())) files.push(join(a, f));
    } else files.push(a);
  }
  return files;
}

async function main(argv) {
  const args = [];
  let json = false;
  let maps;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--json') json = true;
    else if (argv[i] === '--maps') maps = argv[++i];
    else args.push(argv[i]);
  }
  if (args.length === 0) {
    console.error('usage: node run.mjs <image or folder>... [--json] [--maps <dir>]');
    return 2;
  }
  if (maps) mkdirSync(maps, { recursive: true });
  const pkg = await openPackage();
  let failures = 0;
  if (!json) console.log('file,score,verdict');
  for (const file of listImages(args)) {
    try {
      const r = await scoreImage(pkg, file);
      if (maps) writeFileSync(join(maps, `${basename(file)}.f32`), Buffer.from(r.map.buffer, r.map.byteOffset, r.map.byteLength));
      if (json) console.log(JSON.stringify({ file, score: r.score, verdict: r.verdict, mapWidth: r.mapWidth, mapHeight: r.mapHeight }));
      else console.log(`${file},${r.score},${r.verdict}`);
    } catch (err) {
      failures++;
      console.error(`${file}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return failures > 0 ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (err) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
}
