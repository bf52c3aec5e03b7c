/**
 * Wires the Lease-based LeaderElector of src/kube to a Leadership: two replicas run, only the one
 * holding the Lease writes (followers keep their caches and probes warm, so a takeover is quick).
 */
import { hostname } from 'node:os';
import type { KubeClient } from '../kube/client.js';
import { SYSTEM_NAMESPACE } from '../kube/keys.js';
import { type LeaderElectionConfig, LeaderElector } from '../kube/leader-election.js';
import { Leadership } from './shared.js';

export const MIRROR_LEASE_NAME = 'isthmus-mirror';

export function electLeader(
  client: KubeClient,
  opts: Partial<Omit<LeaderElectionConfig, 'onStartedLeading' | 'onStoppedLeading'>> = {},
): { leadership: Leadership; elector: LeaderElector } {
  const leadership = new Leadership(false);
  const elector = new LeaderElector(client, {
    namespace: SYSTEM_NAMESPACE,
    name: MIRROR_LEASE_NAME,
    identity: leaseHolderIdentity(process.env, hostname(), Math.random().toString(36).slice(2, 8)),
    ...opts,
    onStartedLeading: () => leadership.set(true),
    onStoppedLeading: () => leadership.set(false),
  });
  elector.start();
  return { leadership, elector };
}

/**
 * Who holds the Lease, as client-go's leader election names it: the pod (`POD_NAME` from the
 * install's downward API, else the hostname, which is the pod's name unless the pod sets one) and a
 * suffix unique to this run, so a restarted container is a new holder and not its own ghost.
 * `isthmus check` prints it: the name says which pod leads.
 */
export function leaseHolderIdentity(env: NodeJS.ProcessEnv, host: string, suffix: string): string {
  return `${env.POD_NAME || host}_${suffix}`;
}
