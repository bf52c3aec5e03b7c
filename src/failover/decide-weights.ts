/**
 * The failover decision, pure: given a split, the ready endpoint count of each backend and what
 * was decided last time, which backends get weight. linkerd-failover's rule, with its gaps fixed:
 * - primary has a ready endpoint → primary gets all the weight;
 * - otherwise every ready backup gets an equal share;
 * - nothing ready → the weights stay as they were (linkerd-failover would zero them all, which
 *   turns "degraded" into "certainly down"), and the state says so;
 * - optional hysteresis: after a failover, a recovered primary must stay ready for
 *   `restoreAfterMs` before traffic returns, so a flapping primary does not drag traffic along.
 */
import type { ParsedBackend, ParsedSplit } from './parse-split.js';

/**
 * `Primary`: the primary has all the weight. `Fallback`: ready backups share it.
 * `NothingReady`: no backend has a ready endpoint; weights left as they were.
 */
export type FailoverState = 'Primary' | 'Fallback' | 'NothingReady';

/** What the controller remembers per split between decisions (seeded from status on restart). */
export interface FailoverMemory {
  state: FailoverState;
  /** Backends that had weight after the last decision. */
  active: string[];
  /** While in Fallback with hysteresis: when the primary was first seen ready again. */
  primaryReadySince?: number;
}

/**
 * Events of reason `Failover` (Normal): "failing over to …" and "restored to primary …".
 * Reason `NothingReady` (Warning): no backend has a ready endpoint, weights kept.
 */
export interface FailoverEvent {
  type: 'Normal' | 'Warning';
  reason: 'Failover' | 'NothingReady';
  message: string;
}

export interface WeightDecision {
  /** Backends in the split's order, with the weights to write. */
  weights: ParsedBackend[];
  state: FailoverState;
  /**
   * The backends the weights send traffic to: weight and a ready endpoint (none in NothingReady).
   * The status adds those the apex reaches without weight (split-status.ts, reachedWithoutWeight).
   */
  activeBackends: string[];
  /** The weights differ from the split's current ones: a patch is due. */
  changed: boolean;
  memory: FailoverMemory;
  event?: FailoverEvent;
  /** Decide again after this long (hysteresis pending) even if nothing else changes. */
  requeueAfterMs?: number;
}

/** Weight given to each active backend; any positive equal value gives an equal share. */
export const ACTIVE_WEIGHT = 1;

export function decideWeights(
  split: ParsedSplit,
  readiness: ReadonlyMap<string, number>,
  now: number,
  memory: FailoverMemory | undefined,
): WeightDecision {
  const previous: FailoverMemory = memory ?? { state: 'Primary', active: [split.primary] };
  const isReady = (service: string) => (readiness.get(service) ?? 0) > 0;
  const readyBackups = split.backends.map((b) => b.service).filter((s) => s !== split.primary && isReady(s));
  const wasFallback =
    previous.state === 'Fallback' || (previous.state === 'NothingReady' && !isPrimaryOnly(previous, split));

  if (isReady(split.primary)) {
    // Hysteresis only holds traffic on backups that can still take it.
    if (wasFallback && split.restoreAfterMs > 0 && readyBackups.length > 0) {
      const since = previous.primaryReadySince ?? now;
      const remaining = since + split.restoreAfterMs - now;
      if (remaining > 0) {
        return withWeights(split, 'Fallback', readyBackups, previous, {
          primaryReadySince: since,
          requeueAfterMs: remaining,
        });
      }
    }
    const event: FailoverEvent | undefined = wasFallback
      ? { type: 'Normal', reason: 'Failover', message: `restored to primary ${split.primary}` }
      : undefined;
    return withWeights(split, 'Primary', [split.primary], previous, { event });
  }

  if (readyBackups.length > 0) {
    return withWeights(split, 'Fallback', readyBackups, previous, {});
  }

  // Nothing ready: keep the weights and remember where traffic was, so recovery is judged from
  // there. No backend is active: none carries traffic, whichever keeps the weight (as a steer-only
  // split's NothingReady, and as linkerd-failover, which zeroes every weight, shows it).
  return {
    weights: split.backends.map((b) => ({ ...b })),
    state: 'NothingReady',
    activeBackends: [],
    changed: false,
    memory: { state: 'NothingReady', active: previous.active },
    event:
      previous.state === 'NothingReady'
        ? undefined
        : {
            type: 'Warning',
            reason: 'NothingReady',
            message: `no backend of ${split.apex} has a ready endpoint; weights left unchanged`,
          },
  };
}

function isPrimaryOnly(memory: FailoverMemory, split: ParsedSplit): boolean {
  return memory.active.length === 1 && memory.active[0] === split.primary;
}

function withWeights(
  split: ParsedSplit,
  state: 'Primary' | 'Fallback',
  active: string[],
  previous: FailoverMemory,
  extra: { event?: FailoverEvent; primaryReadySince?: number; requeueAfterMs?: number },
): WeightDecision {
  const activeSet = new Set(active);
  const weights = split.backends.map((b) => ({
    service: b.service,
    weight: activeSet.has(b.service) ? ACTIVE_WEIGHT : 0,
  }));
  const changed = weights.some((w, i) => w.weight !== split.backends[i]!.weight);
  let event = extra.event;
  if (state === 'Fallback' && (previous.state !== 'Fallback' || !sameMembers(previous.active, active))) {
    event = { type: 'Normal', reason: 'Failover', message: `failing over to ${active.join(', ')}` };
  }
  const memory: FailoverMemory = { state, active };
  if (extra.primaryReadySince !== undefined) memory.primaryReadySince = extra.primaryReadySince;
  const decision: WeightDecision = { weights, state, activeBackends: active, changed, memory };
  if (event) decision.event = event;
  if (extra.requeueAfterMs !== undefined) decision.requeueAfterMs = extra.requeueAfterMs;
  return decision;
}

function sameMembers(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

/**
 * A steer-only split (weights the user's, never rewritten): `Weighted` on its weighted backends
 * that have a ready endpoint; `NothingReady` when none of those has one; `NoWeight` when every
 * weight is 0 (however ready the backends), which is no readiness problem and must not read as one.
 */
export function steerOnlyState(
  split: ParsedSplit,
  readiness: ReadonlyMap<string, number>,
): { state: 'Weighted' | 'NothingReady' | 'NoWeight'; activeBackends: string[] } {
  const weighted = split.backends.filter((b) => b.weight > 0);
  if (weighted.length === 0) return { state: 'NoWeight', activeBackends: [] };
  const activeBackends = weighted.filter((b) => (readiness.get(b.service) ?? 0) > 0).map((b) => b.service);
  return { state: activeBackends.length > 0 ? 'Weighted' : 'NothingReady', activeBackends };
}

/**
 * Whether the weights send a failover split's traffic to its backups: the primary has none and a
 * backup has some. Read from the weights, not the state, so it holds while nothing is ready (the
 * weights stay on the backups) — the value of `isthmus_failover_active`.
 */
export function onBackups(weights: readonly ParsedBackend[], primary: string): boolean {
  const primaryWeight = weights.find((b) => b.service === primary)?.weight ?? 0;
  return primaryWeight === 0 && weights.some((b) => b.service !== primary && b.weight > 0);
}
