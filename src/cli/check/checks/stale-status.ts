/**
 * The Link status (its conditions, services and counts) is the leader's: only the Lease holder
 * probes and writes it (src/mirror/link-status.ts). Once no controller renews the Lease (hung,
 * crashed, scaled to 0) the status is what the last leader saw, however long ago: a check that
 * reads it says so, as a warning, instead of passing or failing on it. Not a failure: the
 * controller check fails already, and the remote is not to blame for what nobody probes.
 */
import type { CheckFacts } from '../types.js';
import { clusterNow } from './clock.js';
import { CONTROLLER_CHECK, leaseLapse } from './controller.js';

/**
 * Why the Link status cannot be trusted now (the Lease, with its age), or undefined: trust it.
 * A Lease that cannot be read says nothing against it (the controller check fails on that).
 */
export function staleLinkStatus(facts: CheckFacts): string | undefined {
  if (!facts.lease.ok) return undefined;
  return leaseLapse(facts.lease.value, clusterNow(facts))?.lease;
}

/** The hint for `what` of a Link's status, stale because of `lapse` (staleLinkStatus). */
export function staleHint(what: string, lapse: string): string {
  return `${what} is stale and cannot be trusted: ${lapse}, and only the leader writes it (see "${CONTROLLER_CHECK}")`;
}
