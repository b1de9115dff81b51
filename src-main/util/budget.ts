/**
 * A counting budget for async work (e.g. pixels being decoded at once): `use(amount, fn)` waits until
 * the amount fits, runs fn, and gives the amount back. An amount larger than the whole budget waits for
 * everything else to finish and then runs alone, so no request can wait forever.
 */
export class Budget {
  #free: number;
  readonly #waiting: Array<{ amount: number; start: () => void }> = [];

  constructor(readonly total: number) {
    if (!(total > 0)) throw new RangeError(`expected a positive budget, received ${total}`);
    this.#free = total;
  }

  async use<T>(amount: number, fn: () => Promise<T>): Promise<T> {
    const take = Math.min(Math.max(0, amount), this.total);
    if (take > this.#free || this.#waiting.length > 0) await new Promise<void>((start) => this.#waiting.push({ amount: take, start }));
    else this.#free -= take;
    try {
      return await fn();
    } finally {
      this.#free += take;
      this.#wake();
    }
  }

  #wake(): void {
    // first come, first served: a large request is not overtaken forever by small ones
    while (this.#waiting.length > 0 && this.#waiting[0]!.amount <= this.#free) {
      const next = this.#waiting.shift()!;
      this.#free -= next.amount;
      next.start();
    }
  }
}
