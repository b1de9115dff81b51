/**
 * Training data of bounded memory: fixed-size float32 records (one per training image: its pixels or
 * its features), appended once and read back in any order while a method trains. Records stay in
 * memory while all of them fit the budget; beyond it they go to a temporary file (`argus-spill-<pid>-*`
 * in the system's temporary folder, removed by `close`), so a fit's memory does not grow with the
 * number of training images. Reads return the same values either way: a method trains identically.
 * Folders left by a process that was killed are removed by the next store that spills.
 */
import { closeSync, mkdtempSync, openSync, readdirSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SPILL_PREFIX = 'argus-spill-';
/** A spill folder's name: the prefix, the owning process id, mkdtemp's suffix. */
const SPILL_FOLDER = new RegExp(`^${SPILL_PREFIX}(\\d+)-`);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Spill folders in `dir` whose process is gone (a fit killed before it could delete its file). */
function removeOrphans(dir: string): void {
  for (const name of readdirSync(dir)) {
    const m = SPILL_FOLDER.exec(name);
    if (m && !alive(Number(m[1]))) rmSync(join(dir, name), { recursive: true, force: true });
  }
}

export class RecordStore {
  private memory: Float32Array | undefined;
  private file: { dir: string; fd: number } | undefined;
  private count = 0;

  /**
   * `recordFloats` values per record, at most `capacity` records; in memory when
   * capacity × record size ≤ `budgetBytes`, else in a file under `dir`.
   */
  constructor(readonly recordFloats: number, readonly capacity: number, budgetBytes: number, dir = tmpdir()) {
    if (!Number.isInteger(recordFloats) || recordFloats < 1) throw new RangeError(`a record holds at least one value; received ${recordFloats}`);
    if (!Number.isInteger(capacity) || capacity < 0) throw new RangeError(`capacity must be a whole number of records; received ${capacity}`);
    if (capacity * recordFloats * 4 <= budgetBytes) this.memory = new Float32Array(capacity * recordFloats);
    else {
      removeOrphans(dir);
      const folder = mkdtempSync(join(dir, `${SPILL_PREFIX}${process.pid}-`));
      this.file = { dir: folder, fd: openSync(join(folder, 'records.f32'), 'w+') };
    }
  }

  /** Whether the records live in a file (the training set is larger than the budget). */
  get spilled(): boolean {
    return this.file !== undefined;
  }

  get length(): number {
    return this.count;
  }

  /** Appends whole records (`data.length` a multiple of the record size). */
  append(data: Float32Array): void {
    if (data.length % this.recordFloats !== 0) throw new RangeError(`${data.length} values are not whole records of ${this.recordFloats}`);
    const records = data.length / this.recordFloats;
    if (this.count + records > this.capacity) throw new RangeError(`more records than announced (${this.capacity})`);
    if (this.memory) this.memory.set(data, this.count * this.recordFloats);
    else {
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      let written = 0;
      while (written < bytes.length) written += writeSync(this.open().fd, bytes, written, bytes.length - written, this.count * this.recordFloats * 4 + written);
    }
    this.count += records;
  }

  /** Values [offset, offset + length) of record `index` into `out` at `outOffset`. */
  readInto(index: number, out: Float32Array, outOffset = 0, offset = 0, length = this.recordFloats - offset): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.count) throw new RangeError(`no record ${index} (${this.count} stored)`);
    if (offset < 0 || length < 0 || offset + length > this.recordFloats) throw new RangeError(`values ${offset}..${offset + length} lie outside a record of ${this.recordFloats}`);
    const start = index * this.recordFloats + offset;
    if (this.memory) {
      out.set(this.memory.subarray(start, start + length), outOffset);
      return;
    }
    const bytes = new Uint8Array(out.buffer, out.byteOffset + outOffset * 4, length * 4);
    let read = 0;
    while (read < bytes.length) {
      const n = readSync(this.open().fd, bytes, read, bytes.length - read, start * 4 + read);
      if (n === 0) throw new Error(`the spill file ended inside record ${index}`);
      read += n;
    }
  }

  /** The given records, in that order, as one array. */
  gather(indices: readonly number[]): Float32Array {
    const out = new Float32Array(indices.length * this.recordFloats);
    indices.forEach((i, k) => this.readInto(i, out, k * this.recordFloats));
    return out;
  }

  /** Frees the memory or deletes the file. The store cannot be used afterwards. */
  close(): void {
    this.memory = undefined;
    if (this.file) {
      closeSync(this.file.fd);
      rmSync(this.file.dir, { recursive: true, force: true });
    }
    this.file = undefined;
    this.count = 0;
  }

  private open(): { dir: string; fd: number } {
    if (!this.file) throw new Error('the record store is closed');
    return this.file;
  }
}
