/**
 * Which images a model was fitted on, in the order the fit read them (a PatchCore bank row names its
 * image by that ordinal), and, for methods explained image by image, each one's global descriptor
 * (features/image-descriptor.ts). Stored as the model's blob 'training-images', an Argus tensor file;
 * models stored before it existed have none and simply cannot be explained.
 */
import { ApiError } from '../api/contract.ts';
import { decodeTensorFile, encodeTensorFile, TensorFileError } from '../engine/training/tensor-file.ts';
import type { DescriptorSpec } from '../features/image-descriptor.ts';
import { models, type Project } from '../store/index.ts';

export const TRAINING_RECORD_BLOB = 'training-images';
const KIND = 'argus-training-images';

export interface ImageDescriptors {
  readonly spec: DescriptorSpec;
  readonly dim: number;
  /** [imageIds.length, dim] */
  readonly data: Float32Array;
}

export interface TrainingRecord {
  readonly imageIds: readonly number[];
  readonly descriptors: ImageDescriptors | null;
}

export function encodeTrainingRecord(record: TrainingRecord): Uint8Array {
  const d = record.descriptors;
  if (d && d.data.length !== record.imageIds.length * d.dim) throw new RangeError(`${d.data.length / d.dim} descriptors for ${record.imageIds.length} images`);
  return encodeTensorFile({
    meta: { kind: KIND, imageIds: record.imageIds, descriptor: d ? d.spec : null },
    tensors: new Map(d ? [['descriptors', { dims: [record.imageIds.length, d.dim], data: d.data }]] : []),
  });
}

function corrupt(source: string, problem: string): ApiError {
  return new ApiError('PROJECT_CORRUPT', `${source}: ${problem}; train a new model version to record its training images again`);
}

export function decodeTrainingRecord(bytes: Uint8Array, source: string): TrainingRecord {
  let file;
  try {
    file = decodeTensorFile(bytes, source);
  } catch (err) {
    if (err instanceof TensorFileError) throw corrupt(source, err.message);
    throw err;
  }
  const { meta } = file;
  const ids = meta['imageIds'];
  if (meta['kind'] !== KIND || !Array.isArray(ids) || !ids.every((i) => Number.isSafeInteger(i) && (i as number) > 0)) throw corrupt(source, 'not a list of training images');
  const spec = meta['descriptor'] as Record<string, unknown> | null;
  if (spec === null) return { imageIds: ids as number[], descriptors: null };
  const t = file.tensors.get('descriptors');
  if (typeof spec !== 'object' || typeof spec['backbone'] !== 'string' || typeof spec['tap'] !== 'string' || !t || t.dims.length !== 2 || t.dims[0] !== ids.length) {
    throw corrupt(source, 'its image descriptors do not match its images');
  }
  return { imageIds: ids as number[], descriptors: { spec: { backbone: spec['backbone'], tap: spec['tap'] }, dim: t.dims[1]!, data: t.data } };
}

/** The model's training record, or null for a model stored without one. */
export function trainingRecordOf(p: Project, model: models.Model): TrainingRecord | null {
  if (model.blobs[TRAINING_RECORD_BLOB] === undefined) return null;
  return decodeTrainingRecord(new Uint8Array(models.readModelBlob(p, model, TRAINING_RECORD_BLOB)), `training images of model ${model.id}`);
}

/**
 * The record of a model fitted on `fitted` (the images the fit read, in order) with `descriptors`
 * of those images, after its base model's record when it extends one (the caller decides whether a
 * base without a record can be followed: a PatchCore base without provenance numbers the new images from 0).
 */
export function recordAfterFit(base: TrainingRecord | null, fitted: readonly number[], descriptors: ImageDescriptors | null): TrainingRecord {
  const imageIds = [...(base?.imageIds ?? []), ...fitted];
  if (!base) return { imageIds, descriptors };
  if (!base.descriptors || !descriptors) return { imageIds, descriptors: null };
  const data = new Float32Array(imageIds.length * descriptors.dim);
  data.set(base.descriptors.data);
  data.set(descriptors.data, base.descriptors.data.length);
  return { imageIds, descriptors: { spec: descriptors.spec, dim: descriptors.dim, data } };
}
