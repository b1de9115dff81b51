import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageReadError, readImage, sniffImageFormat, type RasterImage } from '../../src-main/vision/index.ts';

const MAGNETIC_TILE_JPEG = '/work/shared/data/magnetic_tile/train/good/exp1_num_10181.jpg';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'argus-vision-image-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Fixture builders

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** A PNG written byte by byte: `rows` are the raw (unfiltered) scanlines; filter type 0 is prepended. */
function buildPng(opts: {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  rows: number[][];
  plte?: number[];
}): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(opts.width, 0);
  ihdr.writeUInt32BE(opts.height, 4);
  ihdr[8] = opts.bitDepth;
  ihdr[9] = opts.colorType;
  const raw = Buffer.from(opts.rows.flatMap((r) => [0, ...r]));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    ...(opts.plte ? [pngChunk('PLTE', Uint8Array.from(opts.plte))] : []),
    pngChunk('IDAT', deflateSync(raw)),
    pngChunk('IEND', new Uint8Array(0)),
  ]);
}

/** Uncompressed little-endian 16-bit TIFF (one strip), written byte by byte. */
function buildTiff16(width: number, height: number, samples: 1 | 3, values: number[]): Buffer {
  const pixelBytes = width * height * samples * 2;
  const entries: [number, number, number, number][] = []; // tag, type, count, value/offset
  const nEntries = 10;
  const ifdOffset = 8;
  const ifdSize = 2 + nEntries * 12 + 4;
  const bpsOffset = ifdOffset + ifdSize; // 3 SHORTs when RGB
  const dataOffset = bpsOffset + 8;
  const SHORT = 3;
  const LONG = 4;
  entries.push([256, LONG, 1, width]);
  entries.push([257, LONG, 1, height]);
  entries.push(samples === 1 ? [258, SHORT, 1, 16] : [258, SHORT, 3, bpsOffset]);
  entries.push([259, SHORT, 1, 1]); // no compression
  entries.push([262, SHORT, 1, samples === 1 ? 1 : 2]); // BlackIsZero / RGB
  entries.push([273, LONG, 1, dataOffset]);
  entries.push([277, SHORT, 1, samples]);
  entries.push([278, LONG, 1, height]);
  entries.push([279, LONG, 1, pixelBytes]);
  entries.push([284, SHORT, 1, 1]); // chunky
  const buf = Buffer.alloc(dataOffset + pixelBytes);
  buf.write('II', 0, 'latin1');
  buf.writeUInt16LE(42, 2);
  buf.writeUInt32LE(ifdOffset, 4);
  buf.writeUInt16LE(nEntries, ifdOffset);
  entries.forEach(([tag, type, count, value], i) => {
    const p = ifdOffset + 2 + i * 12;
    buf.writeUInt16LE(tag, p);
    buf.writeUInt16LE(type, p + 2);
    buf.writeUInt32LE(count, p + 4);
    if (type === SHORT && count === 1) buf.writeUInt16LE(value, p + 8);
    else buf.writeUInt32LE(value, p + 8);
  });
  buf.writeUInt32LE(0, ifdOffset + 2 + nEntries * 12); // no next IFD
  for (let i = 0; i < 3; i++) buf.writeUInt16LE(16, bpsOffset + i * 2);
  values.forEach((v, i) => buf.writeUInt16LE(v, dataOffset + i * 2));
  return buf;
}

async function fixture(name: string, data: Uint8Array | string): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, data);
  return p;
}

const f32 = (values: number[], scale: number): number[] => values.map((v) => Math.fround(v / scale));
const pixels = (img: RasterImage): number[] => Array.from(img.data);

async function expectReadError(path: string, reason: RegExp): Promise<ImageReadError> {
  const err = await readImage(path).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ImageReadError);
  const e = err as ImageReadError;
  expect(e.path).toBe(path);
  expect(e.reason).toMatch(reason);
  expect(e.message).toBe(`cannot read image ${path}: ${e.reason}`);
  return e;
}

// ---------------------------------------------------------------------------------------------

describe('readImage: PNG', () => {
  it('decodes an 8-bit grey PNG to one channel scaled by 1/255, exactly', async () => {
    const v = [0, 1, 2, 127, 128, 254, 255, 77];
    const p = join(dir, 'g8.png');
    await sharp(Buffer.from(v), { raw: { width: 4, height: 2, channels: 1 } }).toColourspace('b-w').png().toFile(p);
    const img = await readImage(p);
    expect([img.width, img.height, img.channels]).toEqual([4, 2, 1]);
    expect(pixels(img)).toEqual(f32(v, 255));
  });

  it('decodes a 16-bit grey PNG at full 16-bit precision, scaled by 1/65535', async () => {
    const v = [0, 1, 1000, 32767, 32768, 40000, 65534, 65535];
    const p = join(dir, 'g16.png');
    await sharp(Uint16Array.from(v), { raw: { width: 4, height: 2, channels: 1 } })
      .toColourspace('grey16')
      .png()
      .toFile(p);
    const img = await readImage(p);
    expect([img.width, img.height, img.channels]).toEqual([4, 2, 1]);
    expect(pixels(img)).toEqual(f32(v, 65535));
  });

  it('decodes a 16-bit RGB PNG to three interleaved channels at 16-bit precision', async () => {
    const v = Array.from({ length: 18 }, (_, i) => (i * 3001 + 7) % 65536);
    const p = join(dir, 'rgb16.png');
    await sharp(Uint16Array.from(v), { raw: { width: 3, height: 2, channels: 3 } })
      .toColourspace('rgb16')
      .png()
      .toFile(p);
    const img = await readImage(p);
    expect([img.width, img.height, img.channels]).toEqual([3, 2, 3]);
    expect(pixels(img)).toEqual(f32(v, 65535));
  });

  it('decodes an 8-bit RGB PNG exactly in R,G,B order', async () => {
    const v = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 40, 50, 60, 70, 80, 90];
    const p = join(dir, 'rgb8.png');
    await sharp(Buffer.from(v), { raw: { width: 3, height: 2, channels: 3 } }).png().toFile(p);
    const img = await readImage(p);
    expect([img.width, img.height, img.channels]).toEqual([3, 2, 3]);
    expect(pixels(img)).toEqual(f32(v, 255));
  });

  it('drops the alpha channel of an RGBA PNG without compositing (fully transparent pixels keep their colour)', async () => {
    const rgba = [255, 0, 0, 0, 0, 255, 0, 128, 0, 0, 255, 255, 10, 20, 30, 40];
    const p = join(dir, 'rgba8.png');
    await sharp(Buffer.from(rgba), { raw: { width: 2, height: 2, channels: 4 } }).png().toFile(p);
    const img = await readImage(p);
    expect([img.width, img.height, img.channels]).toEqual([2, 2, 3]);
    expect(pixels(img)).toEqual(f32([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30], 255));
  });

  it('decodes grey+alpha to one grey channel (alpha dropped)', async () => {
    const p = await fixture(
      'ga8.png',
      buildPng({ width: 3, height: 1, bitDepth: 8, colorType: 4, rows: [[5, 0, 100, 128, 250, 255]] }),
    );
    const img = await readImage(p);
    expect([img.width, img.height, img.channels]).toEqual([3, 1, 1]);
    expect(pixels(img)).toEqual(f32([5, 100, 250], 255));
  });

  it('decodes 16-bit grey+alpha to one grey channel at 16-bit precision', async () => {
    // big-endian samples: grey 0x1234 alpha 0x0000, grey 0xfedc alpha 0xffff
    const p = await fixture(
      'ga16.png',
      buildPng({ width: 2, height: 1, bitDepth: 16, colorType: 4, rows: [[0x12, 0x34, 0, 0, 0xfe, 0xdc, 0xff, 0xff]] }),
    );
    const img = await readImage(p);
    expect([img.width, img.height, img.channels]).toEqual([2, 1, 1]);
    expect(pixels(img)).toEqual(f32([0x1234, 0xfedc], 65535));
  });

  it('expands a palette PNG to the palette colours', async () => {
    const plte = [255, 0, 0, 0, 128, 255, 7, 8, 9, 200, 200, 200];
    // 2-bit indices: row 0 = 0,1,2,3 -> 0b00011011; row 1 = 3,3,0,1 -> 0b11110001
    const p = await fixture(
      'pal.png',
      buildPng({ width: 4, height: 2, bitDepth: 2, colorType: 3, rows: [[0b00011011], [0b11110001]], plte }),
    );
    const img = await readImage(p);
    expect([img.width, img.height, img.channels]).toEqual([4, 2, 3]);
    const idx = [0, 1, 2, 3, 3, 3, 0, 1];
    expect(pixels(img)).toEqual(f32(idx.flatMap((i) => plte.slice(i * 3, i * 3 + 3)), 255));
  });

  it('scales 1-bit grey PNGs to 0 and 1', async () => {
    const p = await fixture('g1.png', buildPng({ width: 5, height: 1, bitDepth: 1, colorType: 0, rows: [[0b10110000]] }));
    const img = await readImage(p);
    expect([img.width, img.height, img.channels]).toEqual([5, 1, 1]);
    expect(pixels(img)).toEqual([1, 0, 1, 1, 0]);
  });
});

describe('readImage: JPEG, TIFF, WebP', () => {
  it('decodes a colour JPEG to 3 channels close to the encoded colours', async () => {
    const w = 16;
    const h = 16;
    const raw = Buffer.alloc(w * h * 3);
    for (let i = 0; i < w * h; i++) raw.set([200, 100, 50], i * 3);
    const p = join(dir, 'rgb.jpg');
    await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 100 }).toFile(p);
    const img = await readImage(p);
    expect([img.width, img.height, img.channels]).toEqual([16, 16, 3]);
    for (let i = 0; i < w * h; i++) {
      expect(Math.abs(img.data[i * 3]! * 255 - 200)).toBeLessThanOrEqual(2);
      expect(Math.abs(img.data[i * 3 + 1]! * 255 - 100)).toBeLessThanOrEqual(2);
      expect(Math.abs(img.data[i * 3 + 2]! * 255 - 50)).toBeLessThanOrEqual(2);
    }
  });

  it('keeps a grayscale JPEG at one channel', async () => {
    const raw = Buffer.alloc(8 * 8, 90);
    const p = join(dir, 'grey.jpg');
    await sharp(raw, { raw: { width: 8, height: 8, channels: 1 } }).toColourspace('b-w').jpeg({ quality: 100 }).toFile(p);
    const img = await readImage(p);
    expect([img.width, img.height, img.channels]).toEqual([8, 8, 1]);
    for (const v of img.data) expect(Math.abs(v * 255 - 90)).toBeLessThanOrEqual(1);
  });

  it('decodes a 16-bit grey TIFF exactly', async () => {
    const v = [0, 1, 256, 32767, 32768, 65535];
    const p = await fixture('g16.tif', buildTiff16(3, 2, 1, v));
    const img = await readImage(p);
    expect([img.width, img.height, img.channels]).toEqual([3, 2, 1]);
    expect(pixels(img)).toEqual(f32(v, 65535));
  });

  it('decodes a 16-bit RGB TIFF exactly', async () => {
    const v = Array.from({ length: 12 }, (_, i) => (i * 5449 + 3) % 65536);
    const p = await fixture('rgb16.tif', buildTiff16(2, 2, 3, v));
    const img = await readImage(p);
    expect([img.width, img.height, img.channels]).toEqual([2, 2, 3]);
    expect(pixels(img)).toEqual(f32(v, 65535));
  });

  it('decodes an 8-bit RGB TIFF written by sharp exactly', async () => {
    const v = [1, 2, 3, 250, 251, 252, 128, 64, 32, 0, 255, 9];
    const p = join(dir, 'rgb8.tif');
    await sharp(Buffer.from(v), { raw: { width: 2, height: 2, channels: 3 } }).tiff({ compression: 'lzw' }).toFile(p);
    const img = await readImage(p);
    expect([img.width, img.height, img.channels]).toEqual([2, 2, 3]);
    expect(pixels(img)).toEqual(f32(v, 255));
  });

  it('decodes a lossless WebP exactly and drops its alpha', async () => {
    const rgba = [255, 0, 0, 0, 0, 255, 0, 128, 0, 0, 255, 255, 10, 20, 30, 40, 40, 50, 60, 70, 70, 80, 90, 100];
    const p = join(dir, 'rgba.webp');
    await sharp(Buffer.from(rgba), { raw: { width: 3, height: 2, channels: 4 } })
      .webp({ lossless: true, exact: true })
      .toFile(p);
    const img = await readImage(p);
    expect([img.width, img.height, img.channels]).toEqual([3, 2, 3]);
    expect(pixels(img)).toEqual(f32(rgba.filter((_, i) => i % 4 !== 3), 255));
  });
});

describe('readImage: format detection', () => {
  it('detects the format from the magic bytes, not the file extension', async () => {
    const v = [10, 20, 30, 40];
    const png = await sharp(Buffer.from(v), { raw: { width: 2, height: 2, channels: 1 } }).toColourspace('b-w').png().toBuffer();
    const p = await fixture('actually-a-png.jpg', png);
    const img = await readImage(p);
    expect(pixels(img)).toEqual(f32(v, 255));
    const q = await fixture('no-extension', png);
    expect(pixels(await readImage(q))).toEqual(f32(v, 255));
  });

  it('sniffs PNG, JPEG, TIFF (both byte orders), WebP and BMP signatures and nothing else', () => {
    const b = (...x: number[]): Uint8Array => Uint8Array.from(x);
    expect(sniffImageFormat(b(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a))).toBe('png');
    expect(sniffImageFormat(b(0xff, 0xd8, 0xff, 0xe0))).toBe('jpeg');
    expect(sniffImageFormat(b(0x49, 0x49, 0x2a, 0x00))).toBe('tiff');
    expect(sniffImageFormat(b(0x4d, 0x4d, 0x00, 0x2a))).toBe('tiff');
    expect(sniffImageFormat(Buffer.from('RIFF\0\0\0\0WEBPVP8L', 'latin1'))).toBe('webp');
    expect(sniffImageFormat(Buffer.from('RIFF\0\0\0\0WAVEfmt ', 'latin1'))).toBeNull();
    expect(sniffImageFormat(Buffer.from('BM', 'latin1'))).toBe('bmp');
    expect(sniffImageFormat(Buffer.from('GIF89a', 'latin1'))).toBeNull();
    expect(sniffImageFormat(b())).toBeNull();
  });
});

describe('readImage: real data', () => {
  it('decodes a real Magnetic Tile grayscale JPEG to one channel in stored pixel order', async () => {
    const img = await readImage(MAGNETIC_TILE_JPEG);
    expect([img.width, img.height, img.channels]).toEqual([494, 361, 1]);
    expect(img.data.length).toBe(494 * 361);
    let min = Infinity;
    let max = -Infinity;
    let sum = 0;
    for (const v of img.data) {
      min = Math.min(min, v);
      max = Math.max(max, v);
      sum += v;
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThanOrEqual(1);
    expect(max - min).toBeGreaterThan(0.2); // real content, not a flat image
    expect(sum / img.data.length).toBeGreaterThan(0.02);
    // every value is an exact multiple of 1/255 (8-bit source)
    for (let i = 0; i < img.data.length; i += 997) {
      const v = img.data[i]! * 255;
      expect(Math.abs(v - Math.round(v))).toBeLessThan(1e-4);
    }
  });
});

describe('readImage: failures are ImageReadErrors with a clear reason', () => {
  it('rejects a zero-byte file', async () => {
    await expectReadError(await fixture('empty.png', new Uint8Array(0)), /empty/);
  });

  it('rejects a truncated PNG', async () => {
    const raw = Buffer.alloc(64 * 64 * 3);
    for (let i = 0; i < raw.length; i++) raw[i] = (i * 7919) % 251;
    const png = await sharp(raw, { raw: { width: 64, height: 64, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
    await expectReadError(await fixture('truncated.png', png.subarray(0, Math.floor(png.length / 2))), /^png: /);
  });

  it('rejects a truncated JPEG', async () => {
    const jpg = await readFile(MAGNETIC_TILE_JPEG);
    await expectReadError(await fixture('truncated.jpg', jpg.subarray(0, Math.floor(jpg.length * 0.6))), /^jpeg: /);
  });

  it('rejects random bytes as an unrecognised format', async () => {
    const bytes = new Uint8Array(4096);
    let s = 12345;
    for (let i = 0; i < bytes.length; i++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      bytes[i] = s >>> 24;
    }
    bytes[0] = 0x00; // make sure no signature matches by chance
    await expectReadError(await fixture('random.png', bytes), /unrecognised image format/);
  });

  it('rejects a text file as an unrecognised format', async () => {
    await expectReadError(await fixture('notes.jpg', 'this is not an image\n'), /unrecognised image format/);
  });

  it('rejects a PNG signature followed by garbage', async () => {
    const bad = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(100, 0x41)]);
    await expectReadError(await fixture('garbage.png', bad), /^png: /);
  });

  it('rejects a missing file and a directory', async () => {
    await expectReadError(join(dir, 'does-not-exist.png'), /no such file/);
    const sub = join(dir, 'a-directory.png');
    await mkdir(sub, { recursive: true });
    await expectReadError(sub, /directory/);
  });

  it('rejects absurd dimensions from the header, before decoding any pixel', async () => {
    const wide = buildPng({ width: 30000, height: 1, bitDepth: 8, colorType: 0, rows: [] });
    await expectReadError(await fixture('wide.png', wide), /exceed/);
    const huge = buildPng({ width: 11000, height: 10000, bitDepth: 8, colorType: 0, rows: [] });
    await expectReadError(await fixture('huge.png', huge), /exceed/);
  });

  it('keeps working after failures (the process is not affected)', async () => {
    await expectReadError(await fixture('empty2.png', new Uint8Array(0)), /empty/);
    const img = await readImage(MAGNETIC_TILE_JPEG);
    expect(img.width).toBe(494);
  });
});
