import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createProject, images, insideProject, products, projectRelative } from '../../src-main/store/index.ts';
import { fakePng, tempDir, storeErrorCode } from '../fixtures/store.ts';

describe('insideProject()', () => {
  it('resolves relative paths against the project folder and accepts paths inside it', () => {
    const root = tempDir();
    expect(insideProject(root, 'images/ab/x.png')).toBe(join(root, 'images', 'ab', 'x.png'));
    expect(insideProject(root, join(root, 'blobs'))).toBe(join(root, 'blobs'));
    expect(insideProject(root, 'images/../blobs/x')).toBe(join(root, 'blobs', 'x'));
    expect(insideProject(root, '..hidden')).toBe(join(root, '..hidden'));
    expect(insideProject(root, '.')).toBe(resolve(root));
  });

  it('refuses ../ escapes and absolute paths outside the folder (PATH_OUTSIDE_PROJECT)', () => {
    const root = join(tempDir(), 'project');
    mkdirSync(root);
    expect(storeErrorCode(() => insideProject(root, '../other/argus.db'))).toBe('PATH_OUTSIDE_PROJECT');
    expect(storeErrorCode(() => insideProject(root, 'images/../../x'))).toBe('PATH_OUTSIDE_PROJECT');
    expect(storeErrorCode(() => insideProject(root, '/etc/passwd'))).toBe('PATH_OUTSIDE_PROJECT');
    expect(storeErrorCode(() => insideProject(root, `${root}-sibling/file`))).toBe('PATH_OUTSIDE_PROJECT');
  });

  it('refuses a path that leaves the folder through a symbolic link', () => {
    const base = tempDir();
    const root = join(base, 'project');
    mkdirSync(join(base, 'elsewhere'), { recursive: true });
    mkdirSync(root);
    writeFileSync(join(base, 'elsewhere', 'secret.txt'), 'x');
    symlinkSync(join(base, 'elsewhere'), join(root, 'link'));
    expect(storeErrorCode(() => insideProject(root, 'link/secret.txt'))).toBe('PATH_OUTSIDE_PROJECT');
    expect(storeErrorCode(() => insideProject(root, 'link/not-yet-written.bin'))).toBe('PATH_OUTSIDE_PROJECT');
  });

  it('throws TypeError for an empty or non-string path', () => {
    const root = tempDir();
    expect(() => insideProject(root, '')).toThrow(TypeError);
    expect(() => insideProject(root, 7 as unknown as string)).toThrow(TypeError);
    expect(() => insideProject(root, 'a\0b')).toThrow(TypeError);
  });

  it('gives project-relative paths with forward slashes', () => {
    const root = tempDir();
    expect(projectRelative(root, join(root, 'images', 'ab', 'c.png'))).toBe('images/ab/c.png');
    expect(storeErrorCode(() => projectRelative(root, '/tmp'))).toBe('PATH_OUTSIDE_PROJECT');
  });
});

describe('stored paths read back from the database', () => {
  it('refuses to read an image whose stored path was altered to point outside the project', () => {
    const p = createProject(join(tempDir(), 'project'), 'x');
    try {
      const productId = products.add(p, { name: 'A' }).id;
      const img = images.add(p, { productId, originalPath: '/x.png', data: fakePng(4, 4), width: 4, height: 4, format: 'png', split: 'train' });
      p.db.prepare('UPDATE images SET stored_path = ? WHERE id = ?').run('../../../../etc/passwd', img.id);
      const tampered = images.get(p, img.id);
      expect(storeErrorCode(() => images.filePath(p, tampered))).toBe('PATH_OUTSIDE_PROJECT');
      expect(storeErrorCode(() => images.readBytes(p, tampered))).toBe('PATH_OUTSIDE_PROJECT');
    } finally {
      p.close();
    }
  });
});
