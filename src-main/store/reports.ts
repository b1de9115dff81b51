/** Generated reports (HTML, PDF, CSV), kept as blobs with what they were made from. */
import { readBlob, registerBlob, stageBlob, assertSha256 } from './blobs.ts';
import { StoreError } from './errors.ts';
import type { Project } from './project.ts';
import { nowIso } from './time.ts';
import { checkBytes, checkId, checkOneOf, checkOptionalId, checkString } from './validate.ts';

export type ReportKind = 'inspection' | 'validation';
export type ReportFormat = 'html' | 'pdf' | 'csv';
export const REPORT_KINDS: readonly ReportKind[] = ['inspection', 'validation'];
export const REPORT_FORMATS: readonly ReportFormat[] = ['html', 'pdf', 'csv'];
const MEDIA_TYPE: Record<ReportFormat, string> = { html: 'text/html', pdf: 'application/pdf', csv: 'text/csv' };

export interface Report {
  readonly id: number;
  readonly productId: number;
  readonly modelId: number | null;
  readonly thresholdId: number | null;
  readonly jobId: number | null;
  readonly kind: ReportKind;
  readonly format: ReportFormat;
  readonly title: string;
  readonly sha256: string;
  readonly manifestSha256: string | null;
  readonly createdAt: string;
}

export interface NewReport {
  readonly productId: number;
  readonly modelId?: number | null;
  readonly thresholdId?: number | null;
  readonly jobId?: number | null;
  readonly kind: ReportKind;
  readonly format: ReportFormat;
  readonly title: string;
  readonly data: Uint8Array;
  readonly manifestSha256?: string | null;
}

interface Row {
  id: number; product_id: number; model_id: number | null; threshold_id: number | null; job_id: number | null; kind: ReportKind;
  format: ReportFormat; title: string; blob_sha256: string; manifest_sha256: string | null; created_at: string;
}
const toReport = (r: Row): Report => ({
  id: r.id, productId: r.product_id, modelId: r.model_id, thresholdId: r.threshold_id, jobId: r.job_id, kind: r.kind,
  format: r.format, title: r.title, sha256: r.blob_sha256, manifestSha256: r.manifest_sha256, createdAt: r.created_at,
});

export function add(p: Project, input: NewReport): Report {
  const productId = checkId('productId', input.productId);
  const modelId = checkOptionalId('modelId', input.modelId);
  const thresholdId = checkOptionalId('thresholdId', input.thresholdId);
  const jobId = checkOptionalId('jobId', input.jobId);
  const kind = checkOneOf('kind', input.kind, REPORT_KINDS);
  const format = checkOneOf('format', input.format, REPORT_FORMATS);
  const title = checkString('title', input.title, { min: 1, max: 500 });
  const manifest = input.manifestSha256 ?? null;
  if (manifest !== null) assertSha256(manifest, 'manifestSha256');
  const blob = stageBlob(p, checkBytes('data', input.data), MEDIA_TYPE[format]);
  const id = p.transaction(() => {
    registerBlob(p, blob);
    return Number(p.statement(
      `INSERT INTO reports (product_id, model_id, threshold_id, job_id, kind, format, title, blob_sha256, manifest_sha256, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(productId, modelId, thresholdId, jobId, kind, format, title, blob.sha256, manifest, nowIso()).lastInsertRowid);
  });
  return get(p, id);
}

export function find(p: Project, id: number): Report | undefined {
  const r = p.guard(() => p.statement('SELECT * FROM reports WHERE id = ?').get(checkId('id', id)) as Row | undefined);
  return r && toReport(r);
}

export function get(p: Project, id: number): Report {
  const found = find(p, id);
  if (!found) throw new StoreError('NOT_FOUND', `no report ${id} in project ${p.dir}`);
  return found;
}

export function list(p: Project, productId: number): Report[] {
  return p.guard(() => (p.statement('SELECT * FROM reports WHERE product_id = ? ORDER BY id').all(checkId('productId', productId)) as Row[]).map(toReport));
}

/** The report's size in bytes, from the blob record (without reading the file). */
export function byteSize(p: Project, report: Report): number {
  const r = p.guard(() => p.statement('SELECT byte_size FROM blobs WHERE sha256 = ?').get(report.sha256) as { byte_size: number } | undefined);
  if (!r) throw new StoreError('BLOB_MISSING', `report ${report.id} names blob ${report.sha256}, which is not recorded`);
  return r.byte_size;
}

export function readBytes(p: Project, report: Report): Buffer {
  return readBlob(p, report.sha256);
}
