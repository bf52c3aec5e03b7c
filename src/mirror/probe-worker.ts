/**
 * Probes one remote gateway through the local gateway's admin `/probe` endpoint, so a probe takes
 * the same mTLS path as traffic (DESIGN "The tunnel": a trust or reachability problem shows as
 * not alive). Liveness follows Linkerd's probe worker: dead after `failureThreshold` consecutive
 * failures, alive on the first success; "unknown" until then, so a restart changes nothing.
 */
import { describeError } from '../errors.js';
import { type JitteredTicker, startJitteredTicker } from './jittered-ticker.js';
import type { MirrorMetrics } from './metrics.js';
import type { GatewayAlive } from './plan-mirror.js';

export type { GatewayAlive };

export interface ProbeState {
  alive: GatewayAlive;
  failures: number;
}

export const INITIAL_PROBE_STATE: ProbeState = { alive: 'unknown', failures: 0 };

/** Pure liveness decision. */
export function nextProbeState(state: ProbeState, success: boolean, failureThreshold: number): ProbeState {
  if (success) return { alive: true, failures: 0 };
  const failures = state.failures + 1;
  return { alive: failures >= failureThreshold ? false : state.alive, failures };
}

export interface ProbeResult {
  success: boolean;
  latencyMs?: number;
  error?: string;
}

export interface ProbeWorkerOptions {
  cluster: string;
  /** Base URL of the local gateway's admin server, e.g. http://127.0.1.1:4191. */
  adminUrl: string;
  /** The remote gateway as `<host>:<port>`; read at every probe so an address change is followed. */
  target: () => string | undefined;
  path: string;
  periodMs: number;
  timeoutMs: number;
  failureThreshold: number;
  metrics: MirrorMetrics;
  onChange: (alive: GatewayAlive) => void;
  onProbe?: (result: ProbeResult) => void;
}

export async function probeOnce(
  adminUrl: string,
  gateway: string,
  path: string,
  timeoutMs: number,
  cluster?: string,
): Promise<ProbeResult> {
  const url = new URL('/probe', adminUrl);
  url.searchParams.set('gateway', gateway);
  // The gateway at that address must hold this cluster's gateway identity, as tunnels check too.
  if (cluster !== undefined) url.searchParams.set('cluster', cluster);
  url.searchParams.set('path', path);
  url.searchParams.set('timeoutMs', String(timeoutMs));
  try {
    // The admin server enforces timeoutMs towards the remote; our own deadline adds a margin for it.
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs + 1000) });
    const body = (await res.json().catch(() => ({}))) as {
      alive?: boolean;
      latencyMs?: number;
      error?: string;
    };
    const success = res.status === 200 && body.alive === true;
    const result: ProbeResult = { success };
    if (typeof body.latencyMs === 'number') result.latencyMs = body.latencyMs;
    if (!success) result.error = body.error ?? `probe answered ${res.status}`;
    return result;
  } catch (err) {
    return { success: false, error: describeError(err) };
  }
}

export class ProbeWorker {
  private state: ProbeState = INITIAL_PROBE_STATE;
  private ticker: JitteredTicker | undefined;
  lastError: string | undefined;

  constructor(private opts: ProbeWorkerOptions) {}

  get alive(): GatewayAlive {
    return this.state.alive;
  }

  start(): void {
    this.ticker ??= startJitteredTicker({
      periodMs: this.opts.periodMs,
      immediate: true,
      tick: () => this.probe(),
    });
  }

  stop(): void {
    this.ticker?.stop();
    this.ticker = undefined;
  }

  /** New probe settings (Link edited): the liveness state is kept. */
  update(
    opts: Partial<
      Pick<ProbeWorkerOptions, 'path' | 'periodMs' | 'timeoutMs' | 'failureThreshold' | 'adminUrl'>
    >,
  ) {
    const periodChanged = opts.periodMs !== undefined && opts.periodMs !== this.opts.periodMs;
    this.opts = { ...this.opts, ...opts };
    if (periodChanged && this.ticker) {
      this.stop();
      this.start();
    }
  }

  /** Probe again now (e.g. the remote gateway address changed). */
  trigger(): void {
    this.ticker?.trigger();
  }

  private async probe(): Promise<void> {
    const { metrics, cluster } = this.opts;
    const target = this.opts.target();
    const result: ProbeResult = target
      ? await probeOnce(this.opts.adminUrl, target, this.opts.path, this.opts.timeoutMs, this.opts.cluster)
      : { success: false, error: 'no remote gateway address' };
    if (!this.ticker) return; // stopped while the probe was in flight
    metrics.probes.inc({ target_cluster_name: cluster, result: result.success ? 'success' : 'failure' });
    if (result.success && result.latencyMs !== undefined) {
      metrics.probeLatency.observe({ target_cluster_name: cluster }, result.latencyMs);
    }
    this.lastError = result.error;
    const previous = this.state.alive;
    this.state = nextProbeState(this.state, result.success, this.opts.failureThreshold);
    if (this.state.alive !== 'unknown')
      metrics.gatewayAlive.set({ target_cluster_name: cluster }, this.state.alive ? 1 : 0);
    this.opts.onProbe?.(result);
    if (this.state.alive !== previous) this.opts.onChange(this.state.alive);
  }
}
