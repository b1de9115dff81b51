/**
 * Undo and redo over whole states (the mask editor keeps one byte per pixel): `record` the state
 * before each change; `undo` and `redo` take the state shown now and give the one to show instead.
 * A new change after an undo drops what could be redone, as in every editor. At most `depth` steps
 * are kept back (the oldest go first).
 */
export class History<T> {
  private readonly past: T[] = [];
  private readonly future: T[] = [];

  constructor(private readonly depth: number) {
    if (!Number.isInteger(depth) || depth < 1) throw new RangeError(`expected a positive whole number of undo steps, received ${depth}`);
  }

  get canUndo(): boolean {
    return this.past.length > 0;
  }

  get canRedo(): boolean {
    return this.future.length > 0;
  }

  /** The state before a change about to be made. */
  record(before: T): void {
    this.past.push(before);
    if (this.past.length > this.depth) this.past.shift();
    this.future.length = 0;
  }

  /** The state to go back to (undefined when there is none); `current` becomes redoable. */
  undo(current: T): T | undefined {
    const previous = this.past.pop();
    if (previous !== undefined) this.future.push(current);
    return previous;
  }

  /** The state undone last (undefined when there is none); `current` becomes undoable again. */
  redo(current: T): T | undefined {
    const next = this.future.pop();
    if (next !== undefined) this.past.push(current);
    return next;
  }

  clear(): void {
    this.past.length = 0;
    this.future.length = 0;
  }
}
