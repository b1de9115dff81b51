/**
 * Versioned schema migrations: `migrations/NNNN_name.sql`, applied in order, each inside its own
 * transaction together with its row in `schema_migrations`. A database that records a version this
 * code does not know was written by a newer Argus and is refused (SCHEMA_TOO_NEW), never "upgraded".
 * A migration that starts with REBUILDS_TABLES replaces a table (SQLite cannot drop a constraint): it
 * runs with foreign keys off, as SQLite's documented procedure requires (a DROP TABLE would otherwise
 * cascade into the tables that reference it), and commits only if `foreign_key_check` finds nothing.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Database } from 'better-sqlite3';
import { runtimeFile } from '../util/runtime-files.ts';
import { StoreError } from './errors.ts';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

const MIGRATIONS_DIR = runtimeFile(new URL('./migrations/', import.meta.url), 'migrations');
const FILE_NAME = /^(\d{4})_([a-z0-9_]+)\.sql$/;
const REBUILDS_TABLES = '-- argus: rebuilds tables';

let cached: readonly Migration[] | undefined;

/** The migrations shipped with this code, in version order (1, 2, 3, … with no gaps). */
export function loadMigrations(dir: string = MIGRATIONS_DIR): readonly Migration[] {
  if (dir === MIGRATIONS_DIR && cached) return cached;
  const found: Migration[] = [];
  for (const file of readdirSync(dir).sort()) {
    const m = FILE_NAME.exec(file);
    if (!m) continue;
    found.push({ version: Number(m[1]), name: m[2]!, sql: readFileSync(`${dir}/${file}`, 'utf8') });
  }
  found.forEach((mig, i) => {
    if (mig.version !== i + 1) throw new Error(`migrations in ${dir} must be numbered 0001, 0002, … without gaps; found ${mig.version} at position ${i + 1}`);
  });
  if (dir === MIGRATIONS_DIR) cached = found;
  return found;
}

/** The newest schema version this code knows. */
export function latestSchemaVersion(): number {
  return loadMigrations().length;
}

/** The highest version recorded in the database, 0 for a fresh one. */
export function schemaVersion(db: Database): number {
  const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
  if (!table) return 0;
  const row = db.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number | null };
  return row.v ?? 0;
}

/**
 * Brings the database to the newest version. Returns the versions it applied (empty when already
 * current). Throws SCHEMA_TOO_NEW when the database is newer than this code.
 */
export function migrate(db: Database, migrations: readonly Migration[] = loadMigrations()): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
  )`);
  const current = schemaVersion(db);
  const latest = migrations.length;
  if (current > latest) {
    throw new StoreError('SCHEMA_TOO_NEW',
      `project database is at schema version ${current} but this version of Argus knows only up to ${latest}; open it with a newer Argus`);
  }
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  const applied: number[] = [];
  for (const mig of migrations.slice(current)) {
    const rebuilds = mig.sql.startsWith(REBUILDS_TABLES);
    const foreignKeys = db.pragma('foreign_keys', { simple: true }) === 1;
    if (rebuilds) db.pragma('foreign_keys = OFF');
    try {
      db.transaction(() => {
        db.exec(mig.sql);
        if (rebuilds) {
          const broken = db.pragma('foreign_key_check') as Array<{ table: string; rowid: number; parent: string }>;
          if (broken.length > 0) {
            const first = broken[0]!;
            throw new StoreError('PROJECT_CORRUPT', `migration ${mig.version} (${mig.name}) would leave ${broken.length} broken references (first: ${first.table} row ${first.rowid} -> ${first.parent}); nothing was changed`);
          }
        }
        record.run(mig.version, mig.name, new Date().toISOString());
      }).immediate();
    } finally {
      if (rebuilds && foreignKeys) db.pragma('foreign_keys = ON');
    }
    applied.push(mig.version);
  }
  if (applied.length > 0) db.pragma(`user_version = ${latest}`);
  return applied;
}
