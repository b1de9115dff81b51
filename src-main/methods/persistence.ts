/**
 * Fitted models to bytes and back, for every registered method (the stored form: methods/model-file.ts).
 * decodeModel checks the common part (kind, format version, method, configuration, backbone) and
 * hands the rest to the method's deserialize; every problem is a ModelFormatError, never a crash or
 * a silently different model.
 */
import { readFileSync } from 'node:fs';
import { BackboneError, backbonePath, getBackbone } from '../features/backbones.ts';
import { decodeTensorFile, TensorFileError, writeFileAtomic, type TensorFile } from '../engine/training/tensor-file.ts';
import { getMethod, METHOD_NAMES } from './index.ts';
import type { BackboneRef, FittedModel, StoredModel } from './method.ts';
import { MODEL_FORMAT_VERSION, MODEL_KIND, ModelFormatError } from './model-file.ts';
import { parseTrainingScores } from './training-scores.ts';

export { MODEL_FORMAT_VERSION, MODEL_KIND, ModelFormatError, type ModelFormatErrorCode } from './model-file.ts';

/** The model as one self-describing byte string (an Argus tensor file, meta.kind 'argus-model'). */
export function encodeModel(model: FittedModel): Uint8Array {
  return model.serialize();
}

/** A model from bytes written by encodeModel; `source` names them in error messages. */
export async function decodeModel(bytes: Uint8Array, source = 'model'): Promise<FittedModel> {
  let file: TensorFile;
  try {
    file = decodeTensorFile(bytes, source);
  } catch (err) {
    if (!(err instanceof TensorFileError)) throw err;
    const code = err.reason === 'magic' ? 'not-a-model' : err.reason === 'format' ? 'format-version' : 'damaged';
    throw new ModelFormatError(code, err.message, { cause: err });
  }
  const { meta } = file;
  if (meta['kind'] !== MODEL_KIND) {
    throw new ModelFormatError('not-a-model', `${source} is an Argus tensor file but not a saved model (kind ${JSON.stringify(meta['kind'] ?? null)})`);
  }
  const version = meta['formatVersion'];
  if (version !== MODEL_FORMAT_VERSION) {
    const found = version === undefined ? 'no format version (saved by an older Argus; fit and save it again)' : `format version ${JSON.stringify(version)}`;
    throw new ModelFormatError('format-version', `${source} has ${found}; this version reads model format ${MODEL_FORMAT_VERSION}`);
  }
  const name = meta['method'];
  if (typeof name !== 'string' || !(METHOD_NAMES as readonly string[]).includes(name)) {
    throw new ModelFormatError('unknown-method', `${source} is a model of method ${JSON.stringify(name ?? null)}; this version knows ${METHOD_NAMES.join(', ')}`);
  }
  const method = getMethod(name);
  const config = storedConfig(meta['config'], method.defaults as Record<string, unknown>, source);
  const backbone = storedBackbone(meta['backbone'], source);
  if (config['backbone'] !== backbone.id) {
    throw new ModelFormatError('meta', `${source}: config.backbone ${JSON.stringify(config['backbone'])} differs from the recorded backbone '${backbone.id}'`);
  }
  checkBackbone(backbone, source);
  const trainingScores = meta['trainingScores'] === undefined ? undefined : parseTrainingScores(meta['trainingScores']);
  if (meta['trainingScores'] !== undefined && !trainingScores) throw new ModelFormatError('meta', `${source}: meta field 'trainingScores' is malformed`);

  const stored: StoredModel<unknown> = { config, meta, tensors: file.tensors, backbone, ...(trainingScores ? { trainingScores } : {}), source };
  let model: FittedModel;
  try {
    model = await method.deserialize(stored);
  } catch (err) {
    // configurations the method rejects (RangeError) and backbone problems surface as format errors
    if (err instanceof RangeError || err instanceof BackboneError) {
      throw new ModelFormatError(err instanceof BackboneError ? 'backbone' : 'meta', `${source}: ${err.message}`, { cause: err });
    }
    throw err;
  }
  if (model.backbone.id !== backbone.id || model.backbone.sha256 !== backbone.sha256) {
    throw new ModelFormatError('backbone', `${source}: the model opened backbone ${model.backbone.id} (${model.backbone.sha256}), not the recorded ${backbone.id} (${backbone.sha256})`);
  }
  return model;
}

/** Writes encodeModel(model) to `path` (through a temporary file, so a reader never sees half a model). */
export function writeModelFile(path: string, model: FittedModel): void {
  writeFileAtomic(path, encodeModel(model));
}

export async function readModelFile(path: string): Promise<FittedModel> {
  return decodeModel(readFileSync(path), path);
}

type JsonKind = 'number' | 'string' | 'boolean' | 'array' | 'object' | 'null';

function kindOf(v: unknown): JsonKind | 'other' {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  const t = typeof v;
  return t === 'number' || t === 'string' || t === 'boolean' || t === 'object' ? t : 'other';
}

/**
 * The stored configuration over the method's defaults: every stored key must be one the method knows,
 * holding the same JSON kind as its default (numbers finite). Keys the file lacks (settings added
 * since) take their defaults.
 */
function storedConfig(value: unknown, defaults: Record<string, unknown>, source: string): Record<string, unknown> {
  if (kindOf(value) !== 'object') throw new ModelFormatError('meta', `${source}: meta field 'config' must be an object`);
  const config = value as Record<string, unknown>;
  for (const [key, v] of Object.entries(config)) {
    if (!(key in defaults)) throw new ModelFormatError('meta', `${source}: config has unknown setting '${key}'`);
    const want = kindOf(defaults[key]);
    if (kindOf(v) !== want || (typeof v === 'number' && !Number.isFinite(v))) {
      throw new ModelFormatError('meta', `${source}: config.${key} must be a ${want}, found ${JSON.stringify(v)}`);
    }
  }
  return { ...defaults, ...config };
}

function storedBackbone(value: unknown, source: string): BackboneRef {
  const b = value as Record<string, unknown> | null;
  if (kindOf(value) !== 'object' || typeof b!['id'] !== 'string' || typeof b!['sha256'] !== 'string' || !/^[0-9a-f]{64}$/.test(b!['sha256'])) {
    throw new ModelFormatError('meta', `${source}: meta field 'backbone' must be { id, sha256 (64 lowercase hex digits) }`);
  }
  return { id: b!['id'], sha256: b!['sha256'] };
}

/**
 * The recorded backbone must be the one installed: known to the manifest with the recorded sha256, and
 * its file present and matching (backbonePath verifies the file; its hash is cached per process).
 */
function checkBackbone(backbone: BackboneRef, source: string): void {
  try {
    const spec = getBackbone(backbone.id);
    if (spec.sha256 !== backbone.sha256) {
      throw new ModelFormatError(
        'backbone',
        `${source} was fitted on backbone '${backbone.id}' with sha256 ${backbone.sha256}, but the installed '${backbone.id}' is ${spec.sha256}; ` +
          'its scores would not mean the same: fit the model again, or install the backbone file it was fitted on',
      );
    }
    backbonePath(backbone.id);
  } catch (err) {
    if (err instanceof BackboneError) throw new ModelFormatError('backbone', `${source} needs backbone '${backbone.id}': ${err.message}`, { cause: err });
    throw err;
  }
}
