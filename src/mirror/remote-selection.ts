/**
 * Which remote Services a Link's selectors pick, and how each is mirrored (pure), and the watch of
 * the remote Services one selector picks (remote-cluster.ts runs one per selector).
 */
import type { BackoffPolicy } from '../kube/backoff.js';
import type { KubeClient } from '../kube/client.js';
import { createInformer, type Informer } from '../kube/informer.js';
import { R } from '../kube/resources.js';
import type { V1LabelSelector, V1Service } from '../kube/types.js';
import { trimRemoteService } from './cache-trim.js';
import { type LinkConfig, selectorMatches, selectorToQuery } from './link-config.js';
import type { RemoteService } from './mirror-sync.js';

/**
 * Whether one of the Link's selectors picks a remote Service, and how it is mirrored. Exported
 * Services and federated members go through the gateways even when the remote-discovery selector
 * picks them too: the tunnel is the mode that needs no flat network. On a Link without a gateway,
 * federated members are mirrored in remote-discovery mode.
 */
export function classify(service: V1Service, config: LinkConfig): RemoteService | undefined {
  const labels = service.metadata?.labels;
  if (selectorMatches(config.selector, labels)) return { service, mode: 'gateway' };
  if (selectorMatches(config.federatedServiceSelector, labels))
    return { service, mode: config.hasGateway ? 'gateway' : 'remote-discovery' };
  if (selectorMatches(config.remoteDiscoverySelector, labels)) return { service, mode: 'remote-discovery' };
  return undefined;
}

/** An empty selector selects nothing: no watch at all, an always-empty (complete) list. */
export function serviceInformer(
  client: KubeClient,
  selector: V1LabelSelector | null,
  opts: { backoff?: BackoffPolicy },
): Informer<V1Service> | undefined {
  if (!selector) return undefined;
  return createInformer<V1Service>(client, R.services, {
    labelSelector: selectorToQuery(selector),
    transform: trimRemoteService,
    ...opts,
  });
}

export function keyOf(svc: V1Service): string {
  return `${svc.metadata?.namespace ?? ''}/${svc.metadata?.name ?? ''}`;
}
