/**
 * Which mirror a headless remote Service gets under a Link with `mirrorHeadless` (pure; mirror-sync.ts
 * asks before it plans). A headless mirror resolves to its per-pod mirrors, one per pod with a
 * hostname, so it serves nothing when the pods have none (a Deployment behind a headless Service
 * for client-side gRPC balancing): such a Service is mirrored through the gateway like any other,
 * as Linkerd's `shouldExportAsHeadlessService` decides (cluster_watcher_headless.go).
 *
 * Linkerd decides once, when it creates the mirror. Here the kind follows the pods whenever they
 * say something, since a mirror stuck with the wrong kind serves nothing (headless, no named pod)
 * or hides the per-pod names its callers were promised (StatefulSet pods under a mirror made while
 * the pods were not listed yet). Named and unnamed pods do not alternate: a pod's hostname is set
 * by its workload, so a change of kind means the workload changed. With no endpoint at all (scaled
 * to zero, or the slices not listed yet) nothing says which, and the mirror keeps its kind: a
 * ClusterIP mirror keeps its cluster IP, which a change of kind would replace (clusterIP is
 * immutable: delete and create). A new one is headless then, the remote's own kind, which has no
 * cluster IP for callers to hold on to when unnamed pods make it an ordinary mirror.
 */
import { HEADLESS_MIRROR_LABEL } from '../kube/keys.js';
import type { V1Service } from '../kube/types.js';
import type { LinkConfig } from './link-config.js';
import { isHeadless, isOurService } from './mirror-objects.js';

/** A remote Service's endpoints, ready or not: how many, and whether one has a hostname. */
export interface EndpointNames {
  total: number;
  named: boolean;
}

/**
 * Whether `remote` gets a headless parent with per-pod mirrors (else an ordinary mirror through
 * the gateway). `stored`: what holds the mirror's name locally; only our own parent or ordinary
 * mirror says which kind to keep.
 */
export function mirrorsAsHeadless(
  remote: V1Service,
  link: Pick<LinkConfig, 'mirrorHeadless' | 'clusterName'>,
  endpoints: EndpointNames,
  stored: V1Service | undefined,
): boolean {
  if (!link.mirrorHeadless || !isHeadless(remote)) return false;
  if (endpoints.named) return true;
  if (endpoints.total > 0) return false;
  const ours =
    isOurService(stored, link.clusterName) && stored?.metadata?.labels?.[HEADLESS_MIRROR_LABEL] === undefined;
  return !ours || isHeadless(stored as V1Service);
}
