/** The access log (--access-log), fed by the tunnels' diagnostics channel (diagnostics.ts). */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { Logger } from 'pino';
import { CHANNELS, type TunnelCloseMessage } from './diagnostics.js';

/** The access log (--access-log): one line per tunnel when it ends. */
export function logTunnels(log: Logger): () => void {
  const onClose = (msg: unknown): void => {
    const m = msg as TunnelCloseMessage;
    log.info(
      {
        direction: m.direction,
        peer: m.peerCluster,
        authority: m.authority,
        [m.direction === 'egress' ? 'client' : 'endpoint']: m.endpoint,
        bytesIn: m.bytesIn,
        bytesOut: m.bytesOut,
        durationMs: Math.round(m.durationMs * 10) / 10,
        result: m.reset ? 'reset' : 'closed',
      },
      'tunnel',
    );
  };
  diagnosticsChannel.subscribe(CHANNELS.tunnelClose, onClose);
  return () => diagnosticsChannel.unsubscribe(CHANNELS.tunnelClose, onClose);
}
