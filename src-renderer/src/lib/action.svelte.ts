/**
 * One user action's state: busy while it runs, and the ApiError it ended with (shown inline by
 * ErrorNote). Every screen runs its calls through one of these, so no failure is silent.
 *
 *   const save = new Action();
 *   await save.run(() => api.call('thresholds.set', request));   // true when it succeeded
 *   {#if save.error}<ErrorNote error={save.error} />{/if}
 */
import { ApiError } from './contract.ts';

export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  return new ApiError('INTERNAL', err instanceof Error ? err.message : String(err));
}

export class Action {
  busy = $state(false);
  error = $state<ApiError | null>(null);

  /** Runs `fn`, recording its error; resolves true when it succeeded. */
  async run(fn: () => Promise<unknown>): Promise<boolean> {
    this.busy = true;
    this.error = null;
    try {
      await fn();
      return true;
    } catch (err) {
      this.error = toApiError(err);
      return false;
    } finally {
      this.busy = false;
    }
  }

  clear(): void {
    this.error = null;
  }
}
