/**
 * Which TrafficSplits the controller handles, and how:
 * - `failover`: labelled `failover.linkerd.io/controlled-by=<value>` (linkerd-failover's label, so
 *   splits written for Linkerd keep working): weights are decided here, and the apex is steered.
 * - `steer`: labelled `split.isthmus.dev/steer=true`: the weights are the user's (e.g. the 50/50
 *   of a traffic-shifting lab) and are never rewritten; only the apex is steered, so callers
 *   without a mesh follow them.
 * A split with both labels is a failover split.
 */
import { FAILOVER_CONTROLLED_BY_LABEL } from '../kube/keys.js';
import type { TrafficSplit } from '../kube/types.js';

export const STEER_LABEL = 'split.isthmus.dev/steer';

export type SplitMode = 'failover' | 'steer';

export function splitMode(split: TrafficSplit, controlledBy: string): SplitMode | null {
  const labels = split.metadata?.labels ?? {};
  if (labels[FAILOVER_CONTROLLED_BY_LABEL] === controlledBy) return 'failover';
  if (labels[STEER_LABEL] === 'true') return 'steer';
  return null;
}
