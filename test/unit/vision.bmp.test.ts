import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBmp, ImageReadError, readImage, toRgb, type RasterImage } from '../../src-main/vision/index.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'argus-vision-bmp-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * Builds a BMP byte by byte. `rows` are the stored rows in file order (bottom row first for a bottom-up
 * file), each WITHOUT padding; padding to 4 bytes is added here.
 */
function buildBmp(opts: {
  width: number;
  height: number; // negative = top-down
  bpp: number;
  rows: number[][];
  headerSize?: 12 | 40 | 108 | 124;
  compression?: number;
  palette?: number[][]; // [r,g,b] entries
  masks?: [number, number, number]; // bit fields: inside V4/V5 header, or after a 40-byte header
  colorsUsed?: number;
}): Buffer {
  const headerSize = opts.headerSize ?? 40;
  const compression = opts.compression ?? 0;
  const core = headerSize === 12;
  const masksAfterHeader = headerSize === 40 && opts.masks !== undefined ? 12 : 0;
  const pal = opts.palette ?? [];
  const entry = core ? 3 : 4;
  const dataOffset = 14 + headerSize + masksAfterHeader + pal.length * entry;
  const stride = Math.floor((opts.bpp * opts.width + 31) / 32) * 4;
  const pixels = Buffer.alloc(stride * opts.rows.length);
  opts.rows.forEach((r, i) => Buffer.from(r).copy(pixels, i * stride));
  const buf = Buffer.alloc(dataOffset + pixels.length);
  buf.write('BM', 0, 'latin1');
  buf.writeUInt32LE(buf.length, 2);
  buf.writeUInt32LE(dataOffset, 10);
  buf.writeUInt32LE(headerSize, 14);
  if (core) {
    buf.writeUInt16LE(opts.width, 18);
    buf.writeUInt16LE(opts.height, 20);
    buf.writeUInt16LE(1, 22);
    buf.writeUInt16LE(opts.bpp, 24);
  } else {
    buf.writeInt32LE(opts.width, 18);
    buf.writeInt32LE(opts.height, 22);
    buf.writeUInt16LE(1, 26);
    buf.writeUInt16LE(opts.bpp, 28);
    buf.writeUInt32LE(compression, 30);
    buf.writeUInt32LE(pixels.length, 34);
    buf.writeInt32LE(2835, 38);
    buf.writeInt32LE(2835, 42);
    buf.writeUInt32LE(opts.colorsUsed ?? pal.length, 46);
    if (opts.masks) opts.masks.forEach((m, i) => buf.writeUInt32LE(m >>> 0, 54 + i * 4));
  }
  pal.forEach(([r, g, b], i) => {
    const p = 14 + headerSize + masksAfterHeader + i * entry;
    buf[p] = b!;
    buf[p + 1] = g!;
    buf[p + 2] = r!;
  });
  pixels.copy(buf, dataOffset);
  return buf;
}

const u8 = (img: RasterImage): number[] => Array.from(img.data, (v) => Math.round(v * 255));

async function readBmpFile(name: string, bytes: Buffer): Promise<RasterImage> {
  const p = join(dir, name);
  await writeFile(p, bytes);
  return readImage(p);
}

async function expectBmpError(name: string, bytes: Buffer, reason: RegExp): Promise<void> {
  const p = join(dir, name);
  await writeFile(p, bytes);
  const err = await readImage(p).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ImageReadError);
  expect((err as ImageReadError).reason).toMatch(reason);
  expect((err as ImageReadError).path).toBe(p);
}

describe('BMP decoding', () => {
  // A 3x2 image used throughout:   top row:    red    green  blue
  //                                bottom row: white  black  (10,20,30)
  const TOP = [[255, 0, 0], [0, 255, 0], [0, 0, 255]];
  const BOTTOM = [[255, 255, 255], [0, 0, 0], [10, 20, 30]];
  const EXPECTED = [...TOP.flat(), ...BOTTOM.flat()];
  const bgr = (row: number[][]): number[] => row.flatMap(([r, g, b]) => [b!, g!, r!]);

  it('decodes a 24-bit bottom-up BMP (rows padded to 4 bytes) exactly', async () => {
    const bytes = buildBmp({ width: 3, height: 2, bpp: 24, rows: [bgr(BOTTOM), bgr(TOP)] });
    const img = await readBmpFile('rgb24.dat', bytes); // detected from "BM", not from the extension
    expect([img.width, img.height, img.channels]).toEqual([3, 2, 3]);
    expect(Array.from(img.data)).toEqual(EXPECTED.map((v) => Math.fround(v / 255)));
  });

  it('decodes a 24-bit top-down BMP (negative height) exactly', async () => {
    const bytes = buildBmp({ width: 3, height: -2, bpp: 24, rows: [bgr(TOP), bgr(BOTTOM)] });
    const img = await readBmpFile('rgb24-topdown.bmp', bytes);
    expect([img.width, img.height, img.channels]).toEqual([3, 2, 3]);
    expect(u8(img)).toEqual(EXPECTED);
  });

  it('decodes a 32-bit BI_RGB BMP, ignoring the fourth byte', async () => {
    const bgrx = (row: number[][]): number[] => row.flatMap(([r, g, b]) => [b!, g!, r!, 0x77]);
    const bytes = buildBmp({ width: 3, height: 2, bpp: 32, rows: [bgrx(BOTTOM), bgrx(TOP)] });
    const img = await readBmpFile('rgb32.bmp', bytes);
    expect([img.width, img.height, img.channels]).toEqual([3, 2, 3]);
    expect(u8(img)).toEqual(EXPECTED);
  });

  it('decodes a 32-bit BI_BITFIELDS BMP with a V4 header (masks inside the header)', async () => {
    // byte order in memory R,G,B,A -> little-endian masks R=0xff, G=0xff00, B=0xff0000
    const rgba = (row: number[][]): number[] => row.flatMap(([r, g, b]) => [r!, g!, b!, 0xff]);
    const bytes = buildBmp({
      width: 3,
      height: 2,
      bpp: 32,
      headerSize: 108,
      compression: 3,
      masks: [0x000000ff, 0x0000ff00, 0x00ff0000],
      rows: [rgba(BOTTOM), rgba(TOP)],
    });
    const img = await readBmpFile('bitfields-v4.bmp', bytes);
    expect(u8(img)).toEqual(EXPECTED);
  });

  it('decodes a 32-bit BI_BITFIELDS BMP with a 40-byte header (masks after the header) and a V5 header', async () => {
    const bgra = (row: number[][]): number[] => row.flatMap(([r, g, b]) => [b!, g!, r!, 0]);
    const masks: [number, number, number] = [0x00ff0000, 0x0000ff00, 0x000000ff];
    for (const headerSize of [40, 124] as const) {
      const bytes = buildBmp({ width: 3, height: 2, bpp: 32, headerSize, compression: 3, masks, rows: [bgra(BOTTOM), bgra(TOP)] });
      const img = await readBmpFile(`bitfields-${headerSize}.bmp`, bytes);
      expect(u8(img)).toEqual(EXPECTED);
    }
  });

  it('decodes a 16-bit 5-6-5 BI_BITFIELDS BMP, scaling each field to [0,1]', () => {
    // pixel = r5<<11 | g6<<5 | b5 ; values (31,63,31) (0,0,0) (16,32,8)
    const px = [(31 << 11) | (63 << 5) | 31, 0, (16 << 11) | (32 << 5) | 8];
    const row = px.flatMap((v) => [v & 0xff, v >> 8]);
    const bytes = buildBmp({ width: 3, height: 1, bpp: 16, compression: 3, masks: [0xf800, 0x07e0, 0x001f], rows: [row] });
    const img = decodeBmp(bytes);
    expect(Array.from(img.data)).toEqual([1, 1, 1, 0, 0, 0, 16 / 31, 32 / 63, 8 / 31].map(Math.fround));
  });

  it('expands an 8-bit palette BMP with colour entries to RGB', async () => {
    const palette = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255], [0, 0, 0], [10, 20, 30]];
    const bytes = buildBmp({ width: 3, height: 2, bpp: 8, palette, rows: [[3, 4, 5], [0, 1, 2]] });
    const img = await readBmpFile('pal8.bmp', bytes);
    expect([img.width, img.height, img.channels]).toEqual([3, 2, 3]);
    expect(u8(img)).toEqual(EXPECTED);
  });

  it('decodes an 8-bit palette BMP whose palette is all grey to one channel', async () => {
    const palette = Array.from({ length: 256 }, (_, i) => [i, i, i]);
    const bytes = buildBmp({ width: 5, height: 1, bpp: 8, palette, rows: [[0, 1, 128, 254, 255]] });
    const img = await readBmpFile('grey8.bmp', bytes);
    expect([img.width, img.height, img.channels]).toEqual([5, 1, 1]);
    expect(Array.from(img.data)).toEqual([0, 1, 128, 254, 255].map((v) => Math.fround(v / 255)));
    expect(u8(toRgb(img))).toEqual([0, 1, 128, 254, 255].flatMap((v) => [v, v, v]));
  });

  it('decodes 1-bit and 4-bit palette BMPs (most significant bits first)', () => {
    const pal2 = [[0, 0, 0], [255, 128, 0]];
    const one = decodeBmp(buildBmp({ width: 10, height: 1, bpp: 1, palette: pal2, rows: [[0b10110000, 0b01000000]] }));
    expect(u8(one)).toEqual([1, 0, 1, 1, 0, 0, 0, 0, 0, 1].flatMap((i) => pal2[i]!));
    const pal16 = Array.from({ length: 16 }, (_, i) => [i * 17, 255 - i * 17, 3]);
    const four = decodeBmp(buildBmp({ width: 3, height: 1, bpp: 4, palette: pal16, rows: [[0x1f, 0x70]] }));
    expect(u8(four)).toEqual([1, 15, 7].flatMap((i) => pal16[i]!));
  });

  it('decodes an OS/2 core-header (12-byte) 24-bit BMP', () => {
    const img = decodeBmp(buildBmp({ width: 3, height: 2, bpp: 24, headerSize: 12, rows: [bgr(BOTTOM), bgr(TOP)] }));
    expect(u8(img)).toEqual(EXPECTED);
  });

  it('rejects RLE-compressed BMPs with "unsupported BMP compression"', async () => {
    const palette = [[0, 0, 0], [255, 255, 255]];
    const rle8 = buildBmp({ width: 2, height: 1, bpp: 8, compression: 1, palette, rows: [[2, 1, 0, 1]] });
    await expectBmpError('rle8.bmp', rle8, /unsupported BMP compression \(RLE8\)/);
    const rle4 = buildBmp({ width: 2, height: 1, bpp: 4, compression: 2, palette, rows: [[2, 0x11, 0, 1]] });
    await expectBmpError('rle4.bmp', rle4, /unsupported BMP compression \(RLE4\)/);
  });

  it('rejects truncated BMP pixel data and a truncated header', async () => {
    const full = buildBmp({ width: 3, height: 2, bpp: 24, rows: [bgr(BOTTOM), bgr(TOP)] });
    await expectBmpError('trunc-pixels.bmp', full.subarray(0, full.length - 8), /truncated BMP pixel data/);
    await expectBmpError('trunc-header.bmp', full.subarray(0, 20), /truncated BMP header/);
    await expectBmpError('just-bm.bmp', Buffer.from('BM'), /truncated BMP header/);
  });

  it('rejects absurd dimensions without allocating the image', async () => {
    const wide = buildBmp({ width: 3, height: 2, bpp: 24, rows: [] });
    wide.writeInt32LE(25000, 18);
    await expectBmpError('wide.bmp', wide, /exceed the limit/);
    const many = buildBmp({ width: 3, height: 2, bpp: 24, rows: [] });
    many.writeInt32LE(15000, 18);
    many.writeInt32LE(-15000, 22);
    await expectBmpError('many.bmp', many, /exceed the limit/);
  });

  it('rejects unsupported headers, bit depths, palette indices out of range and bad bit fields', () => {
    const base = (): Buffer => buildBmp({ width: 3, height: 2, bpp: 24, rows: [bgr(BOTTOM), bgr(TOP)] });
    const badHeader = base();
    badHeader.writeUInt32LE(64, 14);
    expect(() => decodeBmp(badHeader)).toThrow(/unsupported BMP header size 64/);
    const badDepth = base();
    badDepth.writeUInt16LE(2, 28);
    expect(() => decodeBmp(badDepth)).toThrow(/unsupported BMP bit depth 2/);
    const pal = decodeBmp.bind(
      null,
      buildBmp({ width: 2, height: 1, bpp: 8, palette: [[1, 2, 3], [4, 5, 6]], rows: [[0, 9]] }),
    );
    expect(pal).toThrow(/palette index 9 out of range/);
    const gapMask = buildBmp({ width: 1, height: 1, bpp: 32, compression: 3, masks: [0xf0f, 0xf000, 0xff0000], rows: [[0, 0, 0, 0]] });
    expect(() => decodeBmp(gapMask)).toThrow(/not contiguous/);
    const zeroHeight = base();
    zeroHeight.writeInt32LE(0, 22);
    expect(() => decodeBmp(zeroHeight)).toThrow(/invalid BMP dimensions/);
  });
});
