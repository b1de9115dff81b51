/**
 * Reads a dataset in the MVTec AD layout:
 *   train/good/*, test/good/*, test/<defect>/*, ground_truth/<defect>/<name>_mask.png
 * Problems (a defective image without a mask, stray files) are collected as issues; nothing throws
 * for one bad file.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';

export type Split = 'train' | 'test';

export interface DatasetImage {
  readonly path: string;
  readonly split: Split;
  /** 'good' or the defect folder's name. */
  readonly defectType: string;
  readonly defective: boolean;
  /** Ground-truth mask; absent for good images and for defective ones whose mask is missing. */
  readonly maskPath?: string;
  /** PNG masks of the image's ignore regions (its own, its product's; any size, united), white = ignored. */
  readonly ignore?: readonly Uint8Array[];
}

export interface DatasetIssue {
  readonly path: string;
  readonly problem: string;
}

export interface Dataset {
  readonly name: string;
  readonly root: string;
  readonly train: DatasetImage[];
  readonly test: DatasetImage[];
  readonly issues: DatasetIssue[];
}

export const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp']);

export class DatasetError extends Error {}

function listFiles(dir: string, issues: DatasetIssue[]): string[] {
  return readdirSync(dir)
    .filter((f) => !f.startsWith('.'))
    .sort()
    .map((f) => join(dir, f))
    .filter((p) => {
      let isFile: boolean;
      try {
        isFile = statSync(p).isFile();
      } catch (err) {
        // a dangling or looping link is one bad entry, not a bad dataset
        issues.push({ path: p, problem: `cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}), ignored` });
        return false;
      }
      if (!isFile) {
        issues.push({ path: p, problem: 'unexpected folder, ignored' });
        return false;
      }
      if (!IMAGE_EXTENSIONS.has(extname(p).toLowerCase())) {
        issues.push({ path: p, problem: `not an image file (${extname(p) || 'no extension'}), ignored` });
        return false;
      }
      return true;
    });
}

function findMask(root: string, defectType: string, imagePath: string): string | undefined {
  const stem = basename(imagePath, extname(imagePath));
  const dir = join(root, 'ground_truth', defectType);
  if (!existsSync(dir)) return undefined;
  for (const ext of IMAGE_EXTENSIONS) {
    for (const name of [`${stem}_mask${ext}`, `${stem}${ext}`]) {
      const p = join(dir, name);
      if (existsSync(p)) return p;
    }
  }
  return undefined;
}

export function scanMvtec(rootDir: string): Dataset {
  const root = resolve(rootDir);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new DatasetError(`dataset folder not found: ${root}`);
  const trainDir = join(root, 'train', 'good');
  const testDir = join(root, 'test');
  if (!existsSync(trainDir)) throw new DatasetError(`not an MVTec-layout dataset: ${trainDir} is missing`);
  if (!existsSync(testDir)) throw new DatasetError(`not an MVTec-layout dataset: ${testDir} is missing`);
  const issues: DatasetIssue[] = [];
  const train: DatasetImage[] = listFiles(trainDir, issues).map((path) => ({ path, split: 'train', defectType: 'good', defective: false }));
  const test: DatasetImage[] = [];
  for (const defectType of readdirSync(testDir).sort()) {
    const dir = join(testDir, defectType);
    if (defectType.startsWith('.') || !statSync(dir).isDirectory()) continue;
    for (const path of listFiles(dir, issues)) {
      if (defectType === 'good') {
        test.push({ path, split: 'test', defectType, defective: false });
        continue;
      }
      const maskPath = findMask(root, defectType, path);
      if (!maskPath) issues.push({ path, problem: 'defective image without a ground-truth mask: kept for image metrics, left out of pixel metrics' });
      test.push({ path, split: 'test', defectType, defective: true, ...(maskPath ? { maskPath } : {}) });
    }
  }
  if (train.length === 0) throw new DatasetError(`no training images in ${trainDir}`);
  return { name: basename(root), root, train, test, issues };
}

/** `count` entries evenly spaced over the list: item floor(i·n/count), the reference's cap on large training sets. */
export function evenlySpaced<T>(items: readonly T[], count: number): T[] {
  if (count >= items.length) return [...items];
  return Array.from({ length: Math.max(count, 0) }, (_, i) => items[Math.floor((i * items.length) / count)]!);
}
