/**
 * Backbone feature extraction: runs a backbone ONNX file and returns the requested taps.
 */
import { backbonePath, getBackbone, type BackboneSpec, type FeatureTap } from './backbones.ts';
import { f32, ort, pooledSession, type Session } from '../engine/session.ts';
import type { ImageBatch } from '../methods/method.ts';

export class Backbone {
  private constructor(readonly spec: BackboneSpec, private readonly session: Session) {}

  static async open(id: string): Promise<Backbone> {
    const spec = getBackbone(id);
    const path = backbonePath(id);
    return new Backbone(spec, await pooledSession(`backbone:${path}`, () => path));
  }

  tap(name: string): FeatureTap {
    const tap = this.spec.outputs.find((o) => o.name === name);
    if (!tap) {
      throw new RangeError(`backbone '${this.spec.id}' has no feature output '${name}'; valid: ${this.spec.outputs.map((o) => o.name).join(', ')}`);
    }
    return tap;
  }

  /** Runs the backbone and returns the named taps as [n, C, H/stride, W/stride] tensors. */
  async run(batch: ImageBatch, taps: readonly string[]): Promise<Record<string, ort.Tensor>> {
    const multiple = this.spec.input.sizeMultiple;
    if (batch.height % multiple !== 0 || batch.width % multiple !== 0) {
      throw new RangeError(`input size ${batch.width}x${batch.height} must be a multiple of ${multiple} for backbone '${this.spec.id}'`);
    }
    taps.forEach((t) => this.tap(t));
    const image = f32(batch.data, [batch.n, 3, batch.height, batch.width]);
    return this.session.run({ [this.spec.input.name]: image }, taps);
  }
}
