import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  BackboneError,
  DEFAULT_BACKBONE,
  DEFAULT_MANIFEST_PATH,
  PROJECT_ROOT,
  backbonePath,
  backboneSession,
  cellCentre,
  featureTap,
  getBackbone,
  loadManifest,
  parseManifest,
  resolveModelsDir,
  sha256File,
} from '../../src-main/features/backbones.ts';
import { f32, openSession, releaseAllSessions, setSessionLogger } from '../../src-main/engine/session.ts';
import { GraphBuilder, ints, str } from '../../src-main/engine/onnx/graph.ts';
import { measureOffsets } from '../../scripts/measure-offsets.ts';

const SHARED = resolve(PROJECT_ROOT, '..', 'shared', 'models');
const EXPECTED_IDS = [
  'mobilenet_v2_features',
  'mobilenet_v2_full',
  'mobilenet_v2_tf2_features',
  'mobilenet_v1_features',
  'deeplab_mobilenet_v2_features',
];

const savedEnv = process.env['ARGUS_MODELS_DIR'];
const tempDirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'argus-backbones-'));
  tempDirs.push(d);
  return d;
}

beforeAll(() => setSessionLogger(() => {}));
afterEach(() => {
  if (savedEnv === undefined) delete process.env['ARGUS_MODELS_DIR'];
  else process.env['ARGUS_MODELS_DIR'] = savedEnv;
});
afterAll(async () => {
  await releaseAllSessions();
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

/** Runs fn and returns what it threw. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error');
}

describe('backbone manifest', () => {
  it('validates and lists the five shared backbones, the default among them', () => {
    const m = loadManifest();
    expect(m.backbones.map((b) => b.id).sort()).toEqual([...EXPECTED_IDS].sort());
    expect(getBackbone(DEFAULT_BACKBONE, m).id).toBe(DEFAULT_BACKBONE);
    for (const b of m.backbones) {
      expect(b.file).toBe(`${b.id}.onnx`);
      expect(b.input).toEqual({
        name: 'image',
        layout: 'NCHW',
        channels: 3,
        range: [0, 1],
        colour: 'RGB',
        sizeMultiple: 32,
        normalisation: 'inside graph (x*255/128-1)',
      });
      expect(b.outputs.length).toBeGreaterThanOrEqual(4);
      for (const t of b.outputs) expect([4, 8, 16, 32]).toContain(t.stride);
    }
    const v2 = getBackbone('mobilenet_v2_features', m);
    expect(v2.outputs.map((t) => [t.name, t.channels, t.stride])).toEqual([
      ['feat_s4', 24, 4],
      ['feat_s8', 32, 8],
      ['feat_s8_exp', 192, 8],
      ['feat_s16', 96, 16],
      ['feat_s16_exp', 576, 16],
    ]);
    expect(getBackbone('mobilenet_v2_full', m).otherOutputs).toEqual([
      { name: 'logits', shape: ['N', 1001] },
      { name: 'probs', shape: ['N', 1001] },
    ]);
    expect(getBackbone('mobilenet_v1_features', m).otherOutputs).toEqual([{ name: 'embedding', shape: ['N', 1024] }]);
  });

  it('rejects an invalid manifest with an error naming the field', () => {
    const raw = JSON.parse(readFileSync(DEFAULT_MANIFEST_PATH, 'utf8')) as { backbones: Record<string, any>[] };
    const broken = (edit: (m: { backbones: Record<string, any>[] }) => void): string => {
      const copy = structuredClone(raw);
      edit(copy);
      const err = thrown(() => parseManifest(copy));
      expect(err).toBeInstanceOf(BackboneError);
      return (err as Error).message;
    };
    expect(broken((m) => (m.backbones[0]!['outputs'][1].stride = '8'))).toMatch(/backbones\[0\]\.outputs\[1\]\.stride: expected a positive integer, got "8"/);
    expect(broken((m) => delete m.backbones[1]!['sha256'])).toMatch(/backbones\[1\]\.sha256: missing/);
    expect(broken((m) => (m.backbones[0]!['sha256'] = 'abc'))).toMatch(/backbones\[0\]\.sha256: expected 64 lowercase hex digits/);
    expect(broken((m) => (m.backbones[0]!['file'] = '../x.onnx'))).toMatch(/backbones\[0\]\.file: expected a bare file name/);
    expect(broken((m) => (m.backbones[0]!['input'].layout = 'NHWC'))).toMatch(/backbones\[0\]\.input\.layout/);
    expect(broken((m) => (m.backbones[0]!['outputs'][0].offset = { x: 1 }))).toMatch(/backbones\[0\]\.outputs\[0\]\.offset\.y: missing/);
    expect(broken((m) => (m.backbones[2]!['strde'] = 8))).toMatch(/backbones\[2\]\.strde: unknown field/);
    expect(broken((m) => (m.backbones[1]!['id'] = m.backbones[0]!['id']))).toMatch(/backbones\[1\]\.id: duplicate id/);
  });

  it('lists every file that exists in ../shared/models with the listed sha256', () => {
    for (const b of loadManifest().backbones) {
      const p = join(SHARED, b.file);
      expect(existsSync(p), p).toBe(true);
      expect(sha256File(p), b.file).toBe(b.sha256);
    }
  });

  it('rejects an unknown id with an error listing the valid ids', () => {
    const err = thrown(() => getBackbone('resnet18'));
    expect(err).toBeInstanceOf(BackboneError);
    expect((err as BackboneError).code).toBe('unknown-id');
    for (const id of EXPECTED_IDS) expect((err as Error).message).toContain(id);
    expect(thrown(() => backbonePath('resnet18'))).toBeInstanceOf(BackboneError);
  });

  it('gives cell centres with the measured offset and names valid outputs for an unknown one', () => {
    const spec = getBackbone(DEFAULT_BACKBONE);
    const tap = featureTap(spec, 'feat_s8_exp');
    expect(cellCentre(tap, 2, 3)).toEqual({ x: 8 * 3 + 3.5 + tap.offset.x, y: 8 * 2 + 3.5 + tap.offset.y });
    expect((thrown(() => featureTap(spec, 'layer2')) as Error).message).toContain('feat_s16_exp');
  });
});

describe('backbone files', () => {
  it('resolves to ../shared/models (or models/ when it holds the file) and verifies the checksum', () => {
    delete process.env['ARGUS_MODELS_DIR'];
    const spec = getBackbone(DEFAULT_BACKBONE);
    const local = join(PROJECT_ROOT, 'models');
    const expectedDir = existsSync(join(local, spec.file)) ? local : SHARED;
    expect(resolveModelsDir(spec.file)).toBe(expectedDir);
    expect(backbonePath(DEFAULT_BACKBONE)).toBe(join(expectedDir, spec.file));
    expect(backbonePath(DEFAULT_BACKBONE)).toBe(join(expectedDir, spec.file)); // cached the second time
  });

  it('with ARGUS_MODELS_DIR an empty directory, fails with a BackboneError naming the file and the directory', () => {
    const dir = tempDir();
    process.env['ARGUS_MODELS_DIR'] = dir;
    expect(resolveModelsDir()).toBe(dir);
    const err = thrown(() => backbonePath(DEFAULT_BACKBONE));
    expect(err).toBeInstanceOf(BackboneError);
    expect((err as BackboneError).code).toBe('missing');
    expect((err as Error).message).toContain('mobilenet_v2_features.onnx');
    expect((err as Error).message).toContain(dir);
    expect((err as BackboneError).details.searched).toEqual([dir]);
  });

  it('with a different model under the expected name, fails with a checksum error giving both sha256', () => {
    const dir = tempDir();
    const target = join(dir, 'mobilenet_v2_features.onnx');
    copyFileSync(join(SHARED, 'mobilenet_v2_tf2_features.onnx'), target);
    process.env['ARGUS_MODELS_DIR'] = dir;
    const spec = getBackbone(DEFAULT_BACKBONE);
    const other = getBackbone('mobilenet_v2_tf2_features');
    const err = thrown(() => backbonePath(DEFAULT_BACKBONE));
    expect(err).toBeInstanceOf(BackboneError);
    expect((err as BackboneError).code).toBe('checksum');
    expect((err as Error).message).toContain(target);
    expect((err as Error).message).toContain(spec.sha256);
    expect((err as Error).message).toContain(other.sha256);

    // The right file under the same path verifies; a later change of the file is seen (cache keyed by mtime+size).
    copyFileSync(join(SHARED, spec.file), target);
    expect(backbonePath(DEFAULT_BACKBONE)).toBe(target);
    writeFileSync(target, 'not a model');
    expect((thrown(() => backbonePath(DEFAULT_BACKBONE)) as BackboneError).code).toBe('checksum');
  });
});

describe('backbone sessions', () => {
  it('shares one pooled session per verified backbone and rejects an unknown id', async () => {
    delete process.env['ARGUS_MODELS_DIR'];
    const a = await backboneSession();
    expect(await backboneSession(DEFAULT_BACKBONE)).toBe(a);
    expect(a.outputNames).toEqual(getBackbone(DEFAULT_BACKBONE).outputs.map((t) => t.name));
    await expect(backboneSession('resnet18')).rejects.toBeInstanceOf(BackboneError);
  });
});

describe('backbone geometry', () => {
  it('runs mobilenet_v2_features on 64x64 with the manifest channels and H/stride sizes', async () => {
    const spec = getBackbone(DEFAULT_BACKBONE);
    const session = await openSession(backbonePath(DEFAULT_BACKBONE), 'cpu');
    try {
      expect(session.inputNames).toEqual([spec.input.name]);
      const out = await session.run({ [spec.input.name]: f32(new Float32Array(2 * 3 * 64 * 64).fill(0.5), [2, 3, 64, 64]) });
      for (const t of spec.outputs) expect(out[t.name]?.dims, t.name).toEqual([2, t.channels, 64 / t.stride, 64 / t.stride]);
    } finally {
      await session.release();
    }
  });

  it('recovers the exact geometry of synthetic convolutions (SAME stride 2: +0.5, twice: +1.5, 4x4 patches: 0, pad-1 stride 2: -0.5)', async () => {
    const g = new GraphBuilder('geometry');
    const x = g.input('image', 'float32', ['N', 3, 'H', 'W']);
    const ones = (o: number, i: number, k: number): string => g.constF32(new Float32Array(o * i * k * k).fill(1), [o, i, k, k]);
    const same2 = g.op('Conv', [x, ones(2, 3, 3)], { strides: ints([2, 2]), auto_pad: str('SAME_UPPER') }, 'same_s2');
    g.op('Conv', [same2, ones(2, 2, 3)], { strides: ints([2, 2]), auto_pad: str('SAME_UPPER') }, 'same_s4');
    g.op('Conv', [x, ones(2, 3, 4)], { strides: ints([4, 4]), pads: ints([0, 0, 0, 0]) }, 'patch_s4');
    g.op('Conv', [x, ones(2, 3, 3)], { strides: ints([2, 2]), pads: ints([1, 1, 1, 1]) }, 'torch_s2');
    for (const n of ['same_s2', 'same_s4', 'patch_s4', 'torch_s2']) g.output(n, 'float32');
    const session = await openSession(g.toModel(13), 'cpu');
    try {
      const taps = [
        { name: 'same_s2', stride: 2, expected: 0.5 },
        { name: 'same_s4', stride: 4, expected: 1.5 },
        { name: 'patch_s4', stride: 4, expected: 0 },
        { name: 'torch_s2', stride: 2, expected: -0.5 },
      ];
      const measured = await measureOffsets(session, taps, { base: 0.5, impulse: 0.25 });
      measured.forEach((m, k) => {
        expect(m.interior).toBe(true);
        expect(m.offset).toEqual({ x: taps[k]!.expected, y: taps[k]!.expected });
        for (const c of m.cells) {
          expect(c.x).toBeCloseTo(taps[k]!.expected, 9);
          expect(c.y).toBeCloseTo(taps[k]!.expected, 9);
        }
      });
    } finally {
      await session.release();
    }
  });

  it('reproduces the manifest offset of feat_s8_exp of mobilenet_v2_features within 0.05 px, on both cells', async () => {
    const m = loadManifest();
    const tap = featureTap(getBackbone(DEFAULT_BACKBONE, m), 'feat_s8_exp');
    const session = await openSession(backbonePath(DEFAULT_BACKBONE), 'cpu');
    try {
      const [r] = await measureOffsets(session, [tap], m.offsetMeasurement);
      expect(r!.interior).toBe(true);
      expect(r!.cells).toHaveLength(2);
      for (const c of r!.cells) {
        expect(Math.abs(c.x - tap.offset.x)).toBeLessThanOrEqual(0.05);
        expect(Math.abs(c.y - tap.offset.y)).toBeLessThanOrEqual(0.05);
      }
    } finally {
      await session.release();
    }
  });
});
