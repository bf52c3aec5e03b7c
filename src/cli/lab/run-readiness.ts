/**
 * The kubelet's readiness prober for one run of a lab process (system-kubelet.ts). Until the run
 * first answers it is probed every FIRST_READY_INTERVAL_MS (the lab's shortcut, for
 * READY_DEADLINE_MS at most), then every `periodMs`; `successThreshold` successes in a row make the
 * pod Ready, `failureThreshold` failures in a row not ready again, each failure of a run that was
 * ready an Unhealthy event, as the kubelet's prober has them. It runs beside the process's chain of
 * pod updates (a run that never answers holds up no scale or replacement), and ends with the run
 * or when aborted.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { ReadinessProbe } from './probes.js';

/**
 * How long a new run is probed every FIRST_READY_INTERVAL_MS until it first answers (then at its
 * probe's period), and how long the first readiness is waited for: its pod stays not ready meanwhile.
 */
export const READY_DEADLINE_MS = 90_000;
/**
 * How often a new run is probed until it first answers: the lab's shortcut (the kubelet waits its
 * `periodSeconds` between tries from the start), so a restarted process serves again at once.
 */
export const FIRST_READY_INTERVAL_MS = 250;

export interface RunReadiness {
  /** Aborted when the run is replaced, or the kubelet stops. */
  signal: AbortSignal;
  /** Whether the run probed still runs (not exited, not replaced). */
  running(): boolean;
  /** The run's readiness probe; a failure (the API server, a moment) is asked again. */
  probe(): Promise<ReadinessProbe>;
  /** A probe of a run that has been ready failed: the kubelet's Unhealthy event. */
  unhealthy(failure: string): Promise<void>;
  /**
   * The pod turns ready or not (`first`: ready for the first time, the kubelet's Started), with the
   * failure that made it not ready.
   */
  turned(ready: boolean, first: boolean, failure: string | undefined): Promise<void>;
}

/**
 * Follows the run's readiness until it ends. Resolves once the pod is first Ready, or the prober
 * ended before, or READY_DEADLINE_MS passed without; rejects with what stopped the prober.
 */
export function followReadiness(run: RunReadiness): { firstReady: Promise<void>; ended: Promise<void> } {
  const { signal } = run;
  const current = () => !signal.aborted && run.running();
  const startedAt = Date.now();
  let firstReady: () => void = () => undefined;
  const first = new Promise<void>((resolve) => {
    firstReady = resolve;
  });
  const loop = async () => {
    // The probe may come from the API server, which may fail for a moment: ask again, as the
    // kubelet keeps a pod it cannot judge rather than give up on it.
    let probe: ReadinessProbe | undefined;
    while (probe === undefined && current()) {
      probe = await run.probe().catch(() => undefined);
      if (probe === undefined) await delay(FIRST_READY_INTERVAL_MS, undefined, { signal });
    }
    if (probe === undefined) return;
    let ready = false;
    let everReady = false;
    let failures = 0;
    let successes = 0;
    while (current()) {
      const failure = await probe.check();
      if (!current()) return;
      if (failure === undefined) {
        failures = 0;
        successes++;
      } else {
        successes = 0;
        failures++;
        // An event the API server fails to take is lost, not the prober.
        if (everReady) await run.unhealthy(failure).catch(() => undefined);
      }
      const next: boolean = ready ? failures < probe.failureThreshold : successes >= probe.successThreshold;
      if (next !== ready) {
        ready = next;
        const firstTime = ready && !everReady;
        everReady ||= ready;
        await run.turned(ready, firstTime, failure);
        if (firstTime) firstReady();
      }
      const starting = !everReady && Date.now() - startedAt < READY_DEADLINE_MS;
      if (!starting) firstReady();
      await delay(starting ? FIRST_READY_INTERVAL_MS : probe.periodMs, undefined, { signal });
    }
  };
  const ended = loop().finally(firstReady);
  return { firstReady: first, ended };
}
