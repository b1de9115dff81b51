import { describe, expect, it } from 'vitest';
import { inputConfig } from '../../src-main/cli/input-options.ts';
import { resolveAutoInput } from '../../src-main/methods/input-proposal.ts';
import { scoreCanvas, shrinkBatch } from '../../src-main/methods/score-scale.ts';
import { teeAsync } from '../../src-main/util/async-tee.ts';

async function* counting(n: number, read: number[]): AsyncGenerator<number> {
  for (let i = 0; i < n; i++) {
    read.push(i);
    yield i;
  }
}

describe('one stream read by two consumers (teeAsync)', () => {
  it('gives both branches every item in order, reading the source once', async () => {
    const read: number[] = [];
    const tee = teeAsync(counting(10, read), 2);
    const take = async (it: AsyncIterable<number>) => {
      const out: number[] = [];
      for await (const v of it) out.push(v);
      return out;
    };
    const [a, b] = await Promise.all([take(tee.branches[0]), take(tee.branches[1])]);
    expect(a).toEqual([...Array(10).keys()]);
    expect(b).toEqual(a);
    expect(read).toEqual(a);
  });

  it('lets a branch run at most the lookahead ahead of the other', async () => {
    const read: number[] = [];
    const tee = teeAsync(counting(100, read), 3);
    const fast = (async () => {
      for await (const _ of tee.branches[0]);
    })();
    // the other branch has not read anything yet: the source is read no further than the lookahead
    await new Promise((r) => setTimeout(r, 20));
    expect(read.length).toBe(3);
    for await (const v of tee.branches[1]) if (v === 50) break;
    await fast;
    expect(read.length).toBe(100);
  });

  it('stops waiting for a branch that is released, stops both when one consumer fails, and passes a failing source on to both', async () => {
    const tee = teeAsync(counting(20, []), 2);
    tee.release(1);
    let n = 0;
    for await (const _ of tee.branches[0]) n++;
    expect(n).toBe(20);

    // one consumer failing stops the other at its next read, with that failure, and closes the source
    let closed = false;
    async function* source() {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        closed = true;
      }
    }
    const stopped = teeAsync(source(), 2);
    const failingFit = (async () => {
      for await (const v of stopped.branches[0]) if (v === 3) throw new Error('fit failed');
    })().catch((err: unknown) => {
      stopped.abort(err);
      throw err;
    });
    const otherFit = (async () => {
      for await (const _ of stopped.branches[1]) await new Promise((r) => setTimeout(r, 1));
    })();
    await expect(failingFit).rejects.toThrow('fit failed');
    await expect(otherFit).rejects.toThrow('fit failed');
    expect(closed).toBe(true);

    async function* failing() {
      yield 1;
      throw new Error('disk gone');
    }
    const bad = teeAsync(failing(), 4);
    const drain = async (it: AsyncIterable<number>) => {
      for await (const _ of it);
    };
    await expect(Promise.all([drain(bad.branches[0]), drain(bad.branches[1])])).rejects.toThrow('disk gone');
  });
});

describe('the score scale of a two-scale model', () => {
  it('is the canvas shrunk to the short side asked for, aspect kept, in either orientation', () => {
    expect(scoreCanvas({ resize: 'tile', height: 320, width: 896, tileSize: 256, scoreSide: 256 })).toEqual({ height: 256, width: 717 });
    expect(scoreCanvas({ resize: 'tile', height: 1280, width: 512, tileSize: 256, scoreSide: 256 })).toEqual({ height: 640, width: 256 });
  });

  it('shrinks canvases channel by channel, with their pictures, and ignores every shrunk pixel an ignored one reaches', () => {
    // one 4x8 canvas: red 1 in its left half, green a ramp, blue 0; one ignored pixel; picture 6 px wide
    const [h, w] = [4, 8];
    const data = new Float32Array(3 * h * w);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) (data[y * w + x] = x < 4 ? 1 : 0), (data[h * w + y * w + x] = x / 7);
    const ignore = new Uint8Array(h * w);
    ignore[1 * w + 5] = 1;
    const out = shrinkBatch({ data, n: 1, height: h, width: w, ignore, content: [{ width: 6, height: 4 }] }, 2, 4, 'bilinear');
    expect([out.height, out.width, out.n]).toEqual([2, 4, 1]);
    // PIL's bilinear (a triangle twice as wide when shrinking by 2): the edge blurs over one shrunk pixel each side
    expect(Array.from(out.data.subarray(0, 4))).toEqual([1, 0.875, 0.125, 0]);
    expect(out.data[4 * 2 + 0]! < out.data[4 * 2 + 3]!).toBe(true);
    expect(Array.from(out.data.subarray(16, 24))).toEqual(new Array(8).fill(0));
    expect(Array.from(out.ignore!)).toEqual([0, 0, 1, 0, 0, 0, 0, 0]);
    expect(out.content).toEqual([{ width: 3, height: 2 }]);
  });

  it('is asked for by --score-side with tiles, and refused beside stretch or letterbox', () => {
    expect(inputConfig({ resize: 'tile', size: '320x896', 'score-side': '256' })).toEqual({ resize: 'tile', height: 320, width: 896, scoreSide: 256 });
    expect(inputConfig({ resize: 'auto', 'score-side': '256' })).toEqual({ resize: 'auto', scoreSide: 256 });
    expect(() => inputConfig({ resize: 'letterbox', 'score-side': '256' })).toThrow(/--score-side goes with --resize tile or auto/);
    expect(() => inputConfig({ resize: 'tile', 'score-side': '-3' })).toThrow(/whole number of pixels/);
  });

  it("under resize auto, holds for long parts tiled above that side, is dropped (and said) where the tiles' short side is not above it, and refused where auto stretches", () => {
    const defaults = { height: 256, width: 256, resize: 'stretch', tileSize: 256, tileOverlap: 32, scoreSide: 0 };
    const long = resolveAutoInput({ ...defaults, resize: 'auto', scoreSide: 256 }, defaults, [{ width: 1250, height: 500 }]);
    expect(long.config).toMatchObject({ resize: 'tile', height: 512, width: 1280, scoreSide: 256 });
    expect(long.reason).toMatch(/image score from the part shrunk to a 256 px short side$/);
    expect(long.reason).not.toMatch(/may rank them better; .*an image score at/);
    const thin = resolveAutoInput({ ...defaults, resize: 'auto', scoreSide: 256 }, defaults, [{ width: 750, height: 250 }]);
    expect(thin.config).toMatchObject({ resize: 'tile', height: 256, scoreSide: 0 });
    expect(thin.reason).toMatch(/image score from the map itself/);
    expect(() => resolveAutoInput({ ...defaults, resize: 'auto', scoreSide: 256 }, defaults, [{ width: 300, height: 300 }])).toThrow(/goes with tiles: choose resize tile/);
  });
});
