/**
 * The stored form of a fitted model, shared by every method: an Argus tensor file
 * (engine/training/tensor-file.ts) whose meta is
 *
 *   { kind: 'argus-model', formatVersion: 1, method, config, backbone: { id, sha256 },
 *     trainingScores?, ...method-specific small JSON }
 *
 * and whose tensors are the method's large arrays. methods/persistence.ts checks the common part and
 * dispatches on meta.method; each method's deserialize checks its own fields with the helpers here.
 * Every problem found while reading is a ModelFormatError.
 */
import { encodeTensorFile, type NamedTensor } from '../engine/training/tensor-file.ts';
import type { Precision } from '../engine/onnx/quantise.ts';
import type { BackboneRef, StoredModel, TrainingScores } from './method.ts';

export const MODEL_KIND = 'argus-model';
export const MODEL_FORMAT_VERSION = 1;

export type ModelFormatErrorCode =
  /** Not an Argus model at all (another file, or another kind of tensor file such as a checkpoint). */
  | 'not-a-model'
  /** Truncated or malformed bytes. */
  | 'damaged'
  /** A format version this build does not read. */
  | 'format-version'
  | 'unknown-method'
  /** A meta field (configuration included) missing, of the wrong type or inconsistent. */
  | 'meta'
  /** A tensor missing or of the wrong shape. */
  | 'tensor'
  /** The recorded backbone is unknown, missing, or not the file the model was fitted on. */
  | 'backbone';

/** Every failure to read a stored model. */
export class ModelFormatError extends Error {
  override readonly name = 'ModelFormatError';
  constructor(
    readonly code: ModelFormatErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface ModelFileContent {
  readonly method: string;
  readonly config: object;
  readonly backbone: BackboneRef;
  readonly trainingScores?: TrainingScores | undefined;
  /** Method-specific meta fields (small JSON). */
  readonly extra?: Record<string, unknown>;
  readonly tensors: ReadonlyMap<string, NamedTensor>;
}

/** The bytes of a model file (what FittedModel.serialize returns). */
export function encodeModelFile(content: ModelFileContent): Uint8Array {
  return encodeTensorFile({
    meta: {
      ...content.extra,
      kind: MODEL_KIND,
      formatVersion: MODEL_FORMAT_VERSION,
      method: content.method,
      config: content.config,
      backbone: { id: content.backbone.id, sha256: content.backbone.sha256 },
      ...(content.trainingScores ? { trainingScores: content.trainingScores } : {}),
    },
    tensors: content.tensors,
  });
}

/**
 * The tensor `name`, checked against `dims` (null: any positive size on that axis). Returns its
 * data; throws ModelFormatError 'tensor' when it is missing or mis-shaped.
 */
export function requireTensor(stored: StoredModel<unknown>, name: string, dims: readonly (number | null)[]): Float32Array {
  const t = stored.tensors.get(name);
  if (!t) throw new ModelFormatError('tensor', `${stored.source} lacks tensor '${name}'`);
  const ok = t.dims.length === dims.length && dims.every((d, i) => (d === null ? t.dims[i]! > 0 : t.dims[i] === d));
  if (!ok) {
    const want = dims.map((d) => d ?? 'n').join(', ');
    throw new ModelFormatError('tensor', `${stored.source}: tensor '${name}' has shape [${t.dims.join(', ')}], expected [${want}]`);
  }
  return t.data;
}

/** A meta field that must be a non-negative integer. */
export function requireCount(stored: StoredModel<unknown>, field: string, value: unknown = stored.meta[field]): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ModelFormatError('meta', `${stored.source}: meta field '${field}' must be a non-negative integer, found ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * The stored configuration, with `precision` 'float32' when the file predates that setting (its
 * scores and thresholds were measured in float32; the method's newer default must not change them).
 */
export function withStoredPrecision<C extends { readonly precision: Precision }>(stored: StoredModel<C>): C {
  const raw = stored.meta['config'] as Record<string, unknown> | undefined;
  return raw && 'precision' in raw ? stored.config : { ...stored.config, precision: 'float32' };
}
