/**
 * One async stream read by two consumers at once (two fits of one pass over the training images),
 * with bounded memory: a branch that runs `lookahead` items ahead of the other waits for it.
 */
export interface Tee<T> {
  readonly branches: readonly [AsyncIterable<T>, AsyncIterable<T>];
  /**
   * Branch `i` will read no more: the other branch no longer waits for it. A branch whose loop ends
   * (done, broken out of, or thrown through) releases itself.
   */
  release(i: 0 | 1): void;
  /** Both branches throw `error` at their next read and the source is closed (one consumer failed: the other's work is wasted). */
  abort(error: unknown): void;
}

export function teeAsync<T>(source: AsyncIterable<T>, lookahead: number): Tee<T> {
  if (!Number.isInteger(lookahead) || lookahead < 1) throw new RangeError(`lookahead must be a whole number >= 1, received ${lookahead}`);
  const it = source[Symbol.asyncIterator]();
  const queues: [T[], T[]] = [[], []];
  const released = [false, false];
  let ended = false;
  let failure: { error: unknown } | undefined;
  let pulling: Promise<void> | undefined;
  let waiting: Array<() => void> = [];
  const wake = () => {
    const w = waiting;
    waiting = [];
    for (const f of w) f();
  };
  const pull = () =>
    (pulling ??= (async () => {
      try {
        const r = await it.next();
        if (r.done) ended = true;
        else queues.forEach((q, i) => released[i] || q.push(r.value));
      } catch (error) {
        failure = { error };
      } finally {
        pulling = undefined;
        wake();
      }
    })());
  const release = (i: 0 | 1) => {
    if (released[i]) return;
    released[i] = true;
    queues[i].length = 0;
    wake();
    if (released[1 - i] && !ended) void it.return?.();
  };
  const abort = (error: unknown) => {
    if (failure) return;
    failure = { error };
    queues.forEach((q) => (q.length = 0));
    wake();
    if (!ended) void it.return?.();
  };
  async function* branch(i: 0 | 1): AsyncGenerator<T> {
    const other = 1 - i;
    try {
      for (;;) {
        if (failure) throw failure.error;
        if (queues[i].length > 0) {
          const item = queues[i].shift()!;
          wake();
          yield item;
        } else if (ended) return;
        else if (!released[other] && queues[other]!.length >= lookahead) await new Promise<void>((resolve) => waiting.push(resolve));
        else await pull();
      }
    } finally {
      release(i);
    }
  }
  return { branches: [branch(0), branch(1)], release, abort };
}
