/**
 * Federated services (src/federation): each should be served by at least one member cluster. A
 * member without a ready endpoint is a warning (its pods are gone, or the gateway of its cluster
 * does not answer: `isthmus gateways`), a federated Service that nobody serves is a failure. A
 * member an affinity holds on standby is ready, so no warning; the controller says which are
 * (servingLabel), as the slices alone look the same for both.
 */
import { NO_READY_ENDPOINT, servingLabel } from '../federated-view.js';
import type { CheckFacts, CheckResult } from '../types.js';
import { resultOf, unreadable } from './result.js';

const SERVED = 'every federated service is served';

export function checkFederated(facts: CheckFacts): CheckResult {
  const blocked = unreadable(SERVED, 'federated Services', facts.federated);
  if (blocked || !facts.federated.ok) return blocked!;
  const failures: string[] = [];
  const warnings: string[] = [];
  for (const row of facts.federated.value) {
    const name = `${row.namespace}/${row.service}`;
    const idle = row.members.filter((m) => servingLabel(row, m) === NO_READY_ENDPOINT);
    if (row.members.every((m) => !(row.serving[m] ?? 0))) {
      failures.push(
        `${name}: no member cluster has a ready endpoint (members: ${row.members.join(', ') || 'none'})`,
      );
    } else {
      for (const m of idle) {
        warnings.push(
          `${name}: member ${m} has no ready endpoint: its pods are not ready, its ports are named otherwise than ${name}'s (an event on ${name} says so), or its gateway does not answer (isthmus gateways)`,
        );
      }
    }
  }
  return resultOf(SERVED, failures, warnings);
}
