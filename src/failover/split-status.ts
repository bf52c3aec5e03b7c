/**
 * The status the failover controller writes on a TrafficSplit (the CRD has a status subresource
 * and keeps unknown status fields). Pure: outcome in, desired status out, plus whether it differs
 * from the current one in a field we own, so the controller writes only on change
 * (STYLE.md §5) and `lastTransitionTime` moves only when a condition's status flips
 * (Kubernetes API conventions, "Typical status properties").
 */
import { FAILOVER_RESTORE_AFTER_ANNOTATION } from '../kube/keys.js';
import type { TrafficSplit, V1Condition, V1Service } from '../kube/types.js';
import { apexSkipReason } from './apex-skip-reason.js';
import type { BackendShare } from './choose-counts.js';
import type { FailoverState } from './decide-weights.js';
import type { ParsedSplit } from './parse-split.js';
import type { SplitMode } from './split-selection.js';

/**
 * Condition types, all with `observedGeneration`:
 * - `Accepted`: the split can be acted on. False reasons: the parse reasons of parse-split.ts.
 * - `ResolvedRefs`: every backend names an existing Service. False reasons `InvalidBackend` (a name
 *   no Service can have, e.g. `other/cart-west`) and `BackendNotFound` (backend-refs.ts); such
 *   backends count as having no ready endpoint, the others keep working.
 * - `Available`: some backend has a ready endpoint. True reasons `Primary`, `Fallback`, `Weighted`
 *   (a steer-only split); False reasons `NothingReady` (no backend, for a steer-only split no
 *   weighted backend, has a ready endpoint; weights left as they were) and `NoWeight` (a steer-only
 *   split whose weights are all 0: it sends traffic nowhere, however ready its backends).
 * - `Steered`: the apex's EndpointSlices follow the weights, for callers without a mesh. True
 *   reason `Steered` (message: the shares kube-proxy will give, and the worst error against the
 *   weights); False reasons `ApexHasNoPorts`, `PortMismatch` (a backend has no port of the apex, or not
 *   every one of them), `FamilyMismatch` (a backend has no endpoint of an IP family the apex serves), `ApexNotFound` (no
 *   Service named like `spec.service`), `ExternalNameApex` / `HeadlessApex` / `InternalTrafficPolicyLocal` (callers of
 *   such an apex never reach slices Isthmus writes: apex-skip-reason.ts), `ApexConflict` (an older
 *   split has the same apex and steers it: split-selection.ts, apexRivals), `NotOwned` (an
 *   EndpointSlice of that name is not Isthmus's).
 * - `RestoreAfter`: only on a failover split with `failover.isthmus.dev/restore-after` set (not
 *   `0`): restoreAfterCondition. True reason `RestoreAfter` (the wait in force; on an apex with a
 *   selector, the message adds that it holds callers in a mesh only); False reason
 *   `InvalidRestoreAfter` (no duration: ignored, the split fails over without the wait).
 */
export type ConditionType = 'Accepted' | 'ResolvedRefs' | 'Available' | 'Steered' | 'RestoreAfter';

/** `status.state`: a failover state, a steer-only split's (`Weighted`, `NoWeight`), or `Invalid`. */
export type SplitState = FailoverState | 'Weighted' | 'NoWeight' | 'Invalid';

export interface ConditionInput {
  status: boolean;
  reason: string;
  message: string;
}

/** The status fields Isthmus owns on a TrafficSplit. */
export interface SplitStatus {
  observedGeneration?: number;
  /** `Primary`, `Fallback`, `NothingReady`, `Weighted` / `NoWeight` (steer-only) or `Invalid`. */
  state?: string;
  activeBackends?: string[];
  /** How the apex's endpoints are spread (desired vs what kube-proxy will do). */
  apexShares?: { service: string; endpoints: number; desiredPercent: number; achievedPercent: number }[];
  conditions?: V1Condition[];
}

export interface SplitOutcome {
  generation?: number;
  state: SplitState;
  activeBackends: string[];
  conditions: Partial<Record<ConditionType, ConditionInput>>;
  shares?: readonly BackendShare[];
}

/**
 * Backends without weight that callers without a mesh still reach, while the split is available:
 * those the apex's endpoints give a share (`status.apexShares`). An apex with a selector that is
 * itself a backend lists its own ready pods whatever their weight (the EndpointSlice controller
 * writes them), as while a restore-after wait holds the weights on the backups, or while every
 * weight is 0 (NoWeight: Isthmus lists nothing, the apex's own endpoints still serve). In
 * NothingReady none, as no weighted backend is listed there either.
 */
export function reachedWithoutWeight(
  state: Exclude<SplitState, 'Invalid'>,
  weighted: readonly string[],
  shares: readonly BackendShare[] | undefined,
): string[] {
  if (state === 'NothingReady') return [];
  return (shares ?? []).filter((s) => s.achieved > 0 && !weighted.includes(s.service)).map((s) => s.service);
}

/** The `Available` condition of a valid split: where its traffic goes, or why nowhere. */
export function availableCondition(
  mode: SplitMode,
  state: Exclude<SplitState, 'Invalid'>,
  /** The backends with weight and a ready endpoint. */
  activeBackends: readonly string[],
  /** reachedWithoutWeight: the backends callers without a mesh reach besides. */
  apexOnly: readonly string[] = [],
): ConditionInput {
  if (state === 'NoWeight') {
    // Isthmus lists nothing on the apex then, so kube-proxy serves it from its own (selector) slices.
    const unmeshed = apexOnly.length
      ? `callers without a mesh are not steered: the apex's own endpoints serve them (${apexOnly.join(', ')})`
      : "callers without a mesh are not steered and reach only the apex's own endpoints, of which none is ready";
    return {
      status: false,
      reason: 'NoWeight',
      message: `every backend has weight 0: the weights send callers in a mesh to none of them; ${unmeshed}`,
    };
  }
  if (state === 'NothingReady')
    return {
      status: false,
      reason: 'NothingReady',
      message:
        mode === 'steer'
          ? 'no backend with weight has a ready endpoint'
          : 'no backend has a ready endpoint; weights left as they were',
    };
  const unmeshed = apexOnly.length
    ? `; callers without a mesh also reach ${apexOnly.join(', ')} through the apex's own endpoints (its selector), whatever the weights`
    : '';
  return { status: true, reason: state, message: `traffic on ${activeBackends.join(', ')}${unmeshed}` };
}

/**
 * `Steered=False` reasons for which no caller reaches a backend through the split, in a mesh or
 * not: its apex does not exist (no name to call), or another split steers it (ApexConflict).
 * Other Steered=False reasons leave callers in a mesh following the weights.
 */
export const APEX_LOST_REASONS: readonly string[] = ['ApexNotFound', 'ApexConflict'];

/**
 * What `isthmus status` shows instead of a mode for a split whose mode is not where its callers'
 * traffic goes: the reason it is refused (`Accepted=False`), its apex lost (APEX_LOST_REASONS) or
 * every weight 0 (`NoWeight`); undefined while the mode tells the truth. A missing backend is no
 * such reason: the others still serve (`ResolvedRefs=False`, which `isthmus check` warns of).
 */
export function shownReason(
  conditions: readonly { type: string; status: boolean; reason?: string }[],
): string | undefined {
  const falseReason = (type: ConditionType) => conditions.find((c) => c.type === type && !c.status)?.reason;
  const refused = falseReason('Accepted');
  if (refused) return refused;
  const steered = falseReason('Steered');
  if (steered && APEX_LOST_REASONS.includes(steered)) return steered;
  return falseReason('Available') === 'NoWeight' ? 'NoWeight' : undefined;
}

/**
 * Where an Invalid split's traffic goes: it is not acted on, so the weights as written send callers
 * in a mesh to the weighted backends with a ready endpoint (the slices it kept list those for callers
 * without one), and the apex's own endpoints, when the apex is a backend, serve its callers
 * without a mesh whatever the weights. None when the apex does not exist.
 */
export function invalidSplitTraffic(
  apex: string,
  apexExists: boolean,
  backends: readonly { service: string; weight: number }[],
  readyOf: (service: string) => number,
): string[] {
  if (!apexExists) return [];
  const reached = backends.filter((b) => (b.weight > 0 || b.service === apex) && readyOf(b.service) > 0);
  return [...new Set(reached.map((b) => b.service))];
}

/**
 * The `RestoreAfter` condition of a failover split, none without the annotation (or with `0`).
 * Its caveat: with a selector on the apex, the EndpointSlice controller lists the selected pods
 * (the primary's, when the apex is the primary Service) in the apex's own slice as soon as they
 * are ready, beside the backups Isthmus lists until the wait ends, so callers without a mesh
 * reach them early; on a selector-less apex Isthmus lists every endpoint and holds them too. An
 * apex Isthmus does not steer (apexSkipReason) has its own `Steered=False`, and no caveat here.
 */
export function restoreAfterCondition(
  split: ParsedSplit,
  apex: V1Service | undefined,
): ConditionInput | undefined {
  if (split.restoreAfterInvalid !== undefined) {
    return {
      status: false,
      reason: 'InvalidRestoreAfter',
      message:
        `${FAILOVER_RESTORE_AFTER_ANNOTATION}: ${JSON.stringify(split.restoreAfterInvalid)} is not a duration ` +
        `(such as 30s or 1m30s): ignored, so traffic returns to primary ${split.primary} as soon as it ` +
        `is ready; failover itself is unaffected`,
    };
  }
  if (split.restoreAfterMs === 0) return undefined;
  const wait = `traffic returns to primary ${split.primary} once it has been ready for ${split.restoreAfterMs / 1000}s`;
  const selects = Object.keys(apex?.spec?.selector ?? {}).length > 0;
  if (!apex || !selects || apexSkipReason(apex))
    return { status: true, reason: 'RestoreAfter', message: wait };
  return {
    status: true,
    reason: 'RestoreAfter',
    message:
      `${wait}; for callers in a mesh only: apex Service ${apex.metadata?.name ?? ''} has a selector, so ` +
      `the EndpointSlice controller lists the pods it selects as soon as they are ready and callers ` +
      `without a mesh reach them before the wait ends (an apex without a selector holds them too)`,
  };
}

const percent = (x: number) => Math.round(x * 1000) / 10;

export function sharesMessage(shares: readonly BackendShare[], maxError: number): string {
  const listed = shares.filter((s) => s.endpoints > 0 || s.desired > 0);
  const parts = listed.map(
    (s) => `${s.service} ${s.endpoints} endpoint(s) ${percent(s.achieved)}% (weight ${percent(s.desired)}%)`,
  );
  return `${parts.join(', ') || 'no endpoints'}; max share error ${percent(maxError)}%`;
}

export function desiredStatus(
  current: TrafficSplit['status'] | undefined,
  outcome: SplitOutcome,
  now: Date,
): { status: SplitStatus; changed: boolean } {
  const currentStatus = (current ?? {}) as SplitStatus;
  const previous = currentStatus.conditions ?? [];
  const conditions: V1Condition[] = [];
  for (const [type, input] of Object.entries(outcome.conditions) as [ConditionType, ConditionInput][]) {
    const status = input.status ? 'True' : 'False';
    const old = previous.find((c) => c.type === type);
    const condition: V1Condition = {
      type,
      status,
      reason: input.reason,
      message: input.message,
      // metav1.Time is RFC 3339 to the second; the wire carries a string, whatever the type says.
      lastTransitionTime: (old && old.status === status
        ? old.lastTransitionTime
        : now.toISOString().replace(/\.\d+Z$/, 'Z')) as unknown as Date,
    };
    if (outcome.generation !== undefined) condition.observedGeneration = outcome.generation;
    conditions.push(condition);
  }
  const status: SplitStatus = {
    state: outcome.state,
    activeBackends: outcome.activeBackends,
    conditions,
  };
  if (outcome.generation !== undefined) status.observedGeneration = outcome.generation;
  // Always written (empty when not steered) so a stale spread never outlives its cause.
  status.apexShares = (outcome.shares ?? [])
    .filter((s) => s.endpoints > 0 || s.desired > 0)
    .map((s) => ({
      service: s.service,
      endpoints: s.endpoints,
      desiredPercent: percent(s.desired),
      achievedPercent: percent(s.achieved),
    }));
  return { status, changed: !sameStatus(currentStatus, status) };
}

const CONDITION_TYPES: readonly string[] = [
  'Accepted',
  'ResolvedRefs',
  'Available',
  'Steered',
  'RestoreAfter',
] satisfies ConditionType[];

/**
 * The status without the fields Isthmus writes (SplitStatus: state, activeBackends, apexShares,
 * observedGeneration and the conditions of the types above), for a split no controller handles
 * any more: what Isthmus said of it stops being true the moment it stops acting on it (a
 * `Fallback` kept for ever, say). `changed`: the status is one Isthmus wrote, told by `state`,
 * `activeBackends` or `apexShares` (no one else's: SMI defines no status), and so is cleared; a
 * status without them is another writer's and kept whole, generic condition types included, as
 * are other writers' fields beside ours.
 */
export function clearedStatus(current: TrafficSplit['status'] | undefined): {
  status: NonNullable<TrafficSplit['status']>;
  changed: boolean;
} {
  const all = (current ?? {}) as SplitStatus & Record<string, unknown>;
  const { state, activeBackends, apexShares, observedGeneration, conditions, ...rest } = all;
  if (state === undefined && activeBackends === undefined && apexShares === undefined)
    return { status: all, changed: false };
  const theirs = (conditions ?? []).filter((c) => !CONDITION_TYPES.includes(c.type));
  return { status: theirs.length > 0 ? { ...rest, conditions: theirs } : rest, changed: true };
}

function sameStatus(a: SplitStatus, b: SplitStatus): boolean {
  const strip = (s: SplitStatus) => ({
    observedGeneration: s.observedGeneration,
    state: s.state,
    activeBackends: s.activeBackends ?? [],
    apexShares: s.apexShares ?? [],
    conditions: (s.conditions ?? []).map((c) => [
      c.type,
      c.status,
      c.reason,
      c.message,
      c.observedGeneration,
    ]),
  });
  return JSON.stringify(strip(a)) === JSON.stringify(strip(b));
}
