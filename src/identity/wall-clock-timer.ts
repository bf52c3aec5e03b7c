/**
 * A one-shot timer due at a wall-clock time. Node's timers run on CLOCK_MONOTONIC, which stands
 * still while the machine sleeps (a suspended VM or laptop), whereas certificates expire by the
 * wall clock: one 16.8 h timer could wake hours after its certificate expired. Waking each minute
 * to compare the due time with the wall clock bounds that lateness; it also keeps under
 * setTimeout's 2^31 - 1 ms. Unref'd: the servers using the certificates keep the process alive.
 */
export const MAX_WAIT_STEP_MS = 60_000;

export class WallClockTimer {
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly now: () => number) {}

  /** Replaces any armed wait: `fire` runs once `delayMs` have passed by the wall clock. */
  arm(delayMs: number, fire: () => void): void {
    this.cancel();
    if (delayMs > MAX_WAIT_STEP_MS) {
      const due = this.now() + delayMs;
      this.#timer = setTimeout(() => this.arm(due - this.now(), fire), MAX_WAIT_STEP_MS);
    } else {
      this.#timer = setTimeout(fire, delayMs);
    }
    this.#timer.unref();
  }

  cancel(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
