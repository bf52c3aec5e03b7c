/**
 * TrafficSplits the failover controller acts on (src/failover), from the status it writes on each:
 * one it refuses (`Accepted=False`) or whose backends have no ready endpoint (`Available=False`)
 * fails, since its callers get nothing; a backend that names no Service, callers without a mesh
 * left unsteered, a restore-after it ignored (`RestoreAfter=False`: no duration, so it fails over
 * without the wait) or a change the controller has not acted on yet warn. `isthmus status` shows
 * Primary or Fallback for a split with a missing backend, which is why the check says so. A split
 * refused says where traffic still goes (`status.activeBackends`); a namespaced backend
 * (`InvalidBackend`) is a fix in the split, not a link to check. Next to a TrafficSplit CRD without
 * a status subresource (Linkerd's SMI extension's) no split has a status to read: one warning says
 * so and where their state is seen instead, rather than one per split blaming the controller.
 * A split that linkerd-failover steers, or would, with an Isthmus mirror among its backends is
 * judged here too (linkerd-leftovers.ts): linkerd-failover counts such a mirror never ready.
 */
import { APEX_LOST_REASONS } from '../../../failover/split-status.js';
import type { TrafficSplit, V1Condition } from '../../../kube/types.js';
import type { CheckFacts, CheckResult } from '../types.js';
import { linkerdFailoverProblems } from './linkerd-leftovers.js';
import { resultOf, unreadable } from './result.js';

const WHAT = 'every failover TrafficSplit has a backend to send traffic to';

const STATUSLESS =
  "the TrafficSplit CRD trafficsplits.split.smi-spec.io has no status subresource (Linkerd's SMI extension's, kept with `install --no-traffic-split-crd`): the failover controller acts on the splits but writes no status, so this check cannot see their state; see the TrafficSplit events (Failover, NothingReady, WeightsOverwritten), isthmus_failover_active and `isthmus status`";

export function checkTrafficSplits(facts: CheckFacts): CheckResult {
  const blocked = unreadable(WHAT, 'TrafficSplits', facts.trafficSplits);
  if (blocked || !facts.trafficSplits.ok) return blocked!;
  const failures: string[] = [];
  const warnings: string[] = [];
  // Unread or unknown: as if it had one (the splits' own status says the rest).
  const statusless =
    facts.trafficSplitStatusSubresource?.ok === true && facts.trafficSplitStatusSubresource.value === false;
  if (statusless && facts.trafficSplits.value.length > 0) warnings.push(STATUSLESS);
  for (const split of facts.trafficSplits.value) {
    const name = `TrafficSplit ${split.metadata?.namespace}/${split.metadata?.name}`;
    const conditions = split.status?.conditions ?? [];
    const get = (type: string): V1Condition | undefined => conditions.find((c) => c.type === type);
    const isFalse = (c: V1Condition | undefined): c is V1Condition => c?.status === 'False';
    if (conditions.length === 0) {
      if (statusless) continue;
      warnings.push(
        `${name}: no status yet: no failover controller has acted on it (is one leading? see the controller check)`,
      );
      continue;
    }
    const accepted = get('Accepted');
    if (isFalse(accepted)) {
      // Not acted on is not "no traffic": what it left (weights, slices) and the apex's own pods serve.
      const active = split.status?.activeBackends ?? [];
      const traffic = active.length
        ? `its traffic goes to ${active.join(', ')}`
        : 'its traffic reaches no backend';
      failures.push(
        `${name}: not acted on (${accepted.reason}): ${accepted.message}; the weights and any apex EndpointSlices it wrote stay as they are, and ${traffic}`,
      );
      continue;
    }
    const available = get('Available');
    if (isFalse(available)) failures.push(`${name}: ${available.reason}: ${available.message}`);
    const resolved = get('ResolvedRefs');
    // A name that can be no Service's: the fix is in the split, not in a link.
    if (isFalse(resolved) && resolved.reason === 'InvalidBackend')
      warnings.push(`${name}: ${resolved.reason}: ${resolved.message}`);
    else if (isFalse(resolved)) {
      warnings.push(
        `${name}: ${resolved.message}: a remote backend is a mirror, <service>-<cluster>; is that cluster linked (isthmus gateways), and its Service exported to this one (mirror.linkerd.io/exported, isthmus.dev/allowed-clusters)?`,
      );
    }
    const steered = get('Steered');
    // No apex, or another split's: callers in a mesh are not steered through it either.
    if (isFalse(steered) && APEX_LOST_REASONS.includes(steered.reason ?? ''))
      warnings.push(`${name}: steers no caller (${steered.reason}): ${steered.message}`);
    else if (isFalse(steered)) {
      warnings.push(
        `${name}: callers without a mesh are not steered (${steered.reason}): ${steered.message}`,
      );
    }
    // An Isthmus-only knob the controller ignored (InvalidRestoreAfter): failover works, without it.
    const restoreAfter = get('RestoreAfter');
    if (isFalse(restoreAfter)) warnings.push(`${name}: ${restoreAfter.reason}: ${restoreAfter.message}`);
    // No status is written there: any status found is no controller's to fall behind.
    if (!statusless && stale(split)) {
      warnings.push(
        `${name}: the controller has not acted on its latest change yet (generation ${split.metadata?.generation}, status of ${split.status?.observedGeneration ?? 'none'})`,
      );
    }
  }
  const leftToLinkerd = linkerdFailoverProblems(facts);
  return resultOf(WHAT, [...failures, ...leftToLinkerd.failures], [...warnings, ...leftToLinkerd.warnings]);
}

function stale(split: TrafficSplit): boolean {
  const generation = split.metadata?.generation;
  const observed = split.status?.observedGeneration;
  return generation !== undefined && observed !== undefined && observed < generation;
}
