/**
 * Probes one remote gateway through the local gateway's admin `/probe` endpoint, so a probe takes
 * the same mTLS path as traffic (DESIGN "The tunnel": a trust or reachability problem shows as
 * not alive). Liveness follows Linkerd's probe worker: dead after `failureThreshold` consecutive
 * failures, alive on the first success; "unknown" until then, so a restart changes nothing.
 *
 * Liveness is of one gateway, probed one way: the remote gateway's `<host>:<port>` and the probe
 * path. When either changes (a Link edit of gatewayAddress, gatewayPort or probeSpec.path, the
 * remote gateway Service's address moving), what was known is dropped, a probe in flight for the
 * old one is abandoned (its answer would be about the old gateway), and the new one is probed at
 * once: "unknown" again, then alive at its first success or dead after `failureThreshold`
 * failures, as Linkerd's service mirror does by restarting its probe worker on such an edit.
 * Meanwhile mirrors keep the readiness they have (endpointReadiness), as over a restart. A new
 * period, timeout or threshold judges the same gateway: what is known stays; the period applies
 * at once, and a lowered threshold counts the failures already seen.
 *
 * A probe that fails on this side (probe-answer.ts: the local gateway's admin did not answer, or
 * answered that it cannot probe) says nothing of the remote: it neither counts towards
 * `failureThreshold` nor resets the count, and the liveness and `gateway_alive` stay what they
 * were. It is counted as `local_failure`, `isthmus_local_gateway_up` says 0 until the local gateway
 * answers as able to probe again, and `localError` says what is wrong here (the Link's GatewayAlive says
 * LocalGatewayUnavailable). The mirrors keep their readiness: callers' traffic goes through the
 * local gateway, whose own readiness takes it out of the mirrors' endpoints when it cannot serve.
 */

import { type JitteredTicker, startJitteredTicker } from './jittered-ticker.js';
import type { MirrorMetrics } from './metrics.js';
import type { GatewayAlive } from './plan-mirror.js';
import { type ProbeAnswerBody, type ProbeResult, probeAnswer, probeUnanswered } from './probe-answer.js';

export type { GatewayAlive, ProbeResult };

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

/**
 * Successful probes in a row (failures between them aside) that must say the same `via` before the
 * worker takes it (the Link's status is written, and logged, at each change). The controller
 * probes through the admin Service, which spreads the probes over the gateway replicas: the
 * replicas agree on `via` (each tries the address probed first), but one whose own path to it
 * fails while another's works would flip it at every probe, a status write per Link every period
 * (review). Three: a change is said within three successful periods (~9 s), and two replicas
 * alternating never make one.
 */
export const VIA_CONFIRMATIONS = 3;

/** Where the remote answers as the worker says it, and a different answer being confirmed. */
export interface ViaState {
  via: string | undefined;
  pending?: { via: string | undefined; seen: number };
}

/**
 * Pure: where the remote answers after a probe. A failure keeps what was said (GatewayAlive says the
 * failure meanwhile) and the confirmation under way: it says nothing of where the remote answers,
 * and ending the confirmation there hid a real move for good when one probe in three failed (one
 * replica without a path to the remote; review). A success that says the same as said clears it,
 * one that says yet another address starts it over, so replicas that disagree never flip it. One
 * that says otherwise is taken at once when the liveness has just become alive (the status is
 * written for that anyway, so it says the address at the same time), else once `VIA_CONFIRMATIONS`
 * successes have said it with no other answer between them.
 */
export function nextVia(
  s: ViaState,
  result: { success: boolean; via?: string | undefined },
  becameAlive: boolean,
): ViaState {
  if (!result.success) return s.pending === undefined ? { via: s.via } : { via: s.via, pending: s.pending };
  if (result.via === s.via) return { via: s.via };
  const seen = s.pending !== undefined && s.pending.via === result.via ? s.pending.seen + 1 : 1;
  if (becameAlive || seen >= VIA_CONFIRMATIONS) return { via: result.via };
  return { via: s.via, pending: { via: result.via, seen } };
}

export interface ProbeWorkerOptions {
  cluster: string;
  /** Base URL of the local gateway's admin server, e.g. http://127.0.1.1:4191. */
  adminUrl: string;
  /**
   * The remote gateway as `<host>:<port>`, read at every probe; undefined while it is not known yet
   * (that tick probes and counts nothing). After a change, call trigger() so the new one is probed
   * at once; a probe would notice the change by itself, but only at its next tick.
   */
  target: () => string | undefined;
  path: string;
  periodMs: number;
  timeoutMs: number;
  failureThreshold: number;
  metrics: MirrorMetrics;
  onChange: (alive: GatewayAlive) => void;
  /**
   * The local gateway could not probe (why), or can again (undefined): called on each change, with
   * what was said before (undefined: it could probe).
   */
  onLocalGateway?: (error: string | undefined, before: string | undefined) => void;
  onProbe?: (result: ProbeResult) => void;
  /**
   * The remote gateway answered at another address than the one probed (`via`), or at that one
   * again (undefined): called on each change (`nextVia`: confirmed by VIA_CONFIRMATIONS successful
   * probes in a row, so not at every probe when gateway replicas disagree), with what was said before.
   */
  onVia?: (via: string | undefined, before: string | undefined) => void;
}

export async function probeOnce(
  adminUrl: string,
  gateway: string,
  path: string,
  timeoutMs: number,
  cluster?: string,
  signal?: AbortSignal,
): Promise<ProbeResult> {
  const url = new URL('/probe', adminUrl);
  url.searchParams.set('gateway', gateway);
  // The gateway at that address must hold this cluster's gateway identity, as tunnels check too.
  if (cluster !== undefined) url.searchParams.set('cluster', cluster);
  url.searchParams.set('path', path);
  url.searchParams.set('timeoutMs', String(timeoutMs));
  // The admin server enforces timeoutMs towards the remote; our own deadline adds a margin for it.
  const deadlineMs = timeoutMs + 1000;
  try {
    const deadline = AbortSignal.timeout(deadlineMs);
    const res = await fetch(url, { signal: signal ? AbortSignal.any([deadline, signal]) : deadline });
    const body = (await res.json().catch(() => ({}))) as ProbeAnswerBody;
    return probeAnswer(res.status, body ?? {});
  } catch (err) {
    return probeUnanswered(err, adminUrl, deadlineMs);
  }
}

export class ProbeWorker {
  private state: ProbeState = INITIAL_PROBE_STATE;
  /** What `state` was learnt of (`probeKey`); undefined while nothing is. */
  private about: string | undefined;
  private ticker: JitteredTicker | undefined;
  /** Bumped whenever the probe in flight must not count (stopped, or it probes an old gateway). */
  private epoch = 0;
  private inFlight: { key: string; abort: AbortController } | undefined;
  private dropped = false;
  /** The remote gateway's version last heard, the label of its `isthmus_remote_gateway_info`. */
  private version: string | undefined;
  lastError: string | undefined;
  /**
   * Where successful probes find the remote alive, when not at the address probed (another address
   * the Link names, probe-answer.ts `via`), as confirmed by `nextVia`; undefined otherwise.
   */
  via: string | undefined;
  /** A different `via` being confirmed (nextVia). */
  private viaPending: ViaState['pending'];
  /** Why the local gateway could not make the last probe; undefined when it could (or none answered). */
  localError: string | undefined;

  constructor(private opts: ProbeWorkerOptions) {}

  get alive(): GatewayAlive {
    return this.state.alive;
  }

  /** The remote gateway probed now (`<host>:<port>`), if known. */
  get target(): string | undefined {
    return this.opts.target();
  }

  /**
   * Whether a liveness once decided was dropped because the gateway or the probe changed since:
   * what a status written earlier says of the gateway is then known to be out of date.
   */
  get superseded(): boolean {
    return this.dropped;
  }

  start(): void {
    this.ticker ??= this.newTicker();
  }

  /** Stops probing; started again, the worker knows nothing (the gateway may have changed meanwhile). */
  stop(): void {
    this.ticker?.stop();
    this.ticker = undefined;
    this.abandonInFlight();
    this.state = INITIAL_PROBE_STATE;
    this.about = undefined;
    this.lastError = undefined;
    this.via = undefined;
    this.viaPending = undefined;
    this.localError = undefined;
    this.dropped = false;
    this.exposeVersion(undefined);
    this.opts.metrics.localGatewayUp.remove({ target_cluster_name: this.opts.cluster });
  }

  /**
   * New probe settings (Link edited). A new path is a new probe: what was known goes, and it is
   * probed at once. A new period applies at once; a new threshold applies to the failures counted.
   */
  update(
    opts: Partial<
      Pick<ProbeWorkerOptions, 'path' | 'periodMs' | 'timeoutMs' | 'failureThreshold' | 'adminUrl'>
    >,
  ) {
    const periodChanged = opts.periodMs !== undefined && opts.periodMs !== this.opts.periodMs;
    this.opts = { ...this.opts, ...opts };
    if (this.follow()) return;
    const { failures, alive } = this.state;
    if (failures > 0 && failures >= this.opts.failureThreshold && alive !== false) {
      this.state = { alive: false, failures };
      this.opts.metrics.gatewayAlive.set({ target_cluster_name: this.opts.cluster }, 0);
      this.opts.onChange(false);
    }
    if (periodChanged && this.ticker) this.restartTicker();
  }

  /**
   * Probe again now: the remote gateway's address may have changed. A new gateway starts over
   * (what was known goes, a probe in flight for the old one is abandoned).
   */
  trigger(): void {
    if (!this.follow()) this.ticker?.trigger();
  }

  /** `<host>:<port> <path>`: what one liveness is about. */
  private probeKey(target: string | undefined): string {
    return `${target ?? ''} ${this.opts.path}`;
  }

  /**
   * Starts over when what is probed is no longer what the state (or the probe in flight) is
   * about: the state goes back to unknown and a probe of the new gateway starts now. True if so.
   */
  private follow(): boolean {
    const target = this.opts.target();
    if (target === undefined) return false; // not known yet: nothing to compare
    const key = this.probeKey(target);
    const staleState = this.about !== undefined && this.about !== key;
    const staleProbe = this.inFlight !== undefined && this.inFlight.key !== key;
    if (!staleState && !staleProbe) return false;
    this.abandonInFlight();
    if (staleState) this.forget();
    if (this.ticker) this.restartTicker();
    return true;
  }

  /** What was known is of another gateway (or another probe of it): unknown again. */
  private forget(): void {
    const previous = this.state.alive;
    this.state = INITIAL_PROBE_STATE;
    this.about = undefined;
    this.lastError = undefined;
    this.via = undefined;
    this.viaPending = undefined;
    this.dropped = true;
    this.opts.metrics.gatewayAlive.remove({ target_cluster_name: this.opts.cluster });
    this.exposeVersion(undefined);
    if (previous !== 'unknown') this.opts.onChange('unknown');
  }

  /** One series per remote gateway, for the version it last answered with; none when unknown. */
  private exposeVersion(version: string | undefined): void {
    if (version === this.version) return;
    const info = this.opts.metrics.remoteGatewayInfo;
    if (this.version !== undefined)
      info.remove({ target_cluster_name: this.opts.cluster, version: this.version });
    if (version !== undefined) info.set({ target_cluster_name: this.opts.cluster, version }, 1);
    this.version = version;
  }

  private abandonInFlight(): void {
    this.epoch++;
    this.inFlight?.abort.abort();
    this.inFlight = undefined;
  }

  private newTicker(): JitteredTicker {
    return startJitteredTicker({ periodMs: this.opts.periodMs, immediate: true, tick: () => this.probe() });
  }

  /** A new ticker, probing now: the probe in flight (one at a time) is abandoned for it. */
  private restartTicker(): void {
    this.abandonInFlight();
    this.ticker?.stop();
    this.ticker = this.newTicker();
  }

  private async probe(): Promise<void> {
    const { metrics, cluster } = this.opts;
    const target = this.opts.target();
    if (target === undefined) return; // the remote gateway is not known yet: nothing to probe
    const key = this.probeKey(target);
    // Probed by itself (no trigger()) after a change: the old knowledge is not about this one.
    if (this.about !== undefined && this.about !== key) this.forget();
    const epoch = this.epoch;
    const abort = new AbortController();
    this.inFlight = { key, abort };
    const result = await probeOnce(
      this.opts.adminUrl,
      target,
      this.opts.path,
      this.opts.timeoutMs,
      this.opts.cluster,
      abort.signal,
    );
    // Stopped, or the gateway changed while the probe was in flight: its answer is of no use.
    if (epoch !== this.epoch || !this.ticker) return;
    if (this.inFlight?.abort === abort) this.inFlight = undefined;
    const local = result.failure === 'local';
    metrics.probes.inc({ target_cluster_name: cluster, result: probeOutcome(result) });
    metrics.localGatewayUp.set({ target_cluster_name: cluster }, local ? 0 : 1);
    this.setLocalError(local ? result.error : undefined);
    // Nothing was learnt of the remote: its liveness, failure count, gateway_alive and last error stay.
    if (local) {
      this.opts.onProbe?.(result);
      return;
    }
    this.lastError = result.error;
    const viaBefore = this.via;
    if (result.success && result.latencyMs !== undefined) {
      metrics.probeLatency.observe({ target_cluster_name: cluster }, result.latencyMs);
    }
    if (result.success) this.exposeVersion(result.version);
    const previous = this.state.alive;
    this.state = nextProbeState(this.state, result.success, this.opts.failureThreshold);
    const seen = nextVia(
      { via: this.via, pending: this.viaPending },
      result,
      this.state.alive === true && previous !== true,
    );
    this.via = seen.via;
    this.viaPending = seen.pending;
    this.about = key;
    if (this.state.alive !== 'unknown')
      metrics.gatewayAlive.set({ target_cluster_name: cluster }, this.state.alive ? 1 : 0);
    this.opts.onProbe?.(result);
    if (this.state.alive !== previous) this.opts.onChange(this.state.alive);
    if (this.via !== viaBefore) this.opts.onVia?.(this.via, viaBefore);
  }

  private setLocalError(error: string | undefined): void {
    const before = this.localError;
    if (error === before) return;
    this.localError = error;
    this.opts.onLocalGateway?.(error, before);
  }
}

/** `gateway_probes_total`'s result: `failure` stays the remote's, as it was before local failures were told apart. */
function probeOutcome(result: ProbeResult): 'success' | 'failure' | 'local_failure' {
  if (result.success) return 'success';
  return result.failure === 'local' ? 'local_failure' : 'failure';
}
