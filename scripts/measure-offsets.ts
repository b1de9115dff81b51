/**
 * Measures the pixel offset of every feature output of every backbone in models/manifest.json
 * with impulses, and writes the manifest (other fields are kept; sha256, channels, strides and
 * otherOutputs are refreshed from the files themselves).
 *
 *   npx tsx scripts/measure-offsets.ts                    re-measure every backbone, write the manifest
 *   npx tsx scripts/measure-offsets.ts --check            measure, compare with the manifest (0.05 px), write nothing
 *   npx tsx scripts/measure-offsets.ts --only ID[,ID]     only these backbones
 *   npx tsx scripts/measure-offsets.ts --add FILE.onnx [--id ID] [--license TEXT] [--source TEXT]
 *                                                         register a new backbone (the file already in a models dir)
 *   --rehash          accept a file whose sha256 differs from the manifest (re-registering it)
 *   --max-size N      largest square input tried (default: the manifest's offsetMeasurement.maxInputSize, else 1024)
 *   --manifest PATH   another manifest file
 *
 * Method (models/README.md): on a mid-grey (0.5) N x N image, for two central cells (c, c) and
 * (c+1, c+1), c = N/stride/2 - 1, of each stride, an impulse of +0.25 (all three channels) is swept
 * along the row through the cell centre and along the column through it. That centre lies between
 * two pixel lines, so the impulse covers both (it is centred on the cell centre across the sweep).
 * response(p) = L2 norm over channels of output(impulse at p) - output(grey) at the cell;
 * delta = sum(p * response) / sum(response) - (s*j + (s-1)/2). The sweep window grows until the
 * response is exactly zero at both ends (the edge of the receptive field). N starts at
 * max(64, 8*stride) and grows by x1.5 until the receptive fields of both cells lie inside the image,
 * so that borders and SAME padding play no part: the two cells then agree (printed), and the
 * manifest gets their mean rounded to 0.01 px.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { f32, openSession, setSessionLogger, type Session } from '../src-main/engine/session.ts';
import {
  BackboneError,
  DEFAULT_MANIFEST_PATH,
  MANIFEST_SCHEMA_VERSION,
  cachedSha256,
  findBackboneFile,
  modelSearchDirs,
  parseManifest,
  type BackboneInput,
  type BackboneManifest,
  type BackboneSpec,
  type FeatureTap,
  type OffsetMeasurement,
  type OtherOutput,
} from '../src-main/features/backbones.ts';

export const DEFAULT_MEASUREMENT: OffsetMeasurement = {
  base: 0.5,
  impulse: 0.25,
  maxInputSize: 1024,
  method:
    'scripts/measure-offsets.ts, CPU provider: mid-grey N x N image; an impulse (+0.25 on the 3 channels, covering the ' +
    'two pixel lines through the half-integer cell centre) swept along the row and along the column through the centres ' +
    'of cells (c,c) and (c+1,c+1), c = N/stride/2-1; response = L2 norm over channels of the change at the cell; delta = ' +
    'response-weighted centroid - (s*i+(s-1)/2). N (multiple of input.sizeMultiple) grows from max(64, 8*stride) by x1.5 ' +
    'until both cells\' receptive fields lie inside the image (response exactly 0 at both ends of every sweep), so ' +
    'borders and padding play no part and both cells agree; offset = their mean, rounded to 0.01 px',
};

export const OFFSET_CONVENTION =
  'Pixel p of the input is centred at coordinate p (it spans [p-0.5, p+0.5]). Cell i of a stride-s feature map is ' +
  'centred at s*i + (s-1)/2 + offset (x for columns, y for rows). offset 0 is the centred geometry of a stride-s ' +
  'patch grid, the one that bilinear upsampling by s with half-pixel centres (align_corners=false) assumes.';

export const DEFAULT_INPUT: Omit<BackboneInput, 'name'> = {
  layout: 'NCHW',
  channels: 3,
  range: [0, 1],
  colour: 'RGB',
  sizeMultiple: 32,
  normalisation: 'inside graph (x*255/128-1)',
};

export interface CellDelta {
  readonly cell: { readonly i: number; readonly j: number };
  readonly x: number;
  readonly y: number;
}

export interface MeasuredOffset {
  readonly name: string;
  readonly stride: number;
  /** The square input size the offset was measured at. */
  readonly size: number;
  /** False when even the largest size could not hold the receptive fields (borders may bias the result). */
  readonly interior: boolean;
  /** Unrounded deltas of each measured cell. */
  readonly cells: readonly CellDelta[];
  /** Mean over the cells, rounded to 0.01 px (what the manifest stores). */
  readonly offset: { readonly x: number; readonly y: number };
}

export interface MeasureOptions {
  readonly base: number;
  readonly impulse: number;
  /** Largest square input size tried (default 1024). */
  readonly maxInputSize?: number;
  /** Input sizes are multiples of this (default 32). */
  readonly sizeMultiple?: number;
  /** Images per run (default 16). */
  readonly batch?: number;
  /** Name of the image input (default: the session's first input). */
  readonly inputName?: string;
}

const round2 = (v: number): number => Math.round(v * 100) / 100 + 0; // + 0 turns -0 into 0
const roundUp = (v: number, m: number): number => Math.ceil(v / m) * m;

/** The two central cells measured for a map of n cells: (c, c) and (c+1, c+1). */
export function centralCells(n: number): [number, number] {
  if (n < 2) throw new Error(`a feature map of ${n} cell(s) is too small to measure`);
  const c = Math.floor((n - 1) / 2);
  return [c, c + 1];
}

/** The input sizes tried for a stride: from max(64, 8*stride) up by x1.5 (multiples of `multiple`) to maxSize. */
export function sizeLadder(stride: number, multiple: number, maxSize: number): number[] {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const step = (multiple * stride) / gcd(multiple, stride);
  const sizes: number[] = [];
  for (let s = roundUp(Math.max(64, 8 * stride), step); s <= maxSize; s = roundUp(s * 1.5, step)) sizes.push(s);
  if (sizes.length === 0 || sizes[sizes.length - 1]! < maxSize) sizes.push(roundUp(maxSize, step));
  return sizes;
}

/** The receptive field reached the image border: measure again on a larger image. */
class Clipped extends Error {}

/**
 * Measures the offset of the named 4-D outputs (each of the given stride) of a session by impulse
 * sweeps on mid-grey images (see the file comment). Deterministic on the CPU provider.
 */
export async function measureOffsets(
  session: Session,
  taps: readonly { readonly name: string; readonly stride: number }[],
  opts: MeasureOptions,
): Promise<MeasuredOffset[]> {
  const results = new Map<string, MeasuredOffset>();
  const strides = [...new Set(taps.map((t) => t.stride))].sort((a, b) => a - b);
  for (const s of strides) {
    const group = taps.filter((t) => t.stride === s);
    const ladder = sizeLadder(s, opts.sizeMultiple ?? 32, opts.maxInputSize ?? 1024);
    for (let k = 0; k < ladder.length; k++) {
      const last = k === ladder.length - 1;
      const r = await measureGroup(session, group, s, ladder[k]!, opts, !last);
      if (r) {
        for (const m of r) results.set(m.name, m);
        break;
      }
    }
  }
  return taps.map((t) => results.get(t.name)!);
}

/** One stride group at one size; undefined when a receptive field reaches the border and `strict`. */
async function measureGroup(
  session: Session,
  group: readonly { readonly name: string; readonly stride: number }[],
  s: number,
  size: number,
  opts: MeasureOptions,
  strict: boolean,
): Promise<MeasuredOffset[] | undefined> {
  const { base, impulse } = opts;
  const batch = opts.batch ?? 16;
  const inputName = opts.inputName ?? session.inputNames[0];
  if (inputName === undefined) throw new Error('the model has no input');
  if (size % s !== 0) throw new Error(`input size ${size} is not a multiple of stride ${s}`);
  const plane = size * size;
  const n = size / s;
  const names = group.map((t) => t.name);
  const baseOut = await session.run({ [inputName]: f32(new Float32Array(3 * plane).fill(base), [1, 3, size, size]) }, names);
  for (const t of group) {
    const d = baseOut[t.name]?.dims;
    if (!d || d.length !== 4 || d[2] !== n || d[3] !== n) {
      throw new Error(`output ${t.name}: expected [1, C, ${n}, ${n}] for stride ${s} at ${size}px, got [${d?.join(', ')}]`);
    }
  }

  let interior = true;
  const perTap = group.map((): CellDelta[] => []);
  try {
    for (const c of centralCells(n)) {
      const centre = s * c + (s - 1) / 2; // nominal centre of cell c on either axis
      const cx = await sweep('x', c, centre);
      const cy = await sweep('y', c, centre);
      perTap.forEach((cells, k) => cells.push({ cell: { i: c, j: c }, x: cx[k]! - centre, y: cy[k]! - centre }));
    }
  } catch (err) {
    if (err instanceof Clipped) return undefined;
    throw err;
  }
  return group.map((t, k) => {
    const cells = perTap[k]!;
    const mean = (f: (d: CellDelta) => number): number => round2(cells.reduce((a, d) => a + f(d), 0) / cells.length);
    return { name: t.name, stride: s, size, interior, cells, offset: { x: mean((d) => d.x), y: mean((d) => d.y) } };
  });

  /** Response-weighted centroid (per tap of the group) of an impulse swept along `axis` through cell (c, c). */
  async function sweep(axis: 'x' | 'y', c: number, centre: number): Promise<number[]> {
    // The sweep line passes through the cell centre, which lies between two pixel lines when it is not an integer.
    const across = Number.isInteger(centre) ? [centre] : [Math.floor(centre), Math.ceil(centre)];
    const resp = new Map<number, Float64Array>();
    const zeroAt = (p: number): boolean => resp.get(p)!.every((v) => v === 0);
    const EDGE = 3; // this many exactly-zero positions at a window end: the receptive field ends there
    const zeroRun = (from: number, dir: 1 | -1): boolean => {
      for (let e = 0; e < EDGE; e++) if (!zeroAt(from + dir * e)) return false;
      return true;
    };
    for (let half = 4 * s; ; half *= 2) {
      const lo = Math.max(0, Math.floor(centre - half));
      const hi = Math.min(size - 1, Math.ceil(centre + half));
      const todo: number[] = [];
      for (let p = lo; p <= hi; p++) if (!resp.has(p)) todo.push(p);
      for (let k = 0; k < todo.length; k += batch) {
        const chunk = todo.slice(k, k + batch);
        const r = await respond(chunk, axis, across, c);
        chunk.forEach((p, m) => resp.set(p, r[m]!));
      }
      const loClosed = zeroRun(lo, 1);
      const hiClosed = zeroRun(hi, -1);
      if ((lo === 0 && !loClosed) || (hi === size - 1 && !hiClosed)) {
        if (strict) throw new Clipped();
        interior = false;
      }
      if ((loClosed || lo === 0) && (hiClosed || hi === size - 1)) break;
    }
    return group.map((t, k) => {
      let sw = 0;
      let swp = 0;
      for (const [p, r] of resp) {
        sw += r[k]!;
        swp += p * r[k]!;
      }
      if (!(sw > 0)) throw new Error(`output ${t.name}: no response to the impulse (stride ${s}, axis ${axis})`);
      return swp / sw;
    });
  }

  /** For each position, the L2 change (per tap) at cell (c, c) with the impulse at that position. */
  async function respond(positions: readonly number[], axis: 'x' | 'y', across: readonly number[], c: number): Promise<Float64Array[]> {
    const b = positions.length;
    const img = new Float32Array(b * 3 * plane).fill(base);
    positions.forEach((p, m) => {
      for (const q of across) {
        const [x, y] = axis === 'x' ? [p, q] : [q, p];
        for (let ch = 0; ch < 3; ch++) img[(m * 3 + ch) * plane + y * size + x] = base + impulse;
      }
    });
    const out = await session.run({ [inputName!]: f32(img, [b, 3, size, size]) }, names);
    const res = positions.map(() => new Float64Array(group.length));
    const at = c * n + c;
    group.forEach((t, k) => {
      const o = out[t.name]!;
      const C = o.dims[1]!;
      const od = o.data as Float32Array;
      const bd = baseOut[t.name]!.data as Float32Array;
      for (let m = 0; m < b; m++) {
        let ss = 0;
        for (let ch = 0; ch < C; ch++) {
          const dv = od[(m * C + ch) * n * n + at]! - bd[ch * n * n + at]!;
          ss += dv * dv;
        }
        res[m]![k] = Math.sqrt(ss);
      }
    });
    return res;
  }
}

/** Feature taps (4-D outputs: channels and stride) and other outputs of a model, from one run. */
export async function describeOutputs(
  session: Session,
  size: number,
  inputName: string,
): Promise<{ taps: { name: string; channels: number; stride: number }[]; others: OtherOutput[] }> {
  const out = await session.run({ [inputName]: f32(new Float32Array(3 * size * size).fill(0.5), [1, 3, size, size]) });
  const taps: { name: string; channels: number; stride: number }[] = [];
  const others: OtherOutput[] = [];
  for (const name of session.outputNames) {
    const d = out[name]!.dims;
    if (d.length === 4) {
      const [, C, h, w] = d as [number, number, number, number];
      const stride = size / h;
      if (h !== w || !Number.isInteger(stride)) throw new Error(`output ${name}: cannot infer a stride from [${d.join(', ')}] at ${size}px`);
      taps.push({ name, channels: C, stride });
    } else {
      others.push({ name, shape: ['N', ...d.slice(1)] });
    }
  }
  return { taps, others };
}

// ---------------------------------------------------------------------------------------------
// CLI

interface Args {
  check: boolean;
  rehash: boolean;
  only?: string[];
  add: string[];
  id?: string;
  license?: string;
  source?: string;
  maxSize?: number;
  manifest: string;
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { check: false, rehash: false, add: [], manifest: DEFAULT_MANIFEST_PATH };
  for (let k = 0; k < argv.length; k++) {
    const flag = argv[k]!;
    const value = (): string => {
      const v = argv[++k];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--check': a.check = true; break;
      case '--rehash': a.rehash = true; break;
      case '--only': a.only = value().split(',').filter(Boolean); break;
      case '--add': a.add.push(value()); break;
      case '--id': a.id = value(); break;
      case '--license': a.license = value(); break;
      case '--source': a.source = value(); break;
      case '--max-size': a.maxSize = Number(value()); break;
      case '--manifest': a.manifest = resolve(value()); break;
      case '-h': case '--help':
        console.log(readFileSync(new URL(import.meta.url), 'utf8').split('*/')[0]);
        process.exit(0);
      default: throw new Error(`unknown argument ${flag} (try --help)`);
    }
  }
  if (a.id !== undefined && a.add.length !== 1) throw new Error('--id goes with exactly one --add');
  if (a.maxSize !== undefined && (!Number.isInteger(a.maxSize) || a.maxSize < 64)) throw new Error('--max-size must be an integer of at least 64');
  return a;
}

/** JSON with short arrays/objects on one line. */
function formatJson(v: unknown, indent = ''): string {
  const inline = (x: unknown): string => {
    if (Array.isArray(x)) return `[${x.map(inline).join(', ')}]`;
    if (typeof x === 'object' && x !== null) {
      return `{${Object.entries(x).filter(([, y]) => y !== undefined).map(([k, y]) => `${JSON.stringify(k)}: ${inline(y)}`).join(', ')}}`;
    }
    return JSON.stringify(x);
  };
  const flat = inline(v);
  if (typeof v !== 'object' || v === null || flat.length + indent.length <= 100) return flat;
  const inner = indent + '  ';
  if (Array.isArray(v)) return `[\n${v.map((x) => inner + formatJson(x, inner)).join(',\n')}\n${indent}]`;
  const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
  return `{\n${entries.map(([k, x]) => `${inner}${JSON.stringify(k)}: ${formatJson(x, inner)}`).join(',\n')}\n${indent}}`;
}

function fmt(v: number): string {
  return (v >= 0 ? '+' : '') + v.toFixed(2);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  setSessionLogger(() => {});
  const existing: BackboneManifest | undefined = existsSync(args.manifest)
    ? parseManifest(JSON.parse(readFileSync(args.manifest, 'utf8')), args.manifest)
    : undefined;
  const measurement: OffsetMeasurement = {
    ...(existing?.offsetMeasurement ?? DEFAULT_MEASUREMENT),
    ...(args.maxSize !== undefined ? { maxInputSize: args.maxSize } : {}),
  };
  const backbones: BackboneSpec[] = [...(existing?.backbones ?? [])];

  // Register new files: they must already sit in a models directory (weights are never committed).
  const added = new Set<string>();
  for (const given of args.add) {
    const file = basename(given);
    const found = findBackboneFile(file);
    if (given !== file && resolve(given) !== found) {
      throw new BackboneError(
        'missing',
        `${given}: copy the file into one of ${modelSearchDirs().join(', ')} (or set ARGUS_MODELS_DIR to its directory) and run --add ${file}`,
        { file, searched: modelSearchDirs() },
      );
    }
    const id = args.id ?? file.replace(/\.onnx$/, '');
    if (backbones.some((b) => b.id === id)) throw new Error(`backbone ${id} is already in the manifest; re-measure it with --only ${id}`);
    backbones.push({
      id,
      file,
      sha256: cachedSha256(found),
      input: { name: 'image', ...DEFAULT_INPUT },
      outputs: [],
      otherOutputs: [],
      license: args.license ?? 'unknown: fill in',
      source: args.source ?? 'unknown: fill in',
    });
    added.add(id);
  }
  if (backbones.length === 0) throw new Error(`${args.manifest} does not exist; register backbones with --add FILE.onnx`);

  const selected = args.only ?? (added.size > 0 ? [...added] : backbones.map((b) => b.id));
  for (const id of selected) if (!backbones.some((b) => b.id === id)) throw new Error(`unknown backbone ${id}; valid ids: ${backbones.map((b) => b.id).join(', ')}`);

  let mismatches = 0;
  for (let k = 0; k < backbones.length; k++) {
    const spec = backbones[k]!;
    if (!selected.includes(spec.id)) continue;
    const path = findBackboneFile(spec.file);
    const sha256 = cachedSha256(path);
    if (sha256 !== spec.sha256) {
      const msg = `${path}: sha256 ${sha256} differs from the manifest's ${spec.sha256}`;
      if (!args.rehash || args.check) throw new BackboneError('checksum', `${msg} (pass --rehash to re-register this file)`, { file: path, expected: spec.sha256, actual: sha256 });
      console.warn(`warning: ${msg}; re-registering`);
    }
    const t0 = performance.now();
    const session = await openSession(path, 'cpu');
    try {
      const inputName = session.inputNames.length === 1 ? session.inputNames[0]! : spec.input.name;
      if (!session.inputNames.includes(inputName)) throw new Error(`${spec.file}: no input named ${spec.input.name} (inputs: ${session.inputNames.join(', ')})`);
      const describeSize = roundUp(256, spec.input.sizeMultiple);
      const { taps, others } = await describeOutputs(session, describeSize, inputName);
      const measured = await measureOffsets(session, taps, {
        base: measurement.base,
        impulse: measurement.impulse,
        maxInputSize: measurement.maxInputSize,
        sizeMultiple: spec.input.sizeMultiple,
        inputName,
      });
      console.log(`\n${spec.id} (${spec.file}, ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
      console.log('  output          ch  stride  size | cell  delta x  delta y | cell  delta x  delta y | offset x  offset y');
      const outputs: FeatureTap[] = taps.map((t, n) => {
        const m = measured[n]!;
        const [a, b] = m.cells as [CellDelta, CellDelta];
        console.log(
          `  ${t.name.padEnd(14)} ${String(t.channels).padStart(4)} ${String(t.stride).padStart(6)} ${String(m.size).padStart(5)} | ` +
            `${String(a.cell.i).padStart(4)}  ${fmt(a.x).padStart(7)}  ${fmt(a.y).padStart(7)} | ` +
            `${String(b.cell.i).padStart(4)}  ${fmt(b.x).padStart(7)}  ${fmt(b.y).padStart(7)} | ` +
            `${fmt(m.offset.x).padStart(8)}  ${fmt(m.offset.y).padStart(8)}`,
        );
        if (!m.interior) console.log(`    ! receptive field larger than ${m.size}px: borders may bias this offset (raise --max-size)`);
        if (Math.abs(a.x - b.x) > 0.05 || Math.abs(a.y - b.y) > 0.05) console.log('    ! the two cells disagree by more than 0.05 px');
        const old = spec.outputs.find((o) => o.name === t.name);
        if (old && (Math.abs(old.offset.x - m.offset.x) > 0.05 || Math.abs(old.offset.y - m.offset.y) > 0.05)) {
          mismatches++;
          console.log(`    ! manifest has (${fmt(old.offset.x)}, ${fmt(old.offset.y)})`);
        }
        if (old && (old.channels !== t.channels || old.stride !== t.stride)) {
          mismatches++;
          console.log(`    ! manifest has ${old.channels} channels, stride ${old.stride}`);
        }
        if (!old && !added.has(spec.id)) {
          mismatches++;
          console.log('    ! not in the manifest');
        }
        return { name: t.name, channels: t.channels, stride: t.stride, offset: m.offset };
      });
      for (const o of spec.outputs) {
        if (!taps.some((t) => t.name === o.name)) {
          mismatches++;
          console.log(`  ! the manifest lists ${o.name}, which the model does not output as a feature map`);
        }
      }
      if (others.length > 0) console.log(`  other outputs: ${others.map((o) => `${o.name} [${o.shape.join(', ')}]`).join(', ')}`);
      backbones[k] = { ...spec, sha256, input: { ...spec.input, name: inputName }, outputs, otherOutputs: others };
    } finally {
      await session.release();
    }
  }

  if (args.check) {
    console.log(mismatches === 0 ? '\nmanifest reproduced (within 0.05 px)' : `\n${mismatches} difference(s) from the manifest`);
    process.exitCode = mismatches === 0 ? 0 : 1;
    return;
  }
  const manifest = {
    schemaVersion: MANIFEST_SCHEMA_VERSION,
    offsetConvention: existing?.offsetConvention ?? OFFSET_CONVENTION,
    offsetMeasurement: measurement,
    backbones,
  };
  parseManifest(manifest, 'about to be written'); // never write something loadManifest() rejects
  writeFileSync(args.manifest, `${formatJson(manifest)}\n`);
  console.log(`\nwrote ${args.manifest}`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
