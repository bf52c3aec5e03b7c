/**
 * A connection the identity service closed on arrival at one of its bounds (connection-guard.ts,
 * identity-limits.ts), published on a diagnostics channel that identity-metrics.ts counts. Not
 * logged: a flood would flood the log.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { ConnectionRefusal } from '../connection-guard.js';

export const CONNECTION_REFUSED_CHANNEL = 'isthmus:identity:connection-refused';

export type IdentityPort = 'certify' | 'health';

export interface ConnectionRefusedEvent {
  server: IdentityPort;
  reason: ConnectionRefusal;
  /** The client's address. */
  address: string;
}

const channel = diagnosticsChannel.channel(CONNECTION_REFUSED_CHANNEL);

/** The `onRefused` of `server`'s listener. */
export function publishConnectionRefused(
  server: IdentityPort,
): (reason: ConnectionRefusal, address: string) => void {
  return (reason, address) => {
    if (channel.hasSubscribers) channel.publish({ server, reason, address } satisfies ConnectionRefusedEvent);
  };
}
