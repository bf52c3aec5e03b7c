/**
 * Removing every mirror of one cluster (with its per-pod mirrors and slices, and giving back its
 * egress ports): for a deleted Link, a Link retargeted to another cluster, and mirrors of a
 * cluster no Link targets any more. Needs no remote: the local caches say what is ours.
 */
import type { Link } from '../kube/types.js';
import { NO_DIRECT_ENDPOINTS } from './direct-endpoints.js';
import { type LinkConfig, parseLinkSpec } from './link-config.js';
import { mirroredKeys, NO_REMOTE_ENDPOINTS, removeMirrors, type SyncContext } from './mirror-sync.js';
import type { SharedLocal } from './shared.js';

export async function removeClusterMirrors(shared: SharedLocal, config: LinkConfig): Promise<void> {
  const ctx: SyncContext = {
    config,
    shared,
    // No remote view: nothing here plans a mirror, it only deletes ours.
    remoteSynced: () => false,
    remoteService: () => undefined,
    remoteEndpoints: () => NO_REMOTE_ENDPOINTS,
    directEndpoints: () => NO_DIRECT_ENDPOINTS,
    gateway: () => ({ alive: 'unknown', addresses: [], remote: '' }),
  };
  for (const key of mirroredKeys(ctx)) {
    const [ns = '', name = ''] = key.split('/');
    await removeMirrors(ctx, ns, name);
  }
  shared.metrics.mirroredServices.remove({ target_cluster_name: config.clusterName });
}

/** How many remote Services have a mirror of ours of this cluster here (as `mirroredKeys` counts). */
export function clusterMirrorCount(shared: SharedLocal, config: LinkConfig): number {
  return mirroredKeys({ shared, config }).length;
}

/**
 * Clean-up needs only the cluster name: a Link made invalid by an edit still had mirrors, and its
 * deletion must remove them; mirrors no Link targets have no Link at all. Other fields get
 * harmless placeholders. undefined: not a cluster name any mirror can carry.
 */
export function cleanupConfig(namespace: string, name: string, cluster: unknown): LinkConfig | undefined {
  const link = {
    metadata: { namespace, name },
    spec: { targetClusterName: cluster, clusterCredentialsSecret: '-' },
  } as Link;
  const parsed = parseLinkSpec(link);
  return parsed.ok ? parsed.config : undefined;
}
