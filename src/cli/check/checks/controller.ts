/**
 * Is a mirror controller leading? The controller replicas elect a leader with the Lease
 * isthmus-system/isthmus-mirror (src/mirror/leadership.ts); a holder that stops renewing loses it
 * after leaseDurationSeconds (client-go default 15 s, src/kube/leader-election.ts). One still in
 * force whose holder's pod no longer runs is warned about (lease-holder.ts).
 */
import { MIRROR_LEASE_NAME } from '../../../mirror/leadership.js';
import type { CheckFacts, CheckResult, LeaseFacts } from '../types.js';
import { clusterNow } from './clock.js';
import { holderPodState } from './lease-holder.js';
import { resultOf, unreadable } from './result.js';

const WHAT = 'the controller is running and leader elected';
/** How other checks refer to this one. */
export const CONTROLLER_CHECK = WHAT;
const LEASE = `isthmus-system/${MIRROR_LEASE_NAME}`;
const DEFAULT_LEASE_SECONDS = 15;
const PODS = 'see `kubectl -n isthmus-system get pods -l app.kubernetes.io/name=isthmus-controller`';

export function checkController(facts: CheckFacts): CheckResult {
  const blocked = unreadable(WHAT, `Lease ${LEASE}`, facts.lease);
  if (blocked || !facts.lease.ok) return blocked!;
  const now = clusterNow(facts);
  const problem = leaderProblem(facts.lease.value, now);
  if (problem) return resultOf(WHAT, [problem]);
  const orphaned = facts.lease.value && orphanedLease(facts.lease.value, facts.controllerPods, now);
  return resultOf(WHAT, [], orphaned ? [orphaned] : []);
}

/**
 * A Lease still in force whose holder's pod is gone, terminating or not running: a warning, not a
 * failure, since it runs out on its own and a running controller takes it then. Pods that cannot
 * be listed say nothing (the deployments check says what `list pods` is needed for).
 */
function orphanedLease(lease: LeaseFacts, pods: CheckFacts['controllerPods'], now: Date): string | undefined {
  const holderPod = pods.ok ? holderPodState(lease.holder, pods.value) : undefined;
  const expiresAt = leaseExpiresAt(lease);
  if (!holderPod || expiresAt === undefined) return undefined;
  const inS = Math.ceil((expiresAt - now.getTime()) / 1000);
  return `Lease ${LEASE} is held by ${lease.holder}, whose pod ${holderPod.pod} ${holderPod.state}: no other controller can lead until the Lease runs out at ${new Date(expiresAt).toISOString()} by the API server's clock (in ${inS}s); ${PODS}`;
}

/** When the Lease runs out unless renewed (ms since the epoch); undefined when never renewed. */
function leaseExpiresAt(lease: LeaseFacts): number | undefined {
  const renewed = lease.renewTime ? Date.parse(lease.renewTime) : Number.NaN;
  if (Number.isNaN(renewed)) return undefined;
  return renewed + (lease.leaseDurationSeconds ?? DEFAULT_LEASE_SECONDS) * 1000;
}

/**
 * Why no controller leads now, or undefined while one does. Also what `isthmus gateways` asks
 * before trusting the Link status: only a leader writes it, so with none it is what the last one saw.
 */
export function leaderProblem(lease: LeaseFacts | undefined, now: Date): string | undefined {
  const lapse = leaseLapse(lease, now);
  return lapse && (lapse.consequence ? `${lapse.lease}: ${lapse.consequence}; ${PODS}` : lapse.lease);
}

/**
 * What the Lease shows when no controller leads (its age, once it has expired), and what follows
 * from it; undefined while a holder renews it. The one decision behind the controller check, the
 * checks that read the Link status the leader writes (stale-status.ts) and `isthmus gateways`.
 */
export function leaseLapse(
  lease: LeaseFacts | undefined,
  now: Date,
): { lease: string; consequence?: string } | undefined {
  if (!lease) return { lease: `no Lease ${LEASE}`, consequence: 'no controller has ever led' };
  if (!lease.holder) return { lease: `Lease ${LEASE} has no holder`, consequence: 'no controller leads' };
  const expiresAt = leaseExpiresAt(lease);
  if (expiresAt === undefined) return { lease: `Lease ${LEASE} held by ${lease.holder} was never renewed` };
  const overdueS = Math.round((now.getTime() - expiresAt) / 1000);
  if (overdueS <= 0) return undefined;
  return {
    lease: `Lease ${LEASE} held by ${lease.holder} expired ${overdueS}s ago (last renewed ${lease.renewTime})`,
    consequence: 'the leader stopped',
  };
}
