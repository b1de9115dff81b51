/**
 * A small self-describing file of named float32 tensors plus a JSON header, used for training
 * checkpoints and saved models:
 *
 *   bytes 0–7    ASCII magic "ARGUSTNS"
 *   bytes 8–11   header length H (uint32, little-endian)
 *   bytes 12–    H bytes of UTF-8 JSON: { format: 1, meta: {...}, tensors: [{ name, dims, offset }] }
 *   then         zero padding to a multiple of 8, then the tensors' float32 little-endian values, in the
 *                order listed; `offset` counts bytes from the start of this data section.
 *
 * Files are written to a temporary name and renamed, so an interrupted write never leaves a half file.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

const MAGIC = 'ARGUSTNS';
const FORMAT = 1;

export interface NamedTensor {
  readonly dims: readonly number[];
  readonly data: Float32Array;
}

export interface TensorFile {
  readonly meta: Record<string, unknown>;
  readonly tensors: ReadonlyMap<string, NamedTensor>;
}

export class TensorFileError extends Error {
  readonly code = 'TENSOR_FILE';
  /** 'magic': not a tensor file at all; 'format': another format version; 'damaged': truncated or malformed. */
  constructor(message: string, readonly reason: 'magic' | 'format' | 'damaged' = 'damaged') {
    super(message);
  }
}

const count = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

export function encodeTensorFile(file: TensorFile): Uint8Array {
  let offset = 0;
  const entries = [...file.tensors].map(([name, t]) => {
    if (t.data.length !== count(t.dims)) throw new TensorFileError(`tensor '${name}': ${t.data.length} values for dims [${t.dims}]`);
    const e = { name, dims: [...t.dims], offset };
    offset += t.data.byteLength;
    return e;
  });
  const header = new TextEncoder().encode(JSON.stringify({ format: FORMAT, meta: file.meta, tensors: entries }));
  const dataStart = Math.ceil((12 + header.length) / 8) * 8;
  const out = new Uint8Array(dataStart + offset);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(8, header.length, true);
  out.set(header, 12);
  let i = 0;
  for (const t of file.tensors.values()) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), dataStart + entries[i++]!.offset);
  }
  return out;
}

export function decodeTensorFile(bytes: Uint8Array, source = 'tensor file'): TensorFile {
  const magic = new TextDecoder().decode(bytes.subarray(0, 8));
  if (bytes.length < 12 && MAGIC.startsWith(magic)) throw new TensorFileError(`${source} is truncated (${bytes.length} bytes)`);
  if (magic !== MAGIC) throw new TensorFileError(`${source} is not an Argus tensor file (bad magic)`, 'magic');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(8, true);
  if (12 + headerLength > bytes.length) throw new TensorFileError(`${source} is truncated (header)`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + headerLength)));
  } catch {
    throw new TensorFileError(`${source} has an unreadable header`);
  }
  if (!isObject(header)) throw new TensorFileError(`${source} has an unreadable header`);
  if (header['format'] !== FORMAT) throw new TensorFileError(`${source} has format ${JSON.stringify(header['format'])}; this version reads ${FORMAT}`, 'format');
  const meta = header['meta'] ?? {};
  const entries = header['tensors'];
  if (!isObject(meta) || !Array.isArray(entries)) throw new TensorFileError(`${source} has a malformed header (meta or tensor list)`);
  const dataStart = Math.ceil((12 + headerLength) / 8) * 8;
  const tensors = new Map<string, NamedTensor>();
  for (const e of entries as unknown[]) {
    if (!isObject(e) || typeof e['name'] !== 'string' || !isDims(e['dims']) || !isCount(e['offset'])) {
      throw new TensorFileError(`${source} has a malformed tensor entry ${JSON.stringify(e)?.slice(0, 200)}`);
    }
    const name = e['name'];
    const dims = e['dims'];
    if (tensors.has(name)) throw new TensorFileError(`${source} lists tensor '${name}' twice`);
    const n = count(dims);
    const start = dataStart + e['offset'];
    if (start + 4 * n > bytes.length) throw new TensorFileError(`${source} is truncated (tensor '${name}')`);
    // copy: the values must be aligned and must not alias the file buffer
    const data = new Float32Array(n);
    new Uint8Array(data.buffer).set(bytes.subarray(start, start + 4 * n));
    tensors.set(name, { dims, data });
  }
  return { meta, tensors };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isDims(v: unknown): v is number[] {
  return Array.isArray(v) && v.every(isCount) && Number.isSafeInteger(count(v as number[]));
}

/** Writes bytes to a temporary name beside `path`, then renames: readers never see a half-written file. */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}

export function writeTensorFile(path: string, file: TensorFile): void {
  writeFileAtomic(path, encodeTensorFile(file));
}

export function readTensorFile(path: string): TensorFile {
  return decodeTensorFile(readFileSync(path), path);
}
