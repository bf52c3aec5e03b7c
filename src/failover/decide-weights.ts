/**
 * The failover decision, pure: given a split, the ready endpoint count of each backend and what
 * was decided last time, which backends get weight. linkerd-failover's rule, with its gaps fixed:
 * - primary has a ready endpoint → primary gets all the weight;
 * - otherwise every ready backup gets an equal share;
 * - nothing ready → the weights stay as they were (linkerd-failover would zero them all, which
 *   turns "degraded" into "certainly down"), and the state says so;
 * - optional hysteresis: after a failover, a recovered primary must stay ready for
 *   `restoreAfterMs` before traffic returns, so a flapping primary does not drag traffic along.
 *   It holds traffic off a primary that has no weight, never takes weight from one that has it.
 */
import type { ParsedBackend, ParsedSplit } from './parse-split.js';

/**
 * `Primary`: the primary has all the weight. `Fallback`: ready backups share it.
 * `NothingReady`: no backend has a ready endpoint; weights left as they were.
 */
export type FailoverState = 'Primary' | 'Fallback' | 'NothingReady';

/**
 * What the controller remembers per split between decisions (resumeMemory seeds it on restart).
 * It is about one split object and one primary (memoryFor): a split deleted and created again
 * under its name, or given another primary, starts from what it says itself.
 */
export interface FailoverMemory {
  state: FailoverState;
  /** Backends that had weight after the last decision. */
  active: string[];
  /** While in Fallback with hysteresis: when the primary was first seen ready again. */
  primaryReadySince?: number;
  /** `metadata.uid` of the split decided on (carried over by decideWeights). */
  uid?: string;
  /** The primary decided for. */
  primary?: string;
  /** The weights the split was left with: the controller's own, or as it found them. */
  weights?: ParsedBackend[];
}

/**
 * Events of reason `Failover` (Normal): "failing over to …" and "restored to primary …".
 * Reason `NothingReady` (Warning): no backend has a ready endpoint, weights kept.
 * Reason `WeightsOverwritten` (Normal, overwrittenEvent): the weights found were not the ones the
 * controller left (a hand edit), and it wrote its own over them; linkerd-failover records an
 * Event on every patch, so such a revert is never silent.
 */
export interface FailoverEvent {
  type: 'Normal' | 'Warning';
  reason: 'Failover' | 'NothingReady' | 'WeightsOverwritten';
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
  // The wait holds traffic off a primary that has none; one that already has weight (restored by
  // hand, or named primary while it carried a backup's share) keeps it.
  const primaryHadWeight = split.backends.some((b) => b.service === split.primary && b.weight > 0);

  if (isReady(split.primary)) {
    // Hysteresis only holds traffic on backups that can still take it.
    if (wasFallback && !primaryHadWeight && split.restoreAfterMs > 0 && readyBackups.length > 0) {
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
  const weights = split.backends.map((b) => ({ ...b }));
  return {
    weights,
    state: 'NothingReady',
    activeBackends: [],
    changed: false,
    memory: remembered(split, previous, { state: 'NothingReady', active: previous.active }, weights),
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
  const memory = remembered(split, previous, { state, active }, weights);
  if (extra.primaryReadySince !== undefined) memory.primaryReadySince = extra.primaryReadySince;
  const decision: WeightDecision = { weights, state, activeBackends: active, changed, memory };
  if (event) decision.event = event;
  if (extra.requeueAfterMs !== undefined) decision.requeueAfterMs = extra.requeueAfterMs;
  return decision;
}

/** The memory after a decision: about the same split object, for this primary, these weights. */
function remembered(
  split: ParsedSplit,
  previous: FailoverMemory,
  memory: FailoverMemory,
  weights: ParsedBackend[],
): FailoverMemory {
  return {
    ...memory,
    ...(previous.uid !== undefined ? { uid: previous.uid } : {}),
    primary: split.primary,
    weights,
  };
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

/**
 * Where a split's failover stands, from the split alone (a restarted controller, a new leader, a
 * split it has no memory of): Primary or Fallback from the weights, which are where traffic is —
 * the status may be a step behind them (the weights are patched first, so a controller that
 * stopped between the two leaves a `Fallback` status over weights already on the primary).
 * `status.state` only tells NothingReady apart, which leaves the weights as they were.
 */
export function resumeMemory(
  split: ParsedSplit,
  uid: string,
  statusState: string | undefined,
): FailoverMemory {
  const active = split.backends.filter((b) => b.weight > 0).map((b) => b.service);
  const state: FailoverState =
    statusState === 'NothingReady'
      ? 'NothingReady'
      : onBackups(split.backends, split.primary)
        ? 'Fallback'
        : 'Primary';
  return { state, active, uid, primary: split.primary, weights: split.backends.map((b) => ({ ...b })) };
}

/**
 * The memory to decide from: the remembered one while it is about this split object (`uid`: one
 * deleted and created again under the same name is another) and its primary (another primary
 * makes the old Fallback and its restore-after wait meaningless); else resumeMemory.
 */
export function memoryFor(
  remembered: FailoverMemory | undefined,
  split: ParsedSplit,
  uid: string,
  statusState: string | undefined,
): FailoverMemory {
  if (remembered && remembered.uid === uid && remembered.primary === split.primary) return remembered;
  return resumeMemory(split, uid, statusState);
}

/**
 * The `WeightsOverwritten` event when the weights found on the split (read just before the patch)
 * are not those the controller left it with (`left`, from its memory) and it writes `written`
 * over them: someone else edited them. None when it left them so (its own change) or writes
 * nothing. Only backends in both lists are compared: one added (linkerd-failover's docs add
 * backups at weight 0) or removed is a change of the backend list, no edit of a weight.
 */
export function overwrittenEvent(
  found: readonly ParsedBackend[],
  left: readonly ParsedBackend[] | undefined,
  written: readonly ParsedBackend[],
): FailoverEvent | undefined {
  if (!left || sameWeights(found, written) || (sameShared(found, left) && !addedWithWeight(found, left)))
    return undefined;
  return {
    type: 'Normal',
    reason: 'WeightsOverwritten',
    message: `weights ${weightList(found)} found, not the ones the failover controller left (${weightList(left)}): wrote ${weightList(written)}`,
  };
}

/** The same backends with the same weights, in any order. */
export function sameWeights(a: readonly ParsedBackend[], b: readonly ParsedBackend[]): boolean {
  return (
    a.length === b.length && a.every((x) => b.some((y) => y.service === x.service && y.weight === x.weight))
  );
}

/** Every backend in both lists has the same weight in both. */
function sameShared(a: readonly ParsedBackend[], b: readonly ParsedBackend[]): boolean {
  return a.every((x) => b.every((y) => y.service !== x.service || y.weight === x.weight));
}

/**
 * A backend `found` has and `left` has not, given weight: traffic sent somewhere by hand (one added
 * at weight 0, as linkerd-failover's docs add backups, is no edit of the weights).
 */
function addedWithWeight(found: readonly ParsedBackend[], left: readonly ParsedBackend[]): boolean {
  return found.some((f) => f.weight > 0 && !left.some((l) => l.service === f.service));
}

const weightList = (weights: readonly ParsedBackend[]) =>
  weights.map((b) => `${b.service}=${b.weight}`).join(', ');
