/**
 * Is a mirror controller leading? The controller replicas elect a leader with the Lease
 * isthmus-system/isthmus-mirror (src/mirror/leadership.ts); a holder that stops renewing loses it
 * after leaseDurationSeconds (client-go default 15 s, src/kube/leader-election.ts).
 */
import { MIRROR_LEASE_NAME } from '../../../mirror/leadership.js';
import type { CheckFacts, CheckResult, LeaseFacts } from '../types.js';
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
  const problem = leaderProblem(facts.lease.value, facts.apiNow ?? facts.now);
  return resultOf(WHAT, problem ? [problem] : []);
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
  const renewed = lease.renewTime ? Date.parse(lease.renewTime) : Number.NaN;
  if (Number.isNaN(renewed)) return { lease: `Lease ${LEASE} held by ${lease.holder} was never renewed` };
  const expiresAt = renewed + (lease.leaseDurationSeconds ?? DEFAULT_LEASE_SECONDS) * 1000;
  const overdueS = Math.round((now.getTime() - expiresAt) / 1000);
  if (overdueS <= 0) return undefined;
  return {
    lease: `Lease ${LEASE} held by ${lease.holder} expired ${overdueS}s ago (last renewed ${lease.renewTime})`,
    consequence: 'the leader stopped',
  };
}
