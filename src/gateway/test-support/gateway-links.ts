/**
 * A Link naming a remote gateway at several addresses, the session dials a pool reports, and what
 * a tunnel through one address gets.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { Duplex } from 'node:stream';
import type { IsthmusError } from '../../errors.js';
import type { Link } from '../../kube/types.js';
import { CHANNELS, type SessionDialMessage } from '../diagnostics.js';
import type { GatewayAddress, SessionPool } from '../session-pool.js';
import { within } from './wait.js';

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

/**
 * A tunnel to `authority` through `at`, for west's gateway, then `use`d (a round trip) and closed:
 * 'ok', or the error's code and message.
 */
export async function tunnelThrough(
  pool: SessionPool,
  at: GatewayAddress,
  authority: string,
  use: (stream: Duplex) => Promise<void> = async () => {},
): Promise<string> {
  let stream: Duplex;
  try {
    stream = await within(pool.openTunnel(at, authority, 'west'), 10_000, 'tunnel');
  } catch (err) {
    return `${(err as IsthmusError).code}: ${(err as Error).message}`;
  }
  await use(stream);
  stream.destroy();
  return 'ok';
}
