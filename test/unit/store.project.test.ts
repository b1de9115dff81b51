import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { loadMigrations, migrate } from '../../src-main/store/migrate.ts';
import { createProject, jobs, latestSchemaVersion, openProject, products, StoreError } from '../../src-main/store/index.ts';
import { tempDir } from '../fixtures/store.ts';

function storeError(fn: () => unknown): StoreError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(StoreError);
    return err as StoreError;
  }
  throw new Error('expected a StoreError, nothing was thrown');
}

describe('createProject()', () => {
  it('creates argus.db with images/, blobs/ and tmp/ in a new folder and records every migration', () => {
    const dir = join(tempDir(), 'project');
    const p = createProject(dir, 'Brackets');
    try {
      for (const f of ['argus.db', 'images', 'blobs', 'tmp']) expect(existsSync(join(dir, f))).toBe(true);
      expect(p.name).toBe('Brackets');
      const versions = (p.db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as { version: number }[]).map((r) => r.version);
      expect(versions).toEqual(Array.from({ length: latestSchemaVersion() }, (_, i) => i + 1));
      expect(p.recovery.appliedMigrations).toEqual(versions);
    } finally {
      p.close();
    }
  });

  it('turns on WAL, foreign keys, synchronous=FULL and a busy timeout', () => {
    const p = createProject(join(tempDir(), 'project'), 'x', { busyTimeoutMs: 1234 });
    try {
      expect(p.db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(p.db.pragma('foreign_keys', { simple: true })).toBe(1);
      expect(p.db.pragma('synchronous', { simple: true })).toBe(2);
      expect(p.db.pragma('busy_timeout', { simple: true })).toBe(1234);
    } finally {
      p.close();
    }
  });

  it('refuses a folder that already holds files or a project (PROJECT_EXISTS)', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'notes.txt'), 'hello');
    expect(storeError(() => createProject(dir, 'x')).code).toBe('PROJECT_EXISTS');
    const proj = join(dir, 'p');
    createProject(proj, 'x').close();
    expect(storeError(() => createProject(proj, 'x')).code).toBe('PROJECT_EXISTS');
  });

  it('refuses a blank name with a RangeError and a non-string name with a TypeError', () => {
    const dir = join(tempDir(), 'p');
    expect(() => createProject(dir, '   ')).toThrow(RangeError);
    expect(() => createProject(dir, 42 as unknown as string)).toThrow(TypeError);
  });
});

describe('openProject()', () => {
  it('reopens a project with its name and rows', () => {
    const dir = join(tempDir(), 'p');
    const a = createProject(dir, 'Valves');
    products.add(a, { name: 'PN-7' });
    a.close();
    const b = openProject(dir);
    try {
      expect(b.name).toBe('Valves');
      expect(products.list(b).map((x) => x.name)).toEqual(['PN-7']);
      expect(b.recovery).toEqual({ appliedMigrations: [], interruptedJobs: [], removedTempFiles: 0 });
    } finally {
      b.close();
    }
  });

  it('throws PROJECT_NOT_FOUND for a folder without argus.db', () => {
    expect(storeError(() => openProject(tempDir())).code).toBe('PROJECT_NOT_FOUND');
  });

  it('throws PROJECT_CORRUPT for an argus.db that is not SQLite, and for a SQLite file that is not a project', () => {
    const junk = tempDir();
    writeFileSync(join(junk, 'argus.db'), Buffer.alloc(4096, 7));
    expect(storeError(() => openProject(junk)).code).toBe('PROJECT_CORRUPT');
    const other = tempDir();
    const db = new Database(join(other, 'argus.db'));
    db.exec('CREATE TABLE t (x)');
    db.close();
    expect(storeError(() => openProject(other)).code).toBe('PROJECT_CORRUPT');
  });

  it('throws SCHEMA_TOO_NEW for a database written by a newer Argus, and leaves it untouched', () => {
    const dir = join(tempDir(), 'p');
    const p = createProject(dir, 'x');
    p.db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'from_the_future', 'now')").run();
    p.close();
    const err = storeError(() => openProject(dir));
    expect(err.code).toBe('SCHEMA_TOO_NEW');
    expect(err.message).toMatch(/999/);
    expect(storeError(() => openProject(dir, { readonly: true })).code).toBe('SCHEMA_TOO_NEW');
  });

  it('marks jobs left running as interrupted and leaves queued and finished jobs alone', () => {
    const dir = join(tempDir(), 'p');
    const a = createProject(dir, 'x');
    const running = jobs.start(a, jobs.create(a, { kind: 'train' }).id);
    const queued = jobs.create(a, { kind: 'inspect' });
    const done = jobs.finish(a, jobs.start(a, jobs.create(a, { kind: 'import' }).id).id, 'succeeded');
    a.close();
    const b = openProject(dir);
    try {
      expect(b.recovery.interruptedJobs).toEqual([running.id]);
      const after = jobs.get(b, running.id);
      expect(after.status).toBe('interrupted');
      expect(after.finishedAt).not.toBeNull();
      expect(jobs.get(b, queued.id).status).toBe('queued');
      expect(jobs.get(b, done.id).status).toBe('succeeded');
    } finally {
      b.close();
    }
  });

  it('removes partial files left in tmp/ by an interrupted write', () => {
    const dir = join(tempDir(), 'p');
    createProject(dir, 'x').close();
    writeFileSync(join(dir, 'tmp', 'deadbeef.part'), 'half a file');
    mkdirSync(join(dir, 'tmp', 'stray'));
    const p = openProject(dir);
    p.close();
    expect(p.recovery.removedTempFiles).toBe(2);
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
  });

  it('opens read-only beside a writer, reads its commits and refuses writes (READ_ONLY)', () => {
    const dir = join(tempDir(), 'p');
    const w = createProject(dir, 'x');
    const r = openProject(dir, { readonly: true });
    try {
      products.add(w, { name: 'PN-1' });
      expect(products.list(r).map((x) => x.name)).toEqual(['PN-1']);
      expect(storeError(() => products.add(r, { name: 'PN-2' })).code).toBe('READ_ONLY');
    } finally {
      r.close();
      w.close();
    }
  });

  it('closes twice without complaint', () => {
    const p = createProject(join(tempDir(), 'p'), 'x');
    p.close();
    expect(() => p.close()).not.toThrow();
    expect(p.isOpen).toBe(false);
  });
});

describe('migrate()', () => {
  it('applies .sql migrations in order, each in a transaction recorded in schema_migrations', () => {
    const dir = tempDir();
    writeFileSync(join(dir, '0001_first.sql'), 'CREATE TABLE a (x INTEGER);');
    writeFileSync(join(dir, '0002_second.sql'), 'ALTER TABLE a ADD COLUMN y TEXT;');
    const db = new Database(':memory:');
    expect(migrate(db, loadMigrations(dir))).toEqual([1, 2]);
    expect(migrate(db, loadMigrations(dir))).toEqual([]);
    expect((db.prepare('SELECT name FROM schema_migrations ORDER BY version').all() as { name: string }[]).map((r) => r.name)).toEqual(['first', 'second']);
    db.close();
  });

  it('rolls a failing migration back completely and keeps the ones before it', () => {
    const dir = tempDir();
    writeFileSync(join(dir, '0001_first.sql'), 'CREATE TABLE a (x INTEGER);');
    writeFileSync(join(dir, '0002_broken.sql'), 'CREATE TABLE b (x INTEGER); THIS IS NOT SQL;');
    const db = new Database(':memory:');
    expect(() => migrate(db, loadMigrations(dir))).toThrow();
    expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all()).toEqual([{ name: 'a' }, { name: 'schema_migrations' }]);
    expect(db.prepare('SELECT max(version) AS v FROM schema_migrations').get()).toEqual({ v: 1 });
    db.close();
  });

  it('refuses migration files with a gap in their numbering', () => {
    const dir = tempDir();
    writeFileSync(join(dir, '0001_first.sql'), 'SELECT 1;');
    writeFileSync(join(dir, '0003_third.sql'), 'SELECT 1;');
    expect(() => loadMigrations(dir)).toThrow(/without gaps/);
  });
});
