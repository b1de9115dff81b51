/**
 * A project is a folder:
 *
 *   argus.db      the SQLite database (WAL, foreign keys on, synchronous=FULL)
 *   argus.lock    the writer lock: one read-write opener at a time, released by the OS when it dies
 *   images/       imported images, named by sha256
 *   blobs/        masks, anomaly maps, model parameters and reports, named by sha256
 *   tmp/          partial writes; emptied on every read-write open
 *
 * `openProject` takes the writer lock, checks the database (`PRAGMA integrity_check`), applies
 * pending migrations and recovers from a crash: jobs left `running` become `interrupted` and
 * partial files are removed. A second read-write opener gets StoreError PROJECT_BUSY.
 */
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { BLOBS_DIR, cleanTemp, IMAGES_DIR, TMP_DIR } from './blobs.ts';
import { constraintError, isBusyError, isCorruptionError, StoreError } from './errors.ts';
import { latestSchemaVersion, migrate, schemaVersion } from './migrate.ts';
import { nowIso } from './time.ts';

export const DB_FILE = 'argus.db';
export const LOCK_FILE = 'argus.lock';
/** `PRAGMA application_id` of every Argus project database ('ARGU'). */
export const APPLICATION_ID = 0x41524755;
export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

export interface OpenOptions {
  /** Open without the writer lock, recovery or migrations; every write throws READ_ONLY. */
  readonly readonly?: boolean;
  /** How long a write waits for another connection's write lock before PROJECT_BUSY (default 5000). */
  readonly busyTimeoutMs?: number;
}

/** What `openProject` found and repaired. */
export interface Recovery {
  /** Migrations applied by this open (versions). */
  readonly appliedMigrations: readonly number[];
  /** Jobs that were `running` when their process died, now `interrupted`. */
  readonly interruptedJobs: readonly number[];
  /** Partial files removed from tmp/. */
  readonly removedTempFiles: number;
}

type AnyStatement = Database.Statement<unknown[], unknown>;

export class Project {
  /** Absolute path of the project folder. */
  readonly dir: string;
  readonly db: Database.Database;
  readonly readonly: boolean;
  readonly recovery: Recovery;
  #lock: Database.Database | null;
  readonly #statements = new Map<string, AnyStatement>();

  /** @internal use openProject / createProject */
  constructor(dir: string, db: Database.Database, lock: Database.Database | null, recovery: Recovery) {
    this.dir = dir;
    this.db = db;
    this.#lock = lock;
    this.readonly = lock === null;
    this.recovery = recovery;
  }

  /** The project's name (the folder's name if creation was cut short before it was recorded). */
  get name(): string {
    const row = this.statement('SELECT name FROM project WHERE id = 1').get() as { name: string } | undefined;
    return row?.name ?? basename(this.dir);
  }

  get isOpen(): boolean {
    return this.db.open;
  }

  /** The prepared statement for `sql`, prepared once per connection. */
  statement(sql: string): AnyStatement {
    let s = this.#statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.#statements.set(sql, s);
    }
    return s;
  }

  /**
   * Runs `fn` in one write transaction (BEGIN IMMEDIATE; nested calls become savepoints). `fn` must
   * be synchronous. A write lock held elsewhere past the busy timeout becomes PROJECT_BUSY.
   */
  transaction<T>(fn: () => T): T {
    if (this.readonly) throw new StoreError('READ_ONLY', `project ${this.dir} was opened read-only`);
    return this.guard(() => this.db.transaction(fn).immediate());
  }

  /** Runs `fn` (reads) mapping lock errors to PROJECT_BUSY. */
  guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (isBusyError(err)) throw busyError(this.dir, err);
      if (isCorruptionError(err)) throw corruptError(join(this.dir, DB_FILE), err);
      throw constraintError(err) ?? err;
    }
  }

  /** Closes the database and releases the writer lock. Safe to call twice. */
  close(): void {
    if (this.db.open) {
      if (!this.readonly) {
        try {
          this.db.pragma('optimize');
        } catch {
          /* best effort */
        }
      }
      this.db.close();
    }
    this.#lock?.close();
    this.#lock = null;
  }
}

function busyError(dir: string, cause?: unknown): StoreError {
  return new StoreError('PROJECT_BUSY', `project ${dir} is busy: another Argus process or window is writing to it`, { cause });
}

function corruptError(dbPath: string, cause: unknown): StoreError {
  return new StoreError('PROJECT_CORRUPT', `${dbPath} is damaged: ${(cause as Error).message}`, { cause });
}

function acquireWriterLock(dir: string): Database.Database {
  const lock = new Database(join(dir, LOCK_FILE), { timeout: 0 });
  try {
    lock.pragma('locking_mode = EXCLUSIVE');
    lock.exec('BEGIN EXCLUSIVE');
    return lock;
  } catch (err) {
    lock.close();
    if (isBusyError(err)) throw busyError(dir, err);
    throw err;
  }
}

function configure(db: Database.Database, readonly: boolean, busyTimeoutMs: number): void {
  db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
  if (!readonly) {
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') throw new StoreError('PROJECT_CORRUPT', `cannot switch ${db.name} to WAL (journal_mode is ${String(mode)})`);
    db.pragma('synchronous = FULL');
  }
  db.pragma('foreign_keys = ON');
}

function checkIntegrity(db: Database.Database, dbPath: string): void {
  const rows = db.pragma('integrity_check') as { integrity_check: string }[];
  const first = rows[0]?.integrity_check;
  if (rows.length !== 1 || first !== 'ok') {
    const problems = rows.slice(0, 5).map((r) => r.integrity_check).join('; ');
    throw new StoreError('PROJECT_CORRUPT', `PRAGMA integrity_check failed on ${dbPath}: ${problems}`);
  }
}

function ensureFolders(dir: string): void {
  for (const sub of [IMAGES_DIR, BLOBS_DIR, TMP_DIR]) mkdirSync(join(dir, sub), { recursive: true });
}

function openDatabase(dir: string, options: OpenOptions, create: { name: string } | null): Project {
  const readonly = options.readonly === true && create === null;
  const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  if (!Number.isFinite(busyTimeoutMs) || busyTimeoutMs < 0) throw new RangeError(`expected busyTimeoutMs >= 0, received ${busyTimeoutMs}`);
  const dbPath = join(dir, DB_FILE);
  const lock = readonly ? null : acquireWriterLock(dir);
  let db: Database.Database | null = null;
  try {
    try {
      db = new Database(dbPath, { readonly, fileMustExist: create === null, timeout: busyTimeoutMs });
    } catch (err) {
      if (isBusyError(err)) throw busyError(dir, err);
      throw new StoreError('PROJECT_CORRUPT', `cannot open ${dbPath}: ${(err as Error).message}`, { cause: err });
    }
    try {
      configure(db, readonly, busyTimeoutMs);
    } catch (err) {
      if (isBusyError(err)) throw busyError(dir, err);
      if (err instanceof StoreError) throw err;
      throw new StoreError('PROJECT_CORRUPT', `${dbPath} is not a readable SQLite database: ${(err as Error).message}`, { cause: err });
    }
    if (create) {
      db.pragma(`application_id = ${APPLICATION_ID}`);
    } else {
      const appId = db.pragma('application_id', { simple: true });
      if (appId !== APPLICATION_ID) throw new StoreError('PROJECT_CORRUPT', `${dbPath} is not an Argus project database`);
      checkIntegrity(db, dbPath);
    }
    let appliedMigrations: number[] = [];
    if (readonly) {
      const v = schemaVersion(db);
      if (v > latestSchemaVersion()) migrate(db); // throws SCHEMA_TOO_NEW without writing
      if (v < latestSchemaVersion()) throw new StoreError('READ_ONLY', `project ${dir} needs migrating (schema ${v} < ${latestSchemaVersion()}); open it read-write once`);
    } else {
      appliedMigrations = migrate(db);
    }
    if (create) {
      db.prepare('INSERT INTO project (id, name, created_at) VALUES (1, ?, ?)').run(create.name, nowIso());
    }
    let interruptedJobs: number[] = [];
    let removedTempFiles = 0;
    if (!readonly) {
      ensureFolders(dir);
      const conn = db;
      interruptedJobs = conn.transaction(() => {
        const ids = (conn.prepare("SELECT id FROM jobs WHERE status = 'running' ORDER BY id").all() as { id: number }[]).map((r) => r.id);
        conn.prepare(`UPDATE jobs SET status = 'interrupted', finished_at = ?,
                        message = 'interrupted: Argus stopped while this job was running' WHERE status = 'running'`).run(nowIso());
        return ids;
      }).immediate();
      removedTempFiles = cleanTemp(dir);
    }
    return new Project(dir, db, lock, { appliedMigrations, interruptedJobs, removedTempFiles });
  } catch (err) {
    db?.close();
    lock?.close();
    if (isBusyError(err)) throw busyError(dir, err);
    if (isCorruptionError(err)) throw corruptError(dbPath, err);
    throw err;
  }
}

/**
 * Opens the project in folder `dir`. Read-write (the default) takes the writer lock and runs
 * recovery (see the module comment); `{ readonly: true }` only reads.
 * Throws StoreError PROJECT_NOT_FOUND, PROJECT_BUSY, PROJECT_CORRUPT or SCHEMA_TOO_NEW.
 */
export function openProject(dir: string, options: OpenOptions = {}): Project {
  if (typeof dir !== 'string' || dir.length === 0) throw new TypeError(`expected a folder path for dir, received ${typeof dir}`);
  const abs = resolve(dir);
  if (!existsSync(join(abs, DB_FILE))) throw new StoreError('PROJECT_NOT_FOUND', `no Argus project in ${abs} (${DB_FILE} is missing)`);
  return openDatabase(abs, options, null);
}

/**
 * `mkdir -p` one level at a time. Node's recursive mkdirSync never returns where mkdir fails with
 * ENOENT below a parent that exists (as anywhere under /proc), which would hang the station; here
 * such a folder is an ordinary error (ENOENT, ENOTDIR, EACCES, ...).
 */
function makeFolders(abs: string): void {
  const missing: string[] = [];
  for (let p = abs; !existsSync(p); p = dirname(p)) {
    missing.unshift(p);
    if (dirname(p) === p) break;
  }
  for (const folder of missing) mkdirSync(folder);
}

/**
 * Creates a project named `name` in folder `dir` (created if needed; it must be empty) and returns
 * it open read-write. Throws StoreError PROJECT_EXISTS when the folder holds anything.
 */
export function createProject(dir: string, name: string, options: Omit<OpenOptions, 'readonly'> = {}): Project {
  if (typeof dir !== 'string' || dir.length === 0) throw new TypeError(`expected a folder path for dir, received ${typeof dir}`);
  if (typeof name !== 'string') throw new TypeError(`expected a string for name, received ${typeof name}`);
  const trimmed = name.trim();
  if (trimmed.length === 0 || trimmed.length > 200) throw new RangeError(`expected a project name of 1 to 200 characters, received ${JSON.stringify(name)}`);
  const abs = resolve(dir);
  if (existsSync(abs)) {
    if (!statSync(abs).isDirectory()) throw new StoreError('PROJECT_EXISTS', `${abs} exists and is not a folder`);
    const entries = readdirSync(abs);
    if (entries.includes(DB_FILE)) throw new StoreError('PROJECT_EXISTS', `${abs} already holds an Argus project`);
    if (entries.length > 0) throw new StoreError('PROJECT_EXISTS', `${abs} is not empty; a new project needs an empty folder`);
  }
  makeFolders(abs);
  return openDatabase(abs, options, { name: trimmed });
}
