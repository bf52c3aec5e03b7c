/**
 * Which TrafficSplits the controller handles, and how:
 * - `failover`: labelled `failover.linkerd.io/controlled-by=<value>` (linkerd-failover's label, so
 *   splits written for Linkerd keep working): weights are decided here, and the apex is steered.
 * - `steer`: labelled `split.isthmus.dev/steer=true`: the weights are the user's (e.g. the 50/50
 *   of a traffic-shifting lab) and are never rewritten; only the apex is steered, so callers
 *   without a mesh follow them. Every controller steers such a split alike (same weights, same
 *   slices), whatever its controlled-by value.
 * A split with both labels is a failover split, of the controller its controlled-by value names
 * alone: another controller steering it too would fight that one over weights and slices.
 */
import { FAILOVER_CONTROLLED_BY_LABEL } from '../kube/keys.js';
import type { TrafficSplit } from '../kube/types.js';
import { parseSplit } from './parse-split.js';

export const STEER_LABEL = 'split.isthmus.dev/steer';

export type SplitMode = 'failover' | 'steer';

export function splitMode(split: TrafficSplit, controlledBy: string): SplitMode | null {
  const labels = split.metadata?.labels ?? {};
  const claimedBy = labels[FAILOVER_CONTROLLED_BY_LABEL];
  if (claimedBy) return claimedBy === controlledBy ? 'failover' : null;
  if (labels[STEER_LABEL] === 'true') return 'steer';
  return null;
}

/** A steer-only split: its weights are the user's, whatever controller reads it. */
export function isSteerOnly(split: TrafficSplit): boolean {
  return splitMode(split, '') === 'steer';
}

/**
 * Whether some controller handles the split: the one its controlled-by value names (running or
 * not), or every one for a steer-only split. Only an unclaimed split's apex slices are withdrawn
 * by a controller that does not handle it: a claimed one's belong to its controller.
 */
export function isClaimed(split: TrafficSplit): boolean {
  const labels = split.metadata?.labels ?? {};
  return Boolean(labels[FAILOVER_CONTROLLED_BY_LABEL]) || labels[STEER_LABEL] === 'true';
}

/**
 * The claimed splits of `namespace` that hold apex `apex`, the one that steers it first: the oldest
 * (creationTimestamp, RFC 3339 to the second, so compared as text), then by name. Two splits'
 * apex slices would be merged by kube-proxy and their traffic mixed; every controller reads the
 * same splits, so all agree on one, whatever controlled-by value each split names.
 *
 * An Invalid split (parse-split.ts) writes no slice, so it holds the apex only while it keeps
 * slices it wrote before (`hasApexSlices`: an Invalid split's are left as they were). One without
 * them steers nothing: counted, it would be named as a rival of the split that steers, and, being
 * older, keep a valid split from steering at all.
 */
export function apexRivals(
  splits: readonly TrafficSplit[],
  namespace: string,
  apex: string,
  hasApexSlices: (split: TrafficSplit) => boolean = () => false,
): TrafficSplit[] {
  const created = (s: TrafficSplit) => String(s.metadata?.creationTimestamp ?? '');
  const name = (s: TrafficSplit) => s.metadata?.name ?? '';
  return splits
    .filter((s) => s.metadata?.namespace === namespace && s.spec?.service === apex && isClaimed(s))
    .filter((s) => parseSplit(s).ok || hasApexSlices(s))
    .sort((a, b) => byCodeUnits(created(a), created(b)) || byCodeUnits(name(a), name(b)));
}

/** Not localeCompare: every controller, whatever its locale, must pick the same split. */
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
