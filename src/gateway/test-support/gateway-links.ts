/** A Link naming a remote gateway at several addresses, and the session dials a pool reports. */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { Link } from '../../kube/types.js';
import { CHANNELS, type SessionDialMessage } from '../diagnostics.js';

/** The Link to `cluster` naming `hosts` on `port` (a NodePort gateway given its nodes' addresses). */
export function linkTo(hosts: string[], port: number, cluster = 'west'): Link {
  return {
    apiVersion: 'multicluster.isthmus.dev/v1alpha1',
    kind: 'Link',
    metadata: { name: cluster, namespace: 'isthmus-system' },
    spec: { targetClusterName: cluster, gatewayAddress: hosts.join(','), gatewayPort: port },
  } as Link;
}

/**
 * Every session dial the pools report from now on (its address, and whether it got a session), in
 * the order they ended; `cleanups` gets the unsubscription.
 */
export function sessionDials(cleanups: (() => void)[]): SessionDialMessage[] {
  const seen: SessionDialMessage[] = [];
  const onDial = (m: unknown): void => void seen.push(m as SessionDialMessage);
  diagnosticsChannel.subscribe(CHANNELS.sessionDial, onDial);
  cleanups.push(() => void diagnosticsChannel.unsubscribe(CHANNELS.sessionDial, onDial));
  return seen;
}
