/**
 * Ground-truth masks and ignore regions: at most one of each per image, kept as PNG blobs. The PNG
 * must have the image's size (MASK_MISMATCH otherwise); its size is read from the PNG header, so
 * the store needs no decoder. Setting a mask again replaces it.
 */
import { readBlob, registerBlob, stageBlob } from './blobs.ts';
import { StoreError } from './errors.ts';
import * as images from './images.ts';
import type { Project } from './project.ts';
import { nowIso } from './time.ts';
import { checkBytes, checkId, checkOneOf } from './validate.ts';

export type MaskKind = 'ground_truth' | 'ignore';
export const MASK_KINDS: readonly MaskKind[] = ['ground_truth', 'ignore'];

export interface Mask {
  readonly id: number;
  readonly imageId: number;
  readonly kind: MaskKind;
  readonly sha256: string;
  readonly width: number;
  readonly height: number;
  readonly createdAt: string;
}

interface Row { id: number; image_id: number; kind: MaskKind; blob_sha256: string; width: number; height: number; created_at: string }
const toMask = (r: Row): Mask => ({ id: r.id, imageId: r.image_id, kind: r.kind, sha256: r.blob_sha256, width: r.width, height: r.height, createdAt: r.created_at });

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Width and height from a PNG's IHDR chunk, or null when `data` is not a PNG. */
export function pngSize(data: Uint8Array): { width: number; height: number } | null {
  if (data.length < 24 || PNG_SIGNATURE.some((b, i) => data[i] !== b)) return null;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (String.fromCharCode(data[12]!, data[13]!, data[14]!, data[15]!) !== 'IHDR') return null;
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  return width > 0 && height > 0 ? { width, height } : null;
}

/** Sets (or replaces) the image's mask of `kind` from PNG bytes. */
export function set(p: Project, input: { imageId: number; kind: MaskKind; png: Uint8Array }): Mask {
  const imageId = checkId('imageId', input.imageId);
  const kind = checkOneOf('kind', input.kind, MASK_KINDS);
  const png = checkBytes('png', input.png);
  const image = images.get(p, imageId);
  const size = pngSize(png);
  if (!size) throw new StoreError('MASK_MISMATCH', `the ${kind} mask for image ${imageId} is not a PNG file`);
  if (size.width !== image.width || size.height !== image.height) {
    throw new StoreError('MASK_MISMATCH', `the ${kind} mask for image ${imageId} is ${size.width}x${size.height} but the image is ${image.width}x${image.height}`);
  }
  const blob = stageBlob(p, png, 'image/png');
  p.transaction(() => {
    registerBlob(p, blob);
    p.statement(
      `INSERT INTO masks (image_id, kind, blob_sha256, width, height, created_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (image_id, kind) DO UPDATE SET blob_sha256 = excluded.blob_sha256, width = excluded.width,
         height = excluded.height, created_at = excluded.created_at`,
    ).run(imageId, kind, blob.sha256, size.width, size.height, nowIso());
  });
  return find(p, imageId, kind)!;
}

export function find(p: Project, imageId: number, kind: MaskKind): Mask | undefined {
  const r = p.guard(() => p.statement('SELECT * FROM masks WHERE image_id = ? AND kind = ?').get(checkId('imageId', imageId), checkOneOf('kind', kind, MASK_KINDS)) as Row | undefined);
  return r && toMask(r);
}

/** Both masks of an image (those it has). */
export function listForImage(p: Project, imageId: number): Mask[] {
  return p.guard(() => (p.statement('SELECT * FROM masks WHERE image_id = ? ORDER BY kind').all(checkId('imageId', imageId)) as Row[]).map(toMask));
}

/** Removes the image's mask of `kind`; returns whether there was one. */
export function remove(p: Project, imageId: number, kind: MaskKind): boolean {
  const k = checkOneOf('kind', kind, MASK_KINDS);
  return p.transaction(() => p.statement('DELETE FROM masks WHERE image_id = ? AND kind = ?').run(checkId('imageId', imageId), k).changes > 0);
}

/** The mask's PNG bytes, checked against its hash. */
export function readPng(p: Project, mask: Mask): Buffer {
  return readBlob(p, mask.sha256);
}
