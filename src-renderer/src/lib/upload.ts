/**
 * Files dropped onto the page, for import. In Electron a dropped file or folder has a path (the
 * preload's webUtils.getPathForFile) and is imported by path like a typed one. In browser mode the
 * page never learns paths, so the files (folders walked, their inner paths kept as names) are sent
 * to the station as bytes (images.upload) in batches, and checked there like any imported file.
 */
import { api } from './api.ts';
import type { ImportSummary } from './contract.ts';

export interface DroppedFile {
  readonly file: File;
  /** The name to keep: the file's path inside the dropped folder, or its own name. */
  readonly name: string;
}

/** File extensions an import reads (src-main/datasets/mvtec.ts IMAGE_EXTENSIONS); anything else is reported, not sent. */
const IMAGE_NAME = /\.(png|jpe?g|bmp|tiff?|webp)$/i;
/** Bytes per upload call (before base64), well under the station's request limit. */
const BATCH_BYTES = 24 * 1024 * 1024;
const BATCH_FILES = 200;

function readEntries(reader: FileSystemDirectoryReader): Promise<FileSystemEntry[]> {
  return new Promise((resolve, reject) => reader.readEntries(resolve, reject));
}

async function walk(entry: FileSystemEntry, out: DroppedFile[]): Promise<void> {
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    out.push({ file, name: entry.fullPath.replace(/^\//, '') });
  } else if (entry.isDirectory) {
    const reader = (entry as FileSystemDirectoryEntry).createReader();
    // readEntries answers in chunks until an empty one
    for (let chunk = await readEntries(reader); chunk.length > 0; chunk = await readEntries(reader)) {
      for (const child of chunk.sort((a, b) => a.name.localeCompare(b.name))) {
        if (!child.name.startsWith('.')) await walk(child, out);
      }
    }
  }
}

/** Every file of a drop, folders walked. */
export async function droppedFiles(data: DataTransfer): Promise<DroppedFile[]> {
  const entries = [...data.items].filter((i) => i.kind === 'file').map((i) => i.webkitGetAsEntry?.() ?? null);
  if (entries.length > 0 && entries.every((e) => e !== null)) {
    const out: DroppedFile[] = [];
    for (const entry of entries) await walk(entry!, out);
    return out;
  }
  return [...data.files].map((file) => ({ file, name: file.webkitRelativePath || file.name }));
}

/** Files picked with a file input (a folder input names each file by its path inside the folder). */
export function pickedFiles(list: FileList): DroppedFile[] {
  return [...list].map((file) => ({ file, name: file.webkitRelativePath || file.name }));
}

function base64(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ''));
    reader.onerror = () => reject(reader.error ?? new Error(`cannot read ${file.name}`));
    reader.readAsDataURL(file);
  });
}

/**
 * Sends the files to the station in batches; `onprogress` hears how many are done. Files that are not
 * images by name are listed as problems without being sent.
 */
export async function uploadFiles(
  request: { productId: number; split: 'train' | 'validation' | 'test'; verdict: 'good' | 'defective' | 'unlabelled' },
  files: readonly DroppedFile[],
  onprogress: (done: number, total: number) => void,
): Promise<ImportSummary> {
  const summary: ImportSummary = { imported: 0, duplicates: 0, failed: 0, problems: [] };
  const images = files.filter((f) => {
    if (IMAGE_NAME.test(f.name)) return true;
    summary.problems.push({ path: f.name, problem: `not an image file (${/\.[^./]+$/.exec(f.name)?.[0] ?? 'no extension'}), skipped` });
    return false;
  });
  let done = 0;
  onprogress(done, images.length);
  for (let start = 0; start < images.length;) {
    let bytes = 0;
    let end = start;
    while (end < images.length && end - start < BATCH_FILES && (end === start || bytes + images[end]!.file.size <= BATCH_BYTES)) bytes += images[end++]!.file.size;
    const batch = await Promise.all(images.slice(start, end).map(async (f) => ({ name: f.name, base64: await base64(f.file) })));
    const answer = await api.call('images.upload', { ...request, files: batch });
    summary.imported += answer.imported;
    summary.duplicates += answer.duplicates;
    summary.failed += answer.failed;
    summary.problems.push(...answer.problems);
    done = end;
    start = end;
    onprogress(done, images.length);
  }
  return summary;
}
