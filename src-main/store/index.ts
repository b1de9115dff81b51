/**
 * The project store: one folder per project, a SQLite database and content-addressed files.
 * Synchronous on purpose (better-sqlite3); never hold a transaction across an `await`.
 *
 *   const project = createProject(dir, 'Brackets');            // or openProject(dir)
 *   const product = products.add(project, { name: 'PN-1042' });
 *   images.add(project, { productId: product.id, originalPath, data, width, height, format: 'png', split: 'train' });
 *   project.close();
 */
export { StoreError, type StoreErrorCode } from './errors.ts';
export { createProject, openProject, Project, DB_FILE, LOCK_FILE, type OpenOptions, type Recovery } from './project.ts';
export { insideProject, projectRelative } from './paths.ts';
export { latestSchemaVersion, schemaVersion } from './migrate.ts';
export { sha256Hex } from './blobs.ts';
export { verifyProject, type VerifyReport } from './verify.ts';
export * as products from './products.ts';
export * as images from './images.ts';
export * as masks from './masks.ts';
export * as defectTypes from './defect-types.ts';
export * as models from './models.ts';
export * as thresholds from './thresholds.ts';
export * as jobs from './jobs.ts';
export * as results from './results.ts';
export * as refinements from './refinements.ts';
export * as reports from './reports.ts';
export * as decisions from './decisions.ts';
export * as runs from './runs.ts';
export * as evaluations from './evaluations.ts';
