/**
 * Calls `tick` every period ± jitter, one call at a time (the next period starts when a tick has
 * returned, so a slow probe never overlaps the next). Jitter spreads the probes of many Links so that
 * they do not all hit the gateway in the same instant (Linkerd's probe worker does the same).
 */
export interface JitteredTickerOptions {
  periodMs: number;
  /** Fraction of the period, e.g. 0.1 → ±10 %. */
  jitter?: number;
  /** Tick at once rather than after the first period. */
  immediate?: boolean;
  tick: () => Promise<void> | void;
  random?: () => number;
}

export interface JitteredTicker {
  /** Runs a tick now (or right after the one in progress) and restarts the period. */
  trigger(): void;
  stop(): void;
}

export function jitteredDelay(periodMs: number, jitter: number, random: () => number): number {
  return Math.max(1, Math.round(periodMs * (1 + jitter * (2 * random() - 1))));
}

export function startJitteredTicker(opts: JitteredTickerOptions): JitteredTicker {
  const jitter = opts.jitter ?? 0.1;
  const random = opts.random ?? Math.random;
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let again = false;
  let stopped = false;

  const schedule = (delay: number) => {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(run, delay);
    timer.unref();
  };
  const run = async () => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    clearTimeout(timer);
    try {
      await opts.tick();
    } catch {
      // The tick owns its error reporting; the ticker only keeps time.
    } finally {
      running = false;
    }
    if (again) {
      again = false;
      schedule(0);
    } else {
      schedule(jitteredDelay(opts.periodMs, jitter, random));
    }
  };

  schedule(opts.immediate ? 0 : jitteredDelay(opts.periodMs, jitter, random));
  return {
    trigger: () => void run(),
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
