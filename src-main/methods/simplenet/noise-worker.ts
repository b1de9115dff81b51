/** Worker thread of NoiseSource (noise.ts): draws the requested noise chunks. */
import { parentPort } from 'node:worker_threads';
import { type ChunkRequest, drawChunk } from './noise.ts';

const port = parentPort!;
port.on('message', (r: ChunkRequest) => {
  const data = new Float32Array(r.length);
  drawChunk(data, r.seed, r.chunk, r.std);
  port.postMessage({ id: r.id, data }, [data.buffer]);
});
