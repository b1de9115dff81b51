import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { createProject, openProject, products, StoreError, verifyProject } from '../../src-main/store/index.ts';
import { startWriter, tempDir, storeErrorCode } from '../fixtures/store.ts';

describe('two writers at once', () => {
  it('a second process opening the project read-write gets PROJECT_BUSY; once the first is killed it opens', async () => {
    const dir = join(tempDir(), 'project');
    createProject(dir, 'x').close();
    const holder = startWriter(dir, 'hold');
    await holder.until((lines) => lines.includes('ready'));
    const err = (() => {
      try {
        openProject(dir);
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe('PROJECT_BUSY');
    expect((err as StoreError).message).toMatch(/busy/);
    const reader = openProject(dir, { readonly: true });
    expect(products.list(reader).map((p) => p.name)).toEqual(['PN-1']);
    reader.close();
    await holder.kill();
    const p = openProject(dir);
    expect(verifyProject(p).ok).toBe(true);
    p.close();
  });

  it('a second connection in the same process gets PROJECT_BUSY and the first keeps working', () => {
    const dir = join(tempDir(), 'project');
    const first = createProject(dir, 'x');
    try {
      expect(storeErrorCode(() => openProject(dir))).toBe('PROJECT_BUSY');
      products.add(first, { name: 'still writable' });
    } finally {
      first.close();
    }
    openProject(dir).close();
  });

  it('a write that meets a held database write lock fails with PROJECT_BUSY after the busy timeout, without damage', () => {
    const dir = join(tempDir(), 'project');
    const p = createProject(dir, 'x', { busyTimeoutMs: 50 });
    const intruder = new Database(join(dir, 'argus.db'), { timeout: 0 });
    try {
      products.add(p, { name: 'before' });
      intruder.exec('BEGIN IMMEDIATE');
      intruder.prepare("INSERT INTO products (name, created_at) VALUES ('intruder', 'now')").run();
      const started = Date.now();
      expect(storeErrorCode(() => products.add(p, { name: 'during' }))).toBe('PROJECT_BUSY');
      expect(Date.now() - started).toBeGreaterThanOrEqual(40);
      intruder.exec('ROLLBACK');
      products.add(p, { name: 'after' });
      expect(products.list(p).map((x) => x.name)).toEqual(['before', 'after']);
      expect(verifyProject(p).ok).toBe(true);
    } finally {
      intruder.close();
      p.close();
    }
  });
});
