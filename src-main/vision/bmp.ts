/**
 * A small, strict decoder for Windows BMP files (sharp's prebuilt libvips cannot read BMP).
 *
 * Supported:
 *  - headers: BITMAPCOREHEADER (12 bytes, OS/2 1.x), BITMAPINFOHEADER (40), the V2/V3 info headers (52/56),
 *    BITMAPV4HEADER (108) and BITMAPV5HEADER (124);
 *  - 1/4/8-bit palette images, 16-bit (default 5-5-5 or bit fields), 24-bit BGR, 32-bit BGRX (BI_RGB) and
 *    16/32-bit BI_BITFIELDS / BI_ALPHABITFIELDS;
 *  - bottom-up (positive height) and top-down (negative height) row order.
 * Not supported (an error naming the reason is thrown): RLE4/RLE8, embedded JPEG/PNG, CMYK variants,
 * OS/2 2.x headers.
 *
 * Output follows {@link RasterImage}: values in [0,1], HWC, alpha ignored. A palette image whose colours
 * are all grey (r = g = b) decodes to 1 channel, any other palette image to 3 channels (the pixel values
 * after toRgb() are identical either way). Direct-colour images decode to 3 channels.
 *
 * Errors are plain `Error`s whose message is the reason; readImage() wraps them in an ImageReadError
 * carrying the path.
 */
import type { RasterImage } from './image.ts';

/** Limits shared with readImage(): the largest side and the largest pixel count accepted. */
export const MAX_IMAGE_SIDE = 20000;
export const MAX_IMAGE_PIXELS = 100_000_000;

const FILE_HEADER_SIZE = 14;

const COMPRESSION_NAMES: Record<number, string> = {
  0: 'BI_RGB',
  1: 'RLE8',
  2: 'RLE4',
  3: 'BI_BITFIELDS',
  4: 'JPEG',
  5: 'PNG',
  6: 'BI_ALPHABITFIELDS',
  11: 'CMYK',
  12: 'CMYKRLE8',
  13: 'CMYKRLE4',
};

/** True when the buffer starts with the BMP signature "BM". */
export function isBmp(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x42 && buf[1] === 0x4d;
}

interface ChannelMask {
  readonly mask: number;
  readonly shift: number;
  readonly max: number;
}

function parseMask(mask: number, bpp: number, name: string): ChannelMask {
  const m = mask >>> 0;
  if (m === 0) throw new Error(`invalid BMP bit field: ${name} mask is zero`);
  if (bpp < 32 && m >= 2 ** bpp) {
    throw new Error(`invalid BMP bit field: ${name} mask 0x${m.toString(16)} exceeds ${bpp} bits per pixel`);
  }
  let shift = 0;
  while (((m >>> shift) & 1) === 0) shift++;
  const max = m >>> shift;
  // contiguous: max + 1 is a power of two
  if ((max & (max + 1)) !== 0) throw new Error(`invalid BMP bit field: ${name} mask 0x${m.toString(16)} is not contiguous`);
  return { mask: m, shift, max };
}

/** Decodes a complete BMP file held in memory. Throws Error(reason) on anything it cannot decode. */
export function decodeBmp(buf: Uint8Array): RasterImage {
  if (buf.length === 0) throw new Error('file is empty');
  if (!isBmp(buf)) throw new Error('not a BMP file (missing "BM" signature)');
  if (buf.length < FILE_HEADER_SIZE + 4) throw new Error('truncated BMP header');
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dataOffset = dv.getUint32(10, true);
  const headerSize = dv.getUint32(14, true);
  if (![12, 40, 52, 56, 108, 124].includes(headerSize)) {
    throw new Error(`unsupported BMP header size ${headerSize}`);
  }
  if (buf.length < FILE_HEADER_SIZE + headerSize) throw new Error('truncated BMP header');

  let width: number;
  let rawHeight: number;
  let planes: number;
  let bpp: number;
  let compression = 0;
  let colorsUsed = 0;
  let paletteEntrySize = 4;
  if (headerSize === 12) {
    width = dv.getUint16(18, true);
    rawHeight = dv.getUint16(20, true);
    planes = dv.getUint16(22, true);
    bpp = dv.getUint16(24, true);
    paletteEntrySize = 3;
  } else {
    width = dv.getInt32(18, true);
    rawHeight = dv.getInt32(22, true);
    planes = dv.getUint16(26, true);
    bpp = dv.getUint16(28, true);
    compression = dv.getUint32(30, true);
    colorsUsed = dv.getUint32(46, true);
  }
  if (planes !== 1) throw new Error(`invalid BMP: planes = ${planes} (must be 1)`);
  const compressionName = COMPRESSION_NAMES[compression] ?? `type ${compression}`;
  if (compression !== 0 && compression !== 3 && compression !== 6) {
    throw new Error(`unsupported BMP compression (${compressionName})`);
  }
  const topDown = rawHeight < 0;
  const height = Math.abs(rawHeight);
  if (width <= 0 || height <= 0) throw new Error(`invalid BMP dimensions ${width}x${rawHeight}`);
  if (width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE || width * height > MAX_IMAGE_PIXELS) {
    throw new Error(
      `image dimensions ${width}x${height} exceed the limit (${MAX_IMAGE_SIDE} px a side, ${MAX_IMAGE_PIXELS / 1e6} Mpx)`,
    );
  }
  if (![1, 4, 8, 16, 24, 32].includes(bpp)) throw new Error(`unsupported BMP bit depth ${bpp}`);
  if (compression !== 0 && bpp !== 16 && bpp !== 32) {
    throw new Error(`invalid BMP: ${compressionName} requires 16 or 32 bits per pixel, got ${bpp}`);
  }

  // Bit-field masks: inside the V2+ headers, or as 12/16 extra bytes after a 40-byte header.
  let masks: ChannelMask[] | null = null;
  let afterHeader = FILE_HEADER_SIZE + headerSize;
  if (compression === 3 || compression === 6) {
    let maskPos = FILE_HEADER_SIZE + 40;
    if (headerSize === 40) {
      const extra = compression === 6 ? 16 : 12;
      if (buf.length < afterHeader + extra) throw new Error('truncated BMP bit-field masks');
      afterHeader += extra;
    }
    masks = [
      parseMask(dv.getUint32(maskPos, true), bpp, 'red'),
      parseMask(dv.getUint32((maskPos += 4), true), bpp, 'green'),
      parseMask(dv.getUint32((maskPos += 4), true), bpp, 'blue'),
    ];
  } else if (bpp === 16) {
    masks = [parseMask(0x7c00, 16, 'red'), parseMask(0x03e0, 16, 'green'), parseMask(0x001f, 16, 'blue')];
  }

  // Palette.
  let palette: Float32Array | null = null;
  let paletteGrey = false;
  if (bpp <= 8) {
    const maxColors = 1 << bpp;
    if (colorsUsed > maxColors) throw new Error(`invalid BMP: ${colorsUsed} palette colours for ${bpp}-bit pixels`);
    const n = colorsUsed === 0 ? maxColors : colorsUsed;
    const palEnd = afterHeader + n * paletteEntrySize;
    if (palEnd > buf.length) throw new Error('truncated BMP palette');
    if (palEnd > dataOffset) throw new Error('invalid BMP: palette overlaps the pixel data');
    palette = new Float32Array(n * 3);
    paletteGrey = true;
    for (let i = 0; i < n; i++) {
      const p = afterHeader + i * paletteEntrySize;
      const b = buf[p]!;
      const g = buf[p + 1]!;
      const r = buf[p + 2]!;
      palette[i * 3] = r / 255;
      palette[i * 3 + 1] = g / 255;
      palette[i * 3 + 2] = b / 255;
      if (r !== g || g !== b) paletteGrey = false;
    }
  }

  if (dataOffset < afterHeader || dataOffset >= buf.length) {
    throw new Error(`invalid BMP: pixel data offset ${dataOffset} outside the file (${buf.length} bytes)`);
  }
  const stride = Math.floor((bpp * width + 31) / 32) * 4;
  const rowBytes = Math.ceil((bpp * width) / 8);
  // The padding of the very last row may be missing; anything else missing is truncation.
  if (dataOffset + stride * (height - 1) + rowBytes > buf.length) {
    throw new Error(
      `truncated BMP pixel data (need ${stride * (height - 1) + rowBytes} bytes from offset ${dataOffset}, file has ${buf.length - dataOffset})`,
    );
  }

  const channels: 1 | 3 = palette !== null && paletteGrey ? 1 : 3;
  const out = new Float32Array(width * height * channels);
  const nColors = palette === null ? 0 : palette.length / 3;

  for (let y = 0; y < height; y++) {
    const srcRow = topDown ? y : height - 1 - y;
    const rowStart = dataOffset + srcRow * stride;
    let o = y * width * channels;
    if (palette !== null) {
      const pixelsPerByte = 8 / bpp;
      const bitMask = (1 << bpp) - 1;
      for (let x = 0; x < width; x++) {
        const byte = buf[rowStart + Math.floor(x / pixelsPerByte)]!;
        const shift = 8 - bpp * ((x % pixelsPerByte) + 1);
        const idx = (byte >> shift) & bitMask;
        if (idx >= nColors) throw new Error(`invalid BMP: palette index ${idx} out of range (${nColors} colours)`);
        if (channels === 1) {
          out[o++] = palette[idx * 3]!;
        } else {
          out[o++] = palette[idx * 3]!;
          out[o++] = palette[idx * 3 + 1]!;
          out[o++] = palette[idx * 3 + 2]!;
        }
      }
    } else if (bpp === 24 || (bpp === 32 && masks === null)) {
      const step = bpp / 8;
      for (let x = 0, p = rowStart; x < width; x++, p += step) {
        out[o++] = buf[p + 2]! / 255;
        out[o++] = buf[p + 1]! / 255;
        out[o++] = buf[p]! / 255;
      }
    } else {
      const ms = masks!;
      const [mr, mg, mb] = [ms[0]!, ms[1]!, ms[2]!];
      for (let x = 0; x < width; x++) {
        const v = bpp === 16 ? dv.getUint16(rowStart + x * 2, true) : dv.getUint32(rowStart + x * 4, true);
        out[o++] = ((v & mr.mask) >>> mr.shift) / mr.max;
        out[o++] = ((v & mg.mask) >>> mg.shift) / mg.max;
        out[o++] = ((v & mb.mask) >>> mb.shift) / mb.max;
      }
    }
  }
  return { width, height, channels, data: out };
}
