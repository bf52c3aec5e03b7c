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
    identity: `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
    ...opts,
    onStartedLeading: () => leadership.set(true),
    onStoppedLeading: () => leadership.set(false),
  });
  elector.start();
  return { leadership, elector };
}
