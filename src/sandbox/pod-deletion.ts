/**
 * Graceful deletion, which kube-apiserver does for Pods alone (the only strategy implementing
 * RESTGracefulDeleteStrategy among the kinds served here): k8s.io/apiserver `registry/rest/delete.go`
 * BeforeDelete with `pkg/registry/core/pod/strategy.go` CheckGracefulDelete. A Pod on a node gets a
 * deletionTimestamp `grace` seconds ahead and stays, Terminating, until its kubelet has stopped the
 * containers and deletes it again with grace 0.
 */
import type { KObj } from './store.js';

/**
 * What one DELETE does to a Pod:
 * - `graceful`: write this deletionTimestamp and grace (a first delete, or a shorter grace); a grace
 *   of 0 removes it unless finalizers hold it;
 * - `pending`: already terminating and no shorter grace asked for: nothing changes;
 * - `now`: already terminating with no grace left: remove it (finalizers still hold it).
 */
export type DeletionStep =
  | { kind: 'graceful'; deletionTimestamp: string; grace: number }
  | { kind: 'pending' }
  | { kind: 'now' };

/** Default of `spec.terminationGracePeriodSeconds` (SetDefaults_PodSpec). */
const DEFAULT_GRACE_SECONDS = 30;

function kubeTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** BeforeDelete: negative values are treated as 1 s on the delete path. */
function atLeastOne(seconds: number): number {
  return seconds < 0 ? 1 : seconds;
}

/**
 * CheckGracefulDelete: the request's grace, else the pod's own; 0 for a pod no kubelet runs (not
 * scheduled) or whose containers have all finished.
 */
export function podGracePeriod(pod: KObj, requested: number | undefined): number {
  const spec = pod.spec as { nodeName?: string; terminationGracePeriodSeconds?: number } | undefined;
  const phase = (pod.status as { phase?: string } | undefined)?.phase;
  if (!spec?.nodeName || phase === 'Succeeded' || phase === 'Failed') return 0;
  return atLeastOne(requested ?? spec.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS);
}

export function deletionStep(pod: KObj, requested: number | undefined, now: Date): DeletionStep {
  const asked = requested === undefined ? undefined : atLeastOne(requested);
  const m = pod.metadata;
  if (!m.deletionTimestamp) {
    const grace = podGracePeriod(pod, asked);
    return { kind: 'graceful', deletionTimestamp: kubeTime(now.getTime() + grace * 1000), grace };
  }
  const current = m.deletionGracePeriodSeconds === undefined ? 0 : atLeastOne(m.deletionGracePeriodSeconds);
  if (current === 0) return { kind: 'now' };
  // Only a shorter grace may be asked for; the deadline moves by the difference.
  if (asked === undefined || asked >= current) return { kind: 'pending' };
  const deadline = Date.parse(m.deletionTimestamp) + (asked - current) * 1000;
  return { kind: 'graceful', deletionTimestamp: kubeTime(deadline), grace: asked };
}

/** Pods are the one kind deleted gracefully. */
export function deletesGracefully(group: string, plural: string): boolean {
  return group === '' && plural === 'pods';
}
