import { describe, expect, it } from 'vitest';
import { encodeTensorFile, type NamedTensor } from '../../src-main/engine/training/tensor-file.ts';
import { DEFAULT_BACKBONE, getBackbone } from '../../src-main/features/backbones.ts';
import { decodeModel, MODEL_KIND, ModelFormatError, type ModelFormatErrorCode } from '../../src-main/methods/persistence.ts';
import { PATCHCORE_DEFAULTS } from '../../src-main/methods/patchcore/defaults.ts';
import { PatchCoreModel } from '../../src-main/methods/patchcore/model.ts';
import { Random } from '../../src-main/util/random.ts';

const SHA = getBackbone(DEFAULT_BACKBONE).sha256;
const D = PATCHCORE_DEFAULTS.targetDim;

const t = (dims: number[], data?: Float32Array): NamedTensor => ({ dims, data: data ?? new Float32Array(dims.reduce((a, b) => a * b, 1)) });

/** A well-formed PatchCore model file (a random 12-entry bank: too small to prune), with overrides. */
function patchcoreBytes(meta: Record<string, unknown> = {}, tensors: Record<string, NamedTensor | undefined> = {}): Uint8Array {
  const rng = new Random(5);
  const all: Record<string, NamedTensor | undefined> = { memory_bank: t([12, D], Float32Array.from({ length: 12 * D }, () => rng.normal())), ...tensors };
  return encodeTensorFile({
    meta: {
      kind: MODEL_KIND,
      formatVersion: 1,
      method: 'patchcore',
      config: { ...PATCHCORE_DEFAULTS, height: 64, width: 64 },
      backbone: { id: DEFAULT_BACKBONE, sha256: SHA },
      trainPatches: 200,
      ...meta,
    },
    tensors: new Map(Object.entries(all).filter((e): e is [string, NamedTensor] => e[1] !== undefined)),
  });
}

async function rejects(bytes: Uint8Array, code: ModelFormatErrorCode, message: RegExp): Promise<void> {
  const err = await decodeModel(bytes, 'model.argus').then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ModelFormatError);
  expect((err as ModelFormatError).code).toBe(code);
  expect((err as Error).message).toMatch(message);
}

describe('decodeModel', () => {
  it('reads a well-formed file (the control for the cases below)', async () => {
    const model = await decodeModel(patchcoreBytes(), 'model.argus');
    expect(model).toBeInstanceOf(PatchCoreModel);
    expect(model.backbone).toEqual({ id: DEFAULT_BACKBONE, sha256: SHA });
    expect(model.trainingScores).toBeUndefined();
    expect((model as PatchCoreModel).index.size).toBe(12);
    expect((model as PatchCoreModel).index.pruningBasis).toBeUndefined();
  });

  it('rejects bytes that are not a model, and truncated bytes at every stage', async () => {
    await rejects(new TextEncoder().encode('PK\x03\x04 some zip file, not a model'), 'not-a-model', /not an Argus tensor file/);
    await rejects(encodeTensorFile({ meta: { step: 10 }, tensors: new Map() }), 'not-a-model', /not a saved model/);
    const bytes = patchcoreBytes();
    for (const length of [0, 5, 11, 40, 200, bytes.length - 1]) {
      await rejects(bytes.subarray(0, length), 'damaged', /truncated/);
    }
  });

  it('rejects unknown format versions and methods', async () => {
    await rejects(patchcoreBytes({ formatVersion: 2 }), 'format-version', /format version 2; this version reads model format 1/);
    await rejects(patchcoreBytes({ formatVersion: undefined }), 'format-version', /no format version/);
    await rejects(patchcoreBytes({ method: 'fastflow' }), 'unknown-method', /method "fastflow"; this version knows patchcore, padim, simplenet/);
  });

  it('rejects a model fitted on another backbone file (tampered sha256) or an unknown backbone', async () => {
    const other = SHA.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    await rejects(patchcoreBytes({ backbone: { id: DEFAULT_BACKBONE, sha256: other } }), 'backbone', new RegExp(`fitted on backbone '${DEFAULT_BACKBONE}' with sha256 ${other}`));
    await rejects(
      patchcoreBytes({ backbone: { id: 'resnet_9000', sha256: SHA }, config: { ...PATCHCORE_DEFAULTS, backbone: 'resnet_9000' } }),
      'backbone',
      /needs backbone 'resnet_9000': Unknown backbone "resnet_9000"/,
    );
    await rejects(patchcoreBytes({ backbone: { id: DEFAULT_BACKBONE, sha256: 'abc' } }), 'meta', /'backbone' must be/);
  });

  it('rejects missing and mis-shaped tensors', async () => {
    await rejects(patchcoreBytes({}, { memory_bank: undefined }), 'tensor', /lacks tensor 'memory_bank'/);
    await rejects(patchcoreBytes({}, { memory_bank: t([12, D / 2]) }), 'tensor', /'memory_bank' has shape \[12, 512\], expected \[n, 1024\]/);
    const padim = encodeTensorFile({
      meta: {
        kind: MODEL_KIND, formatVersion: 1, method: 'padim', backbone: { id: DEFAULT_BACKBONE, sha256: SHA },
        config: { channels: 3, channelIndices: [0, 1, 2] }, grid: { h: 2, w: 2 },
      },
      tensors: new Map([['mean', t([4, 3])]]),
    });
    await rejects(padim, 'tensor', /lacks tensor 'whitening'/);
    const simplenet = encodeTensorFile({
      meta: { kind: MODEL_KIND, formatVersion: 1, method: 'simplenet', backbone: { id: DEFAULT_BACKBONE, sha256: SHA }, config: { hidden: 4 }, training: null },
      tensors: new Map([['dsc.fc1.bias', t([4])]]),
    });
    await rejects(simplenet, 'tensor', /lacks tensor 'adaptor.weight'/);
    const pfm = encodeTensorFile({
      meta: { kind: MODEL_KIND, formatVersion: 1, method: 'pfm', backbone: { id: DEFAULT_BACKBONE, sha256: SHA }, config: { levels: [3], latent: [4, 4, 4] }, training: null },
      tensors: new Map([['l3.enc_s.0.bias', t([292])]]),
    });
    await rejects(pfm, 'tensor', /lacks tensor 'l3.enc_s.0.weight'/);
    // a basis that is not orthonormal would make the pruned search silently inexact
    await rejects(patchcoreBytes({ pruningCandidates: 4 }, { pruning_basis: t([D, 8]) }), 'tensor', /'pruning_basis' is not orthonormal/);
  });

  it('reads the memory bank\'s provenance and rejects a row naming no recorded training image', async () => {
    const sources = (image: number) => t([12, 2], Float32Array.from({ length: 24 }, (_, i) => (i % 2 === 0 ? image : i)));
    const model = (await decodeModel(patchcoreBytes({ sourceImages: 3 }, { bank_source: sources(2) }))) as PatchCoreModel;
    expect(model.provenance!.images).toBe(3);
    expect(model.provenance!.sources[0]).toBe(2);
    expect(((await decodeModel(patchcoreBytes())) as PatchCoreModel).provenance).toBeNull();
    await rejects(patchcoreBytes({ sourceImages: 3 }, { bank_source: sources(3) }), 'tensor', /'bank_source' row 0 names no training image of the 3 recorded/);
    await rejects(patchcoreBytes({}, { bank_source: sources(0) }), 'meta', /sourceImages/);
  });

  it('rejects unknown or mistyped settings and malformed meta fields', async () => {
    await rejects(patchcoreBytes({ config: { ...PATCHCORE_DEFAULTS, warp: 3 } }), 'meta', /unknown setting 'warp'/);
    await rejects(patchcoreBytes({ config: { ...PATCHCORE_DEFAULTS, coresetRatio: '0.1' } }), 'meta', /config\.coresetRatio must be a number/);
    await rejects(patchcoreBytes({ config: { ...PATCHCORE_DEFAULTS, backbone: 'x' } }), 'meta', /differs from the recorded backbone/);
    await rejects(patchcoreBytes({ trainPatches: -1 }), 'meta', /'trainPatches' must be a non-negative integer/);
    await rejects(patchcoreBytes({ trainingScores: { imageMax: 1 } }), 'meta', /'trainingScores' is malformed/);
    await rejects(patchcoreBytes({ config: { ...PATCHCORE_DEFAULTS, taps: ['feat_s99'] } }), 'meta', /no feature output 'feat_s99'/);
  });
});
