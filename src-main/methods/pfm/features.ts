/**
 * The two frozen backbones of PFM / PEFM (METHODS.md §2.2, §1.8): per level the source (S) and target
 * (T) features of a batch, L2-normalised over channels at every position (§1.6) and laid out as rows
 * [n·H·W, C], row (i·H + y)·W + x for image i, the layout of the mapping graphs (network.ts).
 */
import { Backbone } from '../../features/extractor.ts';
import { getBackbone } from '../../features/backbones.ts';
import type { ImageBatch } from '../method.ts';
import type { PfmConfig } from './defaults.ts';
import type { LevelSpec } from './network.ts';

export interface LevelFeatures {
  readonly s: Float32Array;
  readonly t: Float32Array;
}

/** NCHW → rows [n·H·W, C], each row divided by max(‖row‖₂, 1e-12). */
export function normalisedRows(nchw: Float32Array, n: number, c: number, h: number, w: number): Float32Array {
  const hw = h * w;
  const out = new Float32Array(n * hw * c);
  const norms = new Float64Array(hw);
  for (let i = 0; i < n; i++) {
    const src = i * c * hw;
    const dst = i * hw * c;
    norms.fill(0);
    for (let ch = 0; ch < c; ch++) {
      const plane = src + ch * hw;
      for (let p = 0; p < hw; p++) {
        const v = nchw[plane + p]!;
        norms[p]! += v * v;
        out[dst + p * c + ch] = v;
      }
    }
    for (let p = 0; p < hw; p++) {
      const inv = 1 / Math.max(Math.sqrt(norms[p]!), 1e-12);
      const row = dst + p * c;
      for (let ch = 0; ch < c; ch++) out[row + ch]! *= inv;
    }
  }
  return out;
}

export class PfmFeatures {
  private constructor(
    private readonly c: PfmConfig,
    private readonly source: Backbone,
    private readonly target: Backbone,
    /** Levels in config.levels order. */
    readonly levels: readonly LevelSpec[],
  ) {}

  static async open(c: PfmConfig): Promise<PfmFeatures> {
    const [source, target] = await Promise.all([Backbone.open(c.backbone), Backbone.open(c.targetBackbone)]);
    return new PfmFeatures(c, source, target, levelSpecs(c));
  }

  get sourceSha256(): string {
    return this.source.spec.sha256;
  }

  get targetSha256(): string {
    return this.target.spec.sha256;
  }

  /** Per level (config.levels order) the normalised S and T rows of the batch. */
  async extract(batch: ImageBatch): Promise<LevelFeatures[]> {
    const taps = (list: readonly string[]) => this.c.levels.map((l) => list[l - 1]!);
    const [so, to] = [await this.source.run(batch, taps(this.c.sourceTaps)), await this.target.run(batch, taps(this.c.targetTaps))];
    return this.levels.map((l) => {
      const s = so[this.c.sourceTaps[l.level - 1]!]!;
      const t = to[this.c.targetTaps[l.level - 1]!]!;
      for (const [x, ch] of [[s, l.cs], [t, l.ct]] as const) {
        if (x.dims[1] !== ch || x.dims[2] !== l.gridH || x.dims[3] !== l.gridW) {
          throw new RangeError(`level ${l.level}: backbone output [${x.dims.join(', ')}] does not match [${batch.n}, ${ch}, ${l.gridH}, ${l.gridW}]`);
        }
      }
      return {
        s: normalisedRows(s.data as Float32Array, batch.n, l.cs, l.gridH, l.gridW),
        t: normalisedRows(t.data as Float32Array, batch.n, l.ct, l.gridH, l.gridW),
      };
    });
  }
}

/** The geometry of the configured levels (channels from models/manifest.json, grids from the input size). */
export function levelSpecs(c: PfmConfig): LevelSpec[] {
  const [S, T] = [getBackbone(c.backbone), getBackbone(c.targetBackbone)];
  const multiple = Math.max(S.input.sizeMultiple, T.input.sizeMultiple);
  if (c.height % multiple !== 0 || c.width % multiple !== 0) throw new RangeError(`input size ${c.width}x${c.height} must be a multiple of ${multiple}`);
  return c.levels.map((level) => {
    const tap = (spec: typeof S, name: string) => {
      const t = spec.outputs.find((o) => o.name === name);
      if (!t) throw new RangeError(`backbone '${spec.id}' has no feature output '${name}'`);
      return t;
    };
    const s = tap(S, c.sourceTaps[level - 1]!);
    const t = tap(T, c.targetTaps[level - 1]!);
    if (s.stride !== t.stride) throw new RangeError(`level ${level}: source stride ${s.stride} differs from target stride ${t.stride}`);
    return { level, cs: s.channels, ct: t.channels, d: c.latent[level - 1]!, gridH: c.height / s.stride, gridW: c.width / s.stride };
  });
}
