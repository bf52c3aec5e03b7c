/**
 * Is a mirror controller leading? The controller replicas elect a leader with the Lease
 * isthmus-system/isthmus-mirror (src/mirror/leadership.ts); a holder that stops renewing loses it
 * after leaseDurationSeconds (client-go default 15 s, src/kube/leader-election.ts).
 */
import { MIRROR_LEASE_NAME } from '../../../mirror/leadership.js';
import type { CheckFacts, CheckResult, LeaseFacts } from '../types.js';
import { resultOf, unreadable } from './result.js';

const WHAT = 'the controller is running and leader elected';
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
  if (!lease) return `no Lease ${LEASE}: no controller has ever led; ${PODS}`;
  if (!lease.holder) return `Lease ${LEASE} has no holder: no controller leads; ${PODS}`;
  const renewed = lease.renewTime ? Date.parse(lease.renewTime) : Number.NaN;
  if (Number.isNaN(renewed)) return `Lease ${LEASE} held by ${lease.holder} was never renewed`;
  const expiresAt = renewed + (lease.leaseDurationSeconds ?? DEFAULT_LEASE_SECONDS) * 1000;
  const overdueS = Math.round((now.getTime() - expiresAt) / 1000);
  if (overdueS > 0) {
    return `Lease ${LEASE} held by ${lease.holder} expired ${overdueS}s ago (last renewed ${lease.renewTime}): the leader stopped; ${PODS}`;
  }
  return undefined;
}
