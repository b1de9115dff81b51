/**
 * Measures the pixel offset of every feature output of every backbone in models/manifest.json
 * with impulses, and writes the manifest (other fields are kept; sha256, channels and strides are
 * refreshed from the files themselves).
 *
 *   npx tsx scripts/measure-offsets.ts                    re-measure every backbone, write manifest
 *   npx tsx scripts/measure-offsets.ts --check            measure, compare with the manifest, write nothing
 *   npx tsx scripts/measure-offsets.ts --only ID[,ID]     only these backbones
 *   npx tsx scripts/measure-offsets.ts --add FILE.onnx [--id ID] [--license TEXT] [--source TEXT]
 *                                                         register a new backbone (file in a models dir)
 *   --rehash        accept a file whose sha256 differs from the manifest (re-registering it)
 *   --size N        square input size (default: the manifest's offsetMeasurement.inputSize, else 256)
 *   --manifest P    another manifest file
 *
 * Method (see models/README.md): on a mid-grey image (0.5) of N x N pixels, for two central cells
 * (c, c) and (c+1, c+1), c = N/stride/2 - 1, of each stride, an impulse of +0.25 (all three
 * channels) is swept along the row through the cell centre and along the column through it. The
 * centre lies between two pixel rows (columns), so the impulse covers both: it is centred on the
 * cell centre across the sweep. response(p) = L2 norm over channels of output(impulse at p) -
 * output(grey) at the cell; delta = sum(p*response)/sum(response) - (s*j + (s-1)/2). The sweep
 * window grows until the response is exactly zero at both ends (the receptive field's edge) or
 * reaches the image border. The manifest gets the mean of the two cells, rounded to 0.01 px.
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
  inputSize: 256,
  base: 0.5,
  impulse: 0.25,
  method:
    'scripts/measure-offsets.ts: mid-grey image, +impulse (3 channels) swept along the row and the column through the ' +
    'centres of cells (c,c) and (c+1,c+1), c = size/stride/2-1; response = L2 norm over channels of the change at the ' +
    'cell; delta = response-weighted centroid - (s*i+(s-1)/2); mean of the two cells, rounded to 0.01 px; CPU provider',
};

export const OFFSET_CONVENTION =
  'Pixel p of the input is centred at coordinate p (it spans [p-0.5, p+0.5]). Cell i of a stride-s feature map is ' +
  'centred at s*i + (s-1)/2 + offset (x for columns, y for rows); offset 0 is the PyTorch-style centred geometry.';

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
  /** Unrounded deltas of each measured cell. */
  readonly cells: readonly CellDelta[];
  /** Mean over the cells, rounded to 0.01 px (what the manifest stores). */
  readonly offset: { readonly x: number; readonly y: number };
}

export interface MeasureOptions {
  readonly size: number;
  readonly base: number;
  readonly impulse: number;
  /** Images per run (default 16). */
  readonly batch?: number;
  /** Name of the image input (default: the session's only input). */
  readonly inputName?: string;
}

const round2 = (v: number): number => Math.round(v * 100) / 100 + 0; // + 0 turns -0 into 0

/** The two central cells measured for a map of n cells: (c, c) and (c+1, c+1). */
export function centralCells(n: number): [number, number] {
  if (n < 2) throw new Error(`a feature map of ${n} cell(s) is too small to measure; use a larger --size`);
  const c = Math.floor((n - 1) / 2);
  return [c, c + 1];
}

/**
 * Measures the offset of the named 4-D outputs (each of the given stride) of a session, by impulse
 * sweeps on a size x size mid-grey image. Deterministic on the CPU provider.
 */
export async function measureOffsets(
  session: Session,
  taps: readonly { readonly name: string; readonly stride: number }[],
  opts: MeasureOptions,
): Promise<MeasuredOffset[]> {
  const { size, base, impulse } = opts;
  const batch = opts.batch ?? 16;
  const inputName = opts.inputName ?? session.inputNames[0];
  if (inputName === undefined) throw new Error('the model has no input');
  const plane = size * size;
  const names = taps.map((t) => t.name);
  const baseImage = new Float32Array(3 * plane).fill(base);
  const baseOut = await session.run({ [inputName]: f32(baseImage, [1, 3, size, size]) }, names);

  const results = new Map<string, MeasuredOffset>();
  const strides = [...new Set(taps.map((t) => t.stride))].sort((a, b) => a - b);
  for (const s of strides) {
    const group = taps.filter((t) => t.stride === s);
    if (size % s !== 0) throw new Error(`input size ${size} is not a multiple of stride ${s}`);
    const n = size / s;
    for (const t of group) {
      const d = baseOut[t.name]?.dims;
      if (!d || d.length !== 4 || d[2] !== n || d[3] !== n) {
        throw new Error(`output ${t.name}: expected [1, C, ${n}, ${n}] for stride ${s} at ${size}px, got [${d?.join(', ')}]`);
      }
    }
    const perTap = new Map<string, CellDelta[]>(group.map((t) => [t.name, []]));
    for (const c of centralCells(n)) {
      const centre = s * c + (s - 1) / 2; // nominal centre of cell c on either axis
      const dx = await sweep(s, 'x', c, centre);
      const dy = await sweep(s, 'y', c, centre);
      group.forEach((t, k) => perTap.get(t.name)!.push({ cell: { i: c, j: c }, x: dx[k]! - centre, y: dy[k]! - centre }));
    }
    for (const t of group) {
      const cells = perTap.get(t.name)!;
      const mean = (f: (d: CellDelta) => number): number => round2(cells.reduce((a, d) => a + f(d), 0) / cells.length);
      results.set(t.name, { name: t.name, stride: s, cells, offset: { x: mean((d) => d.x), y: mean((d) => d.y) } });
    }

    /** Response-weighted centroid (per tap of the group) of an impulse swept along `axis` through cell (c, c). */
    async function sweep(stride: number, axis: 'x' | 'y', c: number, centre: number): Promise<number[]> {
      // The sweep line passes through the cell centre, which lies between two pixel lines when it is not an integer.
      const across = Number.isInteger(centre) ? [centre] : [Math.floor(centre), Math.ceil(centre)];
      const resp = new Map<number, Float64Array>();
      const zeroAt = (p: number): boolean => resp.get(p)!.every((v) => v === 0);
      const EDGE = 3; // this many exactly-zero positions at a window end: the receptive field ends there
      for (let half = 4 * stride; ; half *= 2) {
        const lo = Math.max(0, Math.floor(centre - half));
        const hi = Math.min(size - 1, Math.ceil(centre + half));
        const todo: number[] = [];
        for (let p = lo; p <= hi; p++) if (!resp.has(p)) todo.push(p);
        for (let k = 0; k < todo.length; k += batch) {
          const chunk = todo.slice(k, k + batch);
          const r = await respond(chunk, axis, across, c);
          chunk.forEach((p, m) => resp.set(p, r[m]!));
        }
        let closed = true;
        if (lo > 0) for (let e = 0; e < EDGE; e++) closed &&= zeroAt(lo + e);
        if (hi < size - 1) for (let e = 0; e < EDGE; e++) closed &&= zeroAt(hi - e);
        if (closed) break;
      }
      return group.map((_, k) => {
        let sw = 0;
        let swp = 0;
        for (const [p, r] of resp) {
          sw += r[k]!;
          swp += p * r[k]!;
        }
        if (!(sw > 0)) throw new Error(`output ${group[k]!.name}: no response to the impulse (stride ${stride}, axis ${axis})`);
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
      group.forEach((t, k) => {
        const o = out[t.name]!;
        const bo = baseOut[t.name]!;
        const C = o.dims[1]!;
        const od = o.data as Float32Array;
        const bd = bo.data as Float32Array;
        const at = (c * n + c) as number;
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
  return taps.map((t) => results.get(t.name)!);
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
  size?: number;
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
      case '--size': a.size = Number(value()); break;
      case '--manifest': a.manifest = resolve(value()); break;
      case '-h': case '--help':
        console.log(readFileSync(new URL(import.meta.url), 'utf8').split('*/')[0]);
        process.exit(0);
      default: throw new Error(`unknown argument ${flag} (try --help)`);
    }
  }
  if (a.id !== undefined && a.add.length !== 1) throw new Error('--id goes with exactly one --add');
  if (a.size !== undefined && (!Number.isInteger(a.size) || a.size % 32 !== 0 || a.size < 64)) throw new Error('--size must be a multiple of 32, at least 64');
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
    ...(args.size !== undefined ? { inputSize: args.size } : {}),
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
  const size = measurement.inputSize;
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
      const { taps, others } = await describeOutputs(session, size, inputName);
      const measured = await measureOffsets(session, taps, { size, base: measurement.base, impulse: measurement.impulse, inputName });
      console.log(`\n${spec.id} (${spec.file}, ${size}x${size}, ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
      console.log('  output          ch  stride  cell (i=j)  delta x  delta y | cell (i=j)  delta x  delta y | offset x  offset y');
      const outputs: FeatureTap[] = taps.map((t, n) => {
        const m = measured[n]!;
        const [a, b] = m.cells as [CellDelta, CellDelta];
        console.log(
          `  ${t.name.padEnd(14)} ${String(t.channels).padStart(4)} ${String(t.stride).padStart(6)}  ` +
            `${String(a.cell.i).padStart(9)}  ${fmt(a.x).padStart(7)}  ${fmt(a.y).padStart(7)} | ` +
            `${String(b.cell.i).padStart(9)}  ${fmt(b.x).padStart(7)}  ${fmt(b.y).padStart(7)} | ` +
            `${fmt(m.offset.x).padStart(8)}  ${fmt(m.offset.y).padStart(8)}`,
        );
        const old = spec.outputs.find((o) => o.name === t.name);
        if (old && (Math.abs(old.offset.x - m.offset.x) > 0.05 || Math.abs(old.offset.y - m.offset.y) > 0.05)) {
          mismatches++;
          console.log(`    ! manifest has (${fmt(old.offset.x)}, ${fmt(old.offset.y)})`);
        }
        if (old && (old.channels !== t.channels || old.stride !== t.stride)) {
          mismatches++;
          console.log(`    ! manifest has ${old.channels} channels, stride ${old.stride}`);
        }
        return { name: t.name, channels: t.channels, stride: t.stride, offset: m.offset };
      });
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
