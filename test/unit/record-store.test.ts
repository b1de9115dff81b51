import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RecordStore } from '../../src-main/methods/record-store.ts';

const records = (n: number, size: number) => Float32Array.from({ length: n * size }, (_, i) => Math.sin(i) * 1000 + i / 7);

describe('training records of bounded memory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'argus-records-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps records in memory while they fit the budget, in a file beyond it, and reads back the same values either way', () => {
    const data = records(5, 12);
    const memory = new RecordStore(12, 5, 5 * 12 * 4, dir);
    const file = new RecordStore(12, 5, 5 * 12 * 4 - 1, dir);
    expect(memory.spilled).toBe(false);
    expect(file.spilled).toBe(true);
    for (const s of [memory, file]) {
      s.append(data.subarray(0, 24));
      s.append(data.subarray(24));
      expect(s.length).toBe(5);
    }
    expect(file.gather([4, 0, 2])).toEqual(memory.gather([4, 0, 2]));
    expect(file.gather([4, 0, 2])).toEqual(Float32Array.from([...data.subarray(48, 60), ...data.subarray(0, 12), ...data.subarray(24, 36)]));
    const part = new Float32Array(6).fill(-1);
    file.readInto(3, part, 1, 5, 4);
    expect(Array.from(part)).toEqual([-1, ...Array.from(data.subarray(41, 45)), -1]);
    memory.close();
    file.close();
  });

  it('deletes its file when closed', () => {
    const before = readdirSync(dir).length;
    const s = new RecordStore(4, 2, 0, dir);
    s.append(records(2, 4));
    expect(readdirSync(dir)).toHaveLength(before + 1);
    const folder = join(dir, readdirSync(dir).find((f) => f.startsWith('argus-spill-'))!);
    expect(existsSync(join(folder, 'records.f32'))).toBe(true);
    s.close();
    expect(readdirSync(dir)).toHaveLength(before);
    expect(() => s.readInto(0, new Float32Array(4))).toThrow(/no record 0/);
    expect(() => s.append(records(1, 4))).toThrow(/closed/);
  });

  it('removes the spill folders of processes that are gone, and keeps those of living ones', () => {
    const own = mkdtempSync(join(tmpdir(), 'argus-orphans-'));
    const gone = spawnSync(process.execPath, ['-e', '']).pid!;
    mkdirSync(join(own, `argus-spill-${gone}-killed`));
    mkdirSync(join(own, `argus-spill-${process.pid}-running`));
    mkdirSync(join(own, 'something-else'));
    const s = new RecordStore(4, 1, 0, own);
    expect(readdirSync(own).filter((f) => !f.startsWith(`argus-spill-${process.pid}-`)).sort()).toEqual(['something-else']);
    expect(existsSync(join(own, `argus-spill-${process.pid}-running`))).toBe(true);
    s.close();
    rmSync(own, { recursive: true, force: true });
  });

  it('refuses partial records, more records than announced and reads outside what it holds', () => {
    const s = new RecordStore(4, 2, Infinity, dir);
    expect(() => s.append(new Float32Array(6))).toThrow(/not whole records of 4/);
    s.append(records(2, 4));
    expect(() => s.append(records(1, 4))).toThrow(/more records than announced \(2\)/);
    expect(() => s.readInto(2, new Float32Array(4))).toThrow(/no record 2 \(2 stored\)/);
    expect(() => s.readInto(0, new Float32Array(4), 0, 3, 2)).toThrow(/outside a record of 4/);
    expect(() => new RecordStore(0, 1, Infinity, dir)).toThrow(/at least one value/);
  });
});
