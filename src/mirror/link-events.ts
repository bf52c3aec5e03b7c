/**
 * The Events a Link's status change is worth, so that `kubectl describe link` and event exporters
 * show a remote gateway going dead, the remote API lost, or Services failing to mirror, as they
 * show a refused remote (link-watcher.ts records those itself, where they are decided). Pure: the
 * conditions before and after one status write in, the Events out.
 *
 * - A condition turning False, or Unknown because this cluster's gateway cannot probe, is a Warning
 *   named by its reason (`ProbeFailed`, `Unreachable`, `SomeNotMirrored`, …).
 * - One turning True again after such trouble is a Normal (`ProbeSucceeded`, `Connected`, …): the
 *   end of the trouble. Unknown → True (a new Link's first probe, a list completing) is no news.
 * - Ready is left out: its False reasons (an invalid Link, credentials, a refused remote) are
 *   recorded where they are found, with the details.
 * - A change of reason or message while False (another error text) is no new Event: the recorder's
 *   spam filter would be all that kept a flapping error text from flooding the namespace.
 */
import type { V1Condition } from '../kube/types.js';
import { REMOTE_LIST_SHRUNK } from './services-mirrored.js';

export interface LinkEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

const TRACKED = new Set(['RemoteAPIAvailable', 'GatewayAlive', 'ServicesMirrored']);
/**
 * Recorded by link-watcher.ts where it is decided: the refusal, and a hold of a shrunk list's
 * removals (deletion-hold.ts), which must be told even when ServicesMirrored was False already.
 */
const RECORDED_ELSEWHERE = new Set(['RemoteClusterMismatch', 'RemoteClusterUnconfirmed', REMOTE_LIST_SHRUNK]);

function troubled(c: Pick<V1Condition, 'status' | 'reason'>): boolean {
  return c.status === 'False' || (c.status === 'Unknown' && c.reason === 'LocalGatewayUnavailable');
}

export function linkConditionEvents(
  before: readonly V1Condition[] | undefined,
  after: readonly V1Condition[],
): LinkEvent[] {
  const old = new Map((before ?? []).map((c) => [c.type, c]));
  const events: LinkEvent[] = [];
  for (const c of after) {
    if (!TRACKED.has(c.type) || RECORDED_ELSEWHERE.has(c.reason)) continue;
    const was = old.get(c.type);
    const message = `${c.type}: ${c.message || c.reason}`;
    if (troubled(c)) {
      // New trouble, or another kind of it (this cluster's gateway back, and the remote found dead).
      if (!was || !troubled(was) || was.status !== c.status)
        events.push({ type: 'Warning', reason: c.reason, message });
    } else if (c.status === 'True' && was && troubled(was)) {
      events.push({ type: 'Normal', reason: c.reason, message });
    }
  }
  return events;
}
