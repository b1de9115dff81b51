/**
 * The backbone manifest (models/manifest.json): which pretrained ONNX files the project can use,
 * their input convention, their named feature outputs (channels, stride, measured pixel offset)
 * and their sha256. Weights are data, never committed: files are looked up in ARGUS_MODELS_DIR,
 * else the project's models/, else ../shared/models, and verified against the manifest before use.
 *
 * Offset convention (see models/README.md): the centre of input pixel p is coordinate p, and the
 * cell i of a stride-s feature map is centred at s*i + (s-1)/2 + offset. offset = 0 is the
 * PyTorch-style centred geometry; TF "SAME" backbones have offsets of a few pixels.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pooledSession, type Session } from '../engine/session.ts';

export const DEFAULT_BACKBONE = 'mobilenet_v2_features';
export const MANIFEST_SCHEMA_VERSION = 1;

/** A named 4-D feature output `[N, channels, H/stride, W/stride]`. */
export interface FeatureTap {
  readonly name: string;
  readonly channels: number;
  readonly stride: number;
  /** Measured centre offset in input pixels: cell i is centred at stride*i + (stride-1)/2 + offset. */
  readonly offset: { readonly x: number; readonly y: number };
}

/** A non-spatial output (logits, probabilities, embeddings); `shape` uses "N" for the batch. */
export interface OtherOutput {
  readonly name: string;
  readonly shape: readonly (number | string)[];
}

export interface BackboneInput {
  readonly name: string;
  readonly layout: 'NCHW';
  readonly channels: number;
  /** Value range the graph expects, e.g. [0, 1]. */
  readonly range: readonly [number, number];
  readonly colour: 'RGB' | 'BGR';
  /** H and W must be multiples of this. */
  readonly sizeMultiple: number;
  /** Where and how normalisation happens (free text, e.g. "inside graph (x*255/128-1)"). */
  readonly normalisation: string;
}

export interface BackboneSpec {
  readonly id: string;
  /** File name (no directory) looked up in the models directories. */
  readonly file: string;
  /** Full lowercase hex sha256 of the file. */
  readonly sha256: string;
  readonly input: BackboneInput;
  readonly outputs: readonly FeatureTap[];
  readonly otherOutputs: readonly OtherOutput[];
  readonly license: string;
  readonly source: string;
  readonly notes?: string;
}

/** How the offsets were measured (recorded so that they can be reproduced). */
export interface OffsetMeasurement {
  /** Grey level of the base image. */
  readonly base: number;
  /** Impulse added to the base. */
  readonly impulse: number;
  /** Largest square input the measurement may use (it grows until receptive fields fit). */
  readonly maxInputSize: number;
  readonly method: string;
}

export interface BackboneManifest {
  readonly schemaVersion: number;
  readonly offsetConvention: string;
  readonly offsetMeasurement: OffsetMeasurement;
  readonly backbones: readonly BackboneSpec[];
}

export type BackboneErrorCode = 'missing' | 'checksum' | 'unknown-id' | 'unknown-output' | 'manifest';

/** Every failure to find, verify or describe a backbone. */
export class BackboneError extends Error {
  override readonly name = 'BackboneError';
  constructor(
    readonly code: BackboneErrorCode,
    message: string,
    readonly details: {
      readonly file?: string;
      readonly searched?: readonly string[];
      readonly expected?: string;
      readonly actual?: string;
      /** What a backbone lacks, as 'has no …' completes it ('unknown-output'). */
      readonly missing?: string;
    } = {},
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------
// Locations

function findProjectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  // Not found (unusual packaging): this file lives in <root>/src-main/features/.
  return fileURLToPath(new URL('../../', import.meta.url));
}

/** The project root, found from this file's location (not the working directory). */
export const PROJECT_ROOT: string = findProjectRoot();
export const DEFAULT_MANIFEST_PATH: string = join(PROJECT_ROOT, 'models', 'manifest.json');

/**
 * The directories searched for backbone files, in order: only ARGUS_MODELS_DIR when it is set
 * (resolved against the working directory), else the project's models/ then ../shared/models.
 */
export function modelSearchDirs(): string[] {
  const env = process.env['ARGUS_MODELS_DIR'];
  if (env !== undefined && env !== '') return [resolve(env)];
  return [join(PROJECT_ROOT, 'models'), resolve(PROJECT_ROOT, '..', 'shared', 'models')];
}

/**
 * The models directory to use for `file` (default: the default backbone's file): ARGUS_MODELS_DIR
 * if set, else the project's models/ if it holds the file, else ../shared/models.
 */
export function resolveModelsDir(file?: string): string {
  const name = file ?? `${DEFAULT_BACKBONE}.onnx`;
  const dirs = modelSearchDirs();
  for (const d of dirs) if (existsSync(join(d, name))) return d;
  return dirs[dirs.length - 1]!;
}

/** The first existing location of `file` in the search directories (not verified). */
export function findBackboneFile(file: string): string {
  const searched = modelSearchDirs();
  for (const d of searched) {
    const p = join(d, file);
    if (existsSync(p)) return p;
  }
  throw new BackboneError(
    'missing',
    `Backbone file ${file} not found; searched: ${searched.join(', ')}. ` +
      'Put the file in one of these directories (or set ARGUS_MODELS_DIR); see models/README.md.',
    { file, searched },
  );
}

// ---------------------------------------------------------------------------------------------
// Verification

/** sha256 of a file, read in chunks (backbones can be hundreds of MB). */
export function sha256File(path: string): string {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 20);
  const fd = openSync(path, 'r');
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

const hashCache = new Map<string, { mtimeMs: number; size: number; sha256: string }>();

/** sha256 of a file, cached per path + mtime + size for the life of the process. */
export function cachedSha256(path: string): string {
  const abs = resolve(path);
  const st = statSync(abs);
  const hit = hashCache.get(abs);
  if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit.sha256;
  const sha256 = sha256File(abs);
  hashCache.set(abs, { mtimeMs: st.mtimeMs, size: st.size, sha256 });
  return sha256;
}

/** Forgets cached hashes (tests). */
export function clearBackboneHashCache(): void {
  hashCache.clear();
}

/**
 * The absolute path of backbone `id`, verified against the manifest's sha256. Throws a
 * BackboneError when the id is unknown, the file is in none of the search directories, or its
 * checksum differs. Synchronous, so it fits `pooledSession(key, () => backbonePath(id))`.
 */
export function backbonePath(id: string, manifest?: BackboneManifest): string {
  const spec = getBackbone(id, manifest);
  const path = findBackboneFile(spec.file);
  const actual = cachedSha256(path);
  if (actual !== spec.sha256) {
    throw new BackboneError(
      'checksum',
      `Backbone file ${path} does not match the manifest: expected sha256 ${spec.sha256}, actual ${actual}. ` +
        'The file is corrupt or a different model; replace it, or re-register it (models/README.md).',
      { file: path, expected: spec.sha256, actual },
    );
  }
  return path;
}

/**
 * The shared pooled session of a verified backbone (pool key: its absolute path). Errors from
 * lookup and verification come back as a rejected promise.
 */
export function backboneSession(id: string = DEFAULT_BACKBONE): Promise<Session> {
  try {
    const path = backbonePath(id);
    return pooledSession(path, () => path);
  } catch (err) {
    return Promise.reject(err);
  }
}

// ---------------------------------------------------------------------------------------------
// Manifest

let cached: { path: string; mtimeMs: number; size: number; manifest: BackboneManifest } | undefined;

/** Reads and validates a manifest file (default: the project's models/manifest.json). */
export function loadManifest(path: string = DEFAULT_MANIFEST_PATH): BackboneManifest {
  const abs = resolve(path);
  let st;
  try {
    st = statSync(abs);
  } catch {
    throw new BackboneError('manifest', `Backbone manifest ${abs} not found`, { file: abs });
  }
  if (cached && cached.path === abs && cached.mtimeMs === st.mtimeMs && cached.size === st.size) return cached.manifest;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(abs, 'utf8'));
  } catch (err) {
    throw new BackboneError('manifest', `Backbone manifest ${abs} is not valid JSON: ${(err as Error).message}`, { file: abs });
  }
  const manifest = parseManifest(json, abs);
  cached = { path: abs, mtimeMs: st.mtimeMs, size: st.size, manifest };
  return manifest;
}

/** The spec of backbone `id`; an unknown id is a BackboneError listing the valid ids. */
export function getBackbone(id: string, manifest: BackboneManifest = loadManifest()): BackboneSpec {
  const spec = manifest.backbones.find((b) => b.id === id);
  if (!spec) {
    const valid = manifest.backbones.map((b) => b.id);
    throw new BackboneError('unknown-id', `Unknown backbone "${id}"; valid ids: ${valid.join(', ')}`);
  }
  return spec;
}

/** A feature output of a backbone by name; an unknown name lists the valid ones. */
export function featureTap(spec: BackboneSpec, name: string): FeatureTap {
  const tap = spec.outputs.find((t) => t.name === name);
  if (!tap) {
    throw new BackboneError(
      'unknown-output',
      `Backbone ${spec.id} has no feature output "${name}"; feature outputs: ${spec.outputs.map((t) => t.name).join(', ')}`,
    );
  }
  return tap;
}

/**
 * Taps of backbone `from` carried over to backbone `to`: each replaced by the output of `to` with the
 * same stride and the most channels (MobileNetV2's feat_s8_exp becomes MobileNetV1's feat_s8), so a
 * method's layer-2/layer-3 analogue stays one on any backbone. A stride `to` lacks is a BackboneError.
 */
export function equivalentTaps(taps: readonly string[], from: BackboneSpec, to: BackboneSpec): string[] {
  return taps.map((name) => {
    const { stride } = featureTap(from, name);
    const same = to.outputs.filter((t) => t.stride === stride);
    if (same.length === 0) {
      const missing = `feature output of stride ${stride} (for ${from.id}'s ${name})`;
      throw new BackboneError('unknown-output', `Backbone ${to.id} has no ${missing}; strides: ${[...new Set(to.outputs.map((t) => t.stride))].join(', ')}`, { missing });
    }
    return same.reduce((best, t) => (t.channels > best.channels ? t : best)).name;
  });
}

/** Input-pixel coordinates (pixel p centred at p) of the centre of cell (row i, column j). */
export function cellCentre(tap: FeatureTap, i: number, j: number): { x: number; y: number } {
  const s = tap.stride;
  return { x: s * j + (s - 1) / 2 + tap.offset.x, y: s * i + (s - 1) / 2 + tap.offset.y };
}

// ---------------------------------------------------------------------------------------------
// Runtime validation

const NO_VALUE: unique symbol = Symbol('no value');

class Check {
  constructor(private readonly where: string) {}
  fail(field: string, msg: string, value: unknown = NO_VALUE): never {
    const got = value === NO_VALUE ? '' : `, got ${value === undefined ? 'undefined' : JSON.stringify(value)}`;
    throw new BackboneError('manifest', `Invalid backbone manifest${this.where}: ${field || '(root)'}: ${msg}${got}`);
  }
  object(v: unknown, field: string, keys: { required: readonly string[]; optional?: readonly string[] }): Record<string, unknown> {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(field, 'expected an object', v);
    const o = v as Record<string, unknown>;
    for (const k of keys.required) if (!(k in o)) this.fail(`${field}.${k}`.replace(/^\./, ''), 'missing');
    const known = new Set([...keys.required, ...(keys.optional ?? [])]);
    for (const k of Object.keys(o)) if (!known.has(k)) this.fail(`${field}.${k}`.replace(/^\./, ''), 'unknown field');
    return o;
  }
  array(v: unknown, field: string): unknown[] {
    if (!Array.isArray(v)) this.fail(field, 'expected an array', v);
    return v;
  }
  string(v: unknown, field: string): string {
    if (typeof v !== 'string' || v.trim() === '') this.fail(field, 'expected a non-empty string', v);
    return v;
  }
  finite(v: unknown, field: string): number {
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(field, 'expected a finite number', v);
    return v;
  }
  posInt(v: unknown, field: string): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) this.fail(field, 'expected a positive integer', v);
    return v;
  }
  literal<T extends string>(v: unknown, field: string, allowed: readonly T[]): T {
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      this.fail(field, `expected one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`, v);
    }
    return v as T;
  }
}

/**
 * Validates a parsed manifest (every field; unknown fields are rejected so typos surface).
 * Errors are BackboneErrors whose message names the offending field, e.g.
 * `backbones[1].outputs[2].stride: expected a positive integer, got "8"`.
 */
export function parseManifest(json: unknown, source?: string): BackboneManifest {
  const c = new Check(source ? ` (${source})` : '');
  const root = c.object(json, '', { required: ['schemaVersion', 'offsetConvention', 'offsetMeasurement', 'backbones'] });
  const schemaVersion = c.posInt(root['schemaVersion'], 'schemaVersion');
  if (schemaVersion !== MANIFEST_SCHEMA_VERSION) c.fail('schemaVersion', `this build reads version ${MANIFEST_SCHEMA_VERSION}`, schemaVersion);
  const offsetConvention = c.string(root['offsetConvention'], 'offsetConvention');
  const m = c.object(root['offsetMeasurement'], 'offsetMeasurement', { required: ['base', 'impulse', 'maxInputSize', 'method'] });
  const offsetMeasurement: OffsetMeasurement = {
    base: c.finite(m['base'], 'offsetMeasurement.base'),
    impulse: c.finite(m['impulse'], 'offsetMeasurement.impulse'),
    maxInputSize: c.posInt(m['maxInputSize'], 'offsetMeasurement.maxInputSize'),
    method: c.string(m['method'], 'offsetMeasurement.method'),
  };
  const list = c.array(root['backbones'], 'backbones');
  if (list.length === 0) c.fail('backbones', 'expected at least one backbone');
  const ids = new Set<string>();
  const backbones = list.map((b, k) => {
    const spec = parseBackbone(c, b, `backbones[${k}]`);
    if (ids.has(spec.id)) c.fail(`backbones[${k}].id`, 'duplicate id', spec.id);
    ids.add(spec.id);
    return spec;
  });
  return { schemaVersion, offsetConvention, offsetMeasurement, backbones };
}

function parseBackbone(c: Check, v: unknown, at: string): BackboneSpec {
  const o = c.object(v, at, {
    required: ['id', 'file', 'sha256', 'input', 'outputs', 'otherOutputs', 'license', 'source'],
    optional: ['notes'],
  });
  const id = c.string(o['id'], `${at}.id`);
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(id)) c.fail(`${at}.id`, 'expected letters, digits, "_", "-", "."', id);
  const file = c.string(o['file'], `${at}.file`);
  if (file !== file.split(/[\\/]/).pop() || isAbsolute(file) || file.startsWith('.') || !file.endsWith('.onnx')) {
    c.fail(`${at}.file`, 'expected a bare file name ending in .onnx (no directory)', file);
  }
  const sha256 = c.string(o['sha256'], `${at}.sha256`);
  if (!/^[0-9a-f]{64}$/.test(sha256)) c.fail(`${at}.sha256`, 'expected 64 lowercase hex digits', sha256);

  const i = c.object(o['input'], `${at}.input`, {
    required: ['name', 'layout', 'channels', 'range', 'colour', 'sizeMultiple', 'normalisation'],
  });
  const range = c.array(i['range'], `${at}.input.range`);
  if (range.length !== 2) c.fail(`${at}.input.range`, 'expected [min, max]', range);
  const lo = c.finite(range[0], `${at}.input.range[0]`);
  const hi = c.finite(range[1], `${at}.input.range[1]`);
  if (!(lo < hi)) c.fail(`${at}.input.range`, 'expected min < max', range);
  const input: BackboneInput = {
    name: c.string(i['name'], `${at}.input.name`),
    layout: c.literal(i['layout'], `${at}.input.layout`, ['NCHW'] as const),
    channels: c.posInt(i['channels'], `${at}.input.channels`),
    range: [lo, hi],
    colour: c.literal(i['colour'], `${at}.input.colour`, ['RGB', 'BGR'] as const),
    sizeMultiple: c.posInt(i['sizeMultiple'], `${at}.input.sizeMultiple`),
    normalisation: c.string(i['normalisation'], `${at}.input.normalisation`),
  };

  const names = new Set<string>();
  const uniqueName = (name: string, field: string): string => {
    if (names.has(name)) c.fail(field, 'duplicate output name', name);
    names.add(name);
    return name;
  };
  const outs = c.array(o['outputs'], `${at}.outputs`);
  if (outs.length === 0) c.fail(`${at}.outputs`, 'expected at least one feature output');
  const outputs = outs.map((t, k): FeatureTap => {
    const f = `${at}.outputs[${k}]`;
    const to = c.object(t, f, { required: ['name', 'channels', 'stride', 'offset'] });
    const stride = c.posInt(to['stride'], `${f}.stride`);
    if (input.sizeMultiple % stride !== 0) c.fail(`${f}.stride`, `must divide input.sizeMultiple (${input.sizeMultiple})`, stride);
    const off = c.object(to['offset'], `${f}.offset`, { required: ['x', 'y'] });
    return {
      name: uniqueName(c.string(to['name'], `${f}.name`), `${f}.name`),
      channels: c.posInt(to['channels'], `${f}.channels`),
      stride,
      offset: { x: c.finite(off['x'], `${f}.offset.x`), y: c.finite(off['y'], `${f}.offset.y`) },
    };
  });
  const others = c.array(o['otherOutputs'], `${at}.otherOutputs`);
  const otherOutputs = others.map((t, k): OtherOutput => {
    const f = `${at}.otherOutputs[${k}]`;
    const to = c.object(t, f, { required: ['name', 'shape'] });
    const shape = c.array(to['shape'], `${f}.shape`).map((d, n) =>
      typeof d === 'string' ? c.string(d, `${f}.shape[${n}]`) : c.posInt(d, `${f}.shape[${n}]`),
    );
    return { name: uniqueName(c.string(to['name'], `${f}.name`), `${f}.name`), shape };
  });
  const spec: BackboneSpec = {
    id,
    file,
    sha256,
    input,
    outputs,
    otherOutputs,
    license: c.string(o['license'], `${at}.license`),
    source: c.string(o['source'], `${at}.source`),
  };
  return o['notes'] === undefined ? spec : { ...spec, notes: c.string(o['notes'], `${at}.notes`) };
}
