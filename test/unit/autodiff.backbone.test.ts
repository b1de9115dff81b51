import { beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { backward } from '../../src-main/engine/autodiff/backward.ts';
import { rng } from '../../src-main/engine/autodiff/check.ts';
import { importModel } from '../../src-main/engine/onnx/importer.ts';
import { f32, openSession, setSessionLogger } from '../../src-main/engine/session.ts';

const BACKBONE = resolve(import.meta.dirname, '..', '..', '..', 'shared', 'models', 'mobilenet_v2_features.onnx');
const SIZE = 64;

beforeAll(() => setSessionLogger(() => {}));

describe('backward() through MobileNetV2', () => {
  it('gives d(sum(w * feat_s8_exp))/d(image) that matches central differences at sampled pixels', async () => {
    const { graph, opset } = importModel(BACKBONE);
    graph.outputs.length = 0;
    const w = graph.input('w', 'float32', [1, 192, SIZE / 8, SIZE / 8]);
    const loss = graph.op('ReduceSum', [graph.op('Mul', ['feat_s8_exp', w])], { keepdims: { int: 0 } }, 'loss');
    const grad = backward(graph, loss, ['image'], { opset }).get('image')!;
    graph.output(loss, 'float32');
    graph.output(grad, 'float32', [1, 3, SIZE, SIZE]);
    const session = await openSession(graph.toModel(opset), 'cpu');

    const random = rng(3);
    const image = Float32Array.from({ length: 3 * SIZE * SIZE }, () => 0.2 + 0.6 * random());
    const weights = f32(Float32Array.from({ length: 192 * (SIZE / 8) ** 2 }, () => 2 * random() - 1), [1, 192, SIZE / 8, SIZE / 8]);
    const run = async (img: Float32Array, outputs: string[]) => session.run({ image: f32(img, [1, 3, SIZE, SIZE]), w: weights }, outputs);
    const lossAt = async (img: Float32Array) => Number((await run(img, [loss]))[loss]!.data[0]);
    const g = (await run(image, [grad]))[grad]!.data as Float32Array;
    const scale = Math.max(...Array.from(g, Math.abs));
    expect(scale).toBeGreaterThan(0);

    // float32 sums over 12k features limit the step: smaller ones drown in rounding, larger ones cross Clip kinks.
    const h = 1e-3;
    const pixels = Array.from({ length: 8 }, () => Math.floor(random() * image.length));
    for (const p of pixels) {
      const plus = image.slice();
      const minus = image.slice();
      plus[p]! += h;
      minus[p]! -= h;
      const numeric = ((await lossAt(plus)) - (await lossAt(minus))) / (2 * h);
      expect(Math.abs(numeric - g[p]!), `pixel ${p}: analytic ${g[p]} vs numeric ${numeric}`).toBeLessThan(0.05 * Math.abs(numeric) + 0.002 * scale);
    }
    // A random direction through every pixel at once: a much larger signal than one pixel's.
    const direction = Float32Array.from(image, () => 2 * random() - 1);
    const along = (t: number) => Float32Array.from(image, (v, i) => v + t * direction[i]!);
    const t = 1e-4;
    const numeric = ((await lossAt(along(t))) - (await lossAt(along(-t)))) / (2 * t);
    const analytic = g.reduce((s, v, i) => s + v * direction[i]!, 0);
    expect(Math.abs(numeric - analytic)).toBeLessThan(0.005 * Math.abs(numeric));
    await session.release();
  });
});
