/**
 * Trained models, versioned per product (1, 2, 3, …) and never overwritten. Parameters and memory
 * banks are blobs named by sha256, listed in `model_blobs` by name; all are durably written before
 * the model's row is committed, so a model row always has all of its files.
 */
import { readBlob, registerBlob, stageBlob, assertSha256 } from './blobs.ts';
import { StoreError } from './errors.ts';
import type { Project } from './project.ts';
import { nowIso } from './time.ts';
import { checkBytes, checkId, checkOptionalId, checkString, invalidParameterError, toJson } from './validate.ts';

export interface NewModel {
  readonly productId: number;
  readonly method: string;
  readonly backboneId: string;
  readonly backboneSha256: string;
  readonly config: unknown;
  /** sha256 of the training data manifest (which images, which bytes). */
  readonly dataManifestSha256: string;
  readonly metrics?: unknown;
  readonly jobId?: number | null;
  /** Parameters and memory banks by name, e.g. { memory_bank: bytes }. */
  readonly blobs: Readonly<Record<string, Uint8Array>>;
}

export interface Model {
  readonly id: number;
  readonly productId: number;
  readonly version: number;
  readonly method: string;
  readonly backboneId: string;
  readonly backboneSha256: string;
  readonly config: unknown;
  readonly dataManifestSha256: string;
  readonly metrics: unknown;
  readonly jobId: number | null;
  readonly createdAt: string;
  /** Blob sha256 by name. */
  readonly blobs: Readonly<Record<string, string>>;
}

interface Row {
  id: number; product_id: number; version: number; method: string; backbone_id: string; backbone_sha256: string;
  config_json: string; data_manifest_sha256: string; metrics_json: string | null; job_id: number | null; created_at: string;
}

function toModel(p: Project, r: Row): Model {
  const blobs: Record<string, string> = {};
  for (const b of p.statement('SELECT name, blob_sha256 FROM model_blobs WHERE model_id = ? ORDER BY name').all(r.id) as { name: string; blob_sha256: string }[]) {
    blobs[b.name] = b.blob_sha256;
  }
  return {
    id: r.id, productId: r.product_id, version: r.version, method: r.method, backboneId: r.backbone_id,
    backboneSha256: r.backbone_sha256, config: JSON.parse(r.config_json) as unknown, dataManifestSha256: r.data_manifest_sha256,
    metrics: r.metrics_json === null ? null : JSON.parse(r.metrics_json) as unknown, jobId: r.job_id, createdAt: r.created_at, blobs,
  };
}

/** Stores a new version of the product's model (version = previous + 1). */
export function add(p: Project, input: NewModel): Model {
  const productId = checkId('productId', input.productId);
  const method = checkString('method', input.method, { min: 1, max: 100 });
  const backboneId = checkString('backboneId', input.backboneId, { min: 1, max: 200 });
  assertSha256(input.backboneSha256, 'backboneSha256');
  assertSha256(input.dataManifestSha256, 'dataManifestSha256');
  const config = toJson('config', input.config);
  const metrics = input.metrics === undefined || input.metrics === null ? null : toJson('metrics', input.metrics);
  const jobId = checkOptionalId('jobId', input.jobId);
  if (typeof input.blobs !== 'object' || input.blobs === null) throw invalidParameterError('blobs', 'an object of named Uint8Arrays', input.blobs);
  const entries = Object.entries(input.blobs).map(([name, data]) => [checkString('blob name', name, { min: 1, max: 100 }), checkBytes(`blobs.${name}`, data)] as const);
  const staged = entries.map(([name, data]) => [name, stageBlob(p, data, 'application/octet-stream')] as const);
  const id = p.transaction(() => {
    const { v } = p.statement('SELECT coalesce(max(version), 0) + 1 AS v FROM models WHERE product_id = ?').get(productId) as { v: number };
    const modelId = Number(p.statement(
      `INSERT INTO models (product_id, version, method, backbone_id, backbone_sha256, config_json, data_manifest_sha256,
                           metrics_json, job_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(productId, v, method, backboneId, input.backboneSha256, config, input.dataManifestSha256, metrics, jobId, nowIso()).lastInsertRowid);
    for (const [name, blob] of staged) {
      registerBlob(p, blob);
      p.statement('INSERT INTO model_blobs (model_id, name, blob_sha256) VALUES (?, ?, ?)').run(modelId, name, blob.sha256);
    }
    return modelId;
  });
  return get(p, id);
}

export function find(p: Project, id: number): Model | undefined {
  return p.guard(() => {
    const r = p.statement('SELECT * FROM models WHERE id = ?').get(checkId('id', id)) as Row | undefined;
    return r && toModel(p, r);
  });
}

export function get(p: Project, id: number): Model {
  const found = find(p, id);
  if (!found) throw new StoreError('NOT_FOUND', `no model ${id} in project ${p.dir}`);
  return found;
}

/** The product's models, oldest version first. */
export function list(p: Project, productId: number): Model[] {
  return p.guard(() => (p.statement('SELECT * FROM models WHERE product_id = ? ORDER BY version').all(checkId('productId', productId)) as Row[]).map((r) => toModel(p, r)));
}

export function latest(p: Project, productId: number): Model | undefined {
  return p.guard(() => {
    const r = p.statement('SELECT * FROM models WHERE product_id = ? ORDER BY version DESC LIMIT 1').get(checkId('productId', productId)) as Row | undefined;
    return r && toModel(p, r);
  });
}

/** Records (or replaces) the evaluation metrics of a model; the model itself never changes. */
export function setMetrics(p: Project, id: number, metrics: unknown): Model {
  const json = toJson('metrics', metrics);
  const changed = p.transaction(() => p.statement('UPDATE models SET metrics_json = ? WHERE id = ?').run(json, checkId('id', id)).changes);
  if (changed === 0) throw new StoreError('NOT_FOUND', `no model ${id} in project ${p.dir}`);
  return get(p, id);
}

/**
 * Adds a blob derived from the model later (e.g. the F2PAD pixel prior, fitted on first use). The
 * model's own parameters never change: a name the model already has is refused.
 */
export function addBlob(p: Project, id: number, name: string, data: Uint8Array): Model {
  const model = get(p, id);
  const blobName = checkString('blob name', name, { min: 1, max: 100 });
  if (model.blobs[blobName] !== undefined) throw new StoreError('CONSTRAINT', `model ${id} already has a blob '${blobName}'`);
  const staged = stageBlob(p, checkBytes(`blobs.${blobName}`, data), 'application/octet-stream');
  p.transaction(() => {
    registerBlob(p, staged);
    p.statement('INSERT INTO model_blobs (model_id, name, blob_sha256) VALUES (?, ?, ?)').run(id, blobName, staged.sha256);
  });
  return get(p, id);
}

/** The bytes of the model's blob `name`, checked against its hash. */
export function readModelBlob(p: Project, model: Model, name: string): Buffer {
  const sha = model.blobs[name];
  if (sha === undefined) throw new StoreError('NOT_FOUND', `model ${model.id} has no blob '${name}' (it has: ${Object.keys(model.blobs).join(', ') || 'none'})`);
  return readBlob(p, sha);
}
