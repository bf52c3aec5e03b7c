/**
 * Wires the Lease-based LeaderElector of src/kube to a Leadership: two replicas run, only the one
 * holding the Lease writes (followers keep their caches and probes warm, so a takeover is quick).
 */
import { hostname } from 'node:os';
import type { KubeClient } from '../kube/client.js';
import { SYSTEM_NAMESPACE } from '../kube/keys.js';
import { type LeaderElectionConfig, LeaderElector } from '../kube/leader-election.js';
import { Leadership, type LeadershipChange } from './shared.js';

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
    ...ownPodPrefix(process.env),
    ...opts,
    onStartedLeading: (why) => leadership.set(true, why),
    onStoppedLeading: (why) => leadership.set(false, why),
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

/**
 * The holder prefix of this pod's runs, from `POD_NAME` only (the install sets it from the downward
 * API): a restarted container takes its own crashed run's Lease at once (LeaderElectionConfig
 * .ownPodPrefix). Without it (a controller run by hand, whose host name others may share) the Lease
 * of a crashed run expires as any other's.
 */
export function ownPodPrefix(env: NodeJS.ProcessEnv): { ownPodPrefix?: string } {
  return env.POD_NAME ? { ownPodPrefix: `${env.POD_NAME}_` } : {};
}

/**
 * The log line of a leadership change: `reason` says why (leader-election.ts; `election-off` for a
 * replica run with --leader-elect=false), with the holder it took over from, the one that took it,
 * or the last renewal's error. Losing the Lease other than at shutdown is a warning: the
 * controller stopped writing without meaning to (an API server it cannot renew with, another
 * replica that took over while this one was stalled).
 */
export function leadershipLogLine(
  leading: boolean,
  why: LeadershipChange | undefined,
): { level: 'info' | 'warn'; msg: string; fields: Record<string, unknown> } {
  const change = why ?? { reason: 'election-off' };
  const { reason } = change;
  const detail =
    'previousHolder' in change
      ? { previousHolder: change.previousHolder }
      : 'holder' in change
        ? { holder: change.holder }
        : 'error' in change
          ? { err: change.error }
          : {};
  const fields = { leading, reason, ...detail };
  if (leading) return { level: 'info', msg: 'leadership gained', fields };
  if (reason === 'shutdown') return { level: 'info', msg: 'leadership released at shutdown', fields };
  return { level: 'warn', msg: 'leadership lost', fields };
}
