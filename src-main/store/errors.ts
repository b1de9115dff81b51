/**
 * The store's one domain error. Wrong argument types throw TypeError and out-of-range values
 * RangeError (as everywhere in Argus); every other failure is a StoreError with a stable `code`.
 */

export type StoreErrorCode =
  /** No project (no argus.db) in the folder given to openProject. */
  | 'PROJECT_NOT_FOUND'
  /** createProject was given a folder that already holds files. */
  | 'PROJECT_EXISTS'
  /** Another process or connection holds the project's writer lock or the database's write lock. */
  | 'PROJECT_BUSY'
  /** The database was written by a newer Argus (a migration this code does not know). */
  | 'SCHEMA_TOO_NEW'
  /** The file is not an Argus project database, or `PRAGMA integrity_check` failed. */
  | 'PROJECT_CORRUPT'
  /** A path that must lie inside the project folder does not. */
  | 'PATH_OUTSIDE_PROJECT'
  /** A row the caller named does not exist. */
  | 'NOT_FOUND'
  /** The same image bytes are already in this product. */
  | 'DUPLICATE_IMAGE'
  /** A mask's size differs from its image's, or the mask is not a PNG. */
  | 'MASK_MISMATCH'
  /** A job status change that the job's life cycle does not allow (e.g. succeeded -> running). */
  | 'INVALID_TRANSITION'
  /** A stored file is missing or its bytes no longer hash to its name. */
  | 'BLOB_MISSING'
  | 'BLOB_CORRUPT'
  /** The project was opened read-only and a write was attempted. */
  | 'READ_ONLY'
  /** A write broke a rule of the schema: a duplicate name, a reference to a row that does not exist. */
  | 'CONSTRAINT';

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
  }
}

/** SQLite result codes (primary or extended) that mean "someone else holds the lock". */
export function isBusyError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

/** SQLite result codes that mean the database file is damaged or is no database at all. */
export function isCorruptionError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_CORRUPT') || code.startsWith('SQLITE_NOTADB'));
}

/** A SQLite constraint failure (UNIQUE, FOREIGN KEY, CHECK, NOT NULL) as a StoreError CONSTRAINT. */
export function constraintError(err: unknown): StoreError | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_CONSTRAINT')) return null;
  const detail = (err as Error).message;
  const what = code === 'SQLITE_CONSTRAINT_FOREIGNKEY' ? 'it refers to a row that does not exist'
    : code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ? `the same value already exists (${detail})`
      : detail;
  return new StoreError('CONSTRAINT', `the change was refused: ${what}`, { cause: err });
}
