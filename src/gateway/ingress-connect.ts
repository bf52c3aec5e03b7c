/**
 * A CONNECT stream on an admitted session (RFC 9113 §8.5): its checks, its admission against
 * `limits.maxTunnels` and the peer's fair share (tunnel-share.ts), the dial of a backend chosen by
 * power of two choices with the others as fallback, and the splice of the two (pipe.ts). The probe
 * path's GET answers readiness; any other request gets 405. Runs for every tunnel: plain functions
 * of the ingress's state, no per-stream object beyond the dial's own callbacks.
 */

import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { constants as h2 } from 'node:http2';
import net from 'node:net';
import { hostPort } from '../host-port.js';
import { VERSION, VERSION_HEADER } from '../version.js';
import { type Endpoint, pickTwoChoices } from './balancer.js';
import { publishConnectError, publishTunnelClose, publishTunnelOpen } from './diagnostics.js';
import type { IngressState } from './ingress-state.js';
import { splice } from './pipe.js';
import { socketReader } from './socket-reader.js';
import { socketOptions } from './v8-spread-cliff.js';

const noop = (): void => {};

/**
 * The 200 that opens a tunnel carries no Date: its only reader is the peer's egress, which turns
 * it into a TCP connection, and RFC 9110 §6.6.1 asks a Date of origin servers, not of a tunnel's
 * acknowledgement. Node would format and HPACK-encode one per tunnel (respond() ~3.4 → ~1.5 µs
 * on Node 20 without it). `endStream` is given so that Node 20's copy of these options gains no
 * property (src/gateway/v8-spread-cliff.ts).
 */
const TUNNEL_ESTABLISHED = { endStream: false, sendDate: false } as const;

/** A tunnel (open or dialling) ended: the end of an episode at maxTunnels, if it was one. */
function tunnelEnded(state: IngressState, cluster: string): void {
  state.peers.release(cluster);
  if (state.refusedAtLimit < 0 || state.tunnels + state.dialling > state.resumeAt) return;
  const refused = state.refusedAtLimit;
  state.refusedAtLimit = -1;
  state.opts.onTunnelLimit?.({ reached: false, limit: state.maxTunnels, refused });
}

/** A stream of a session admitted for `cluster`. */
export function onStream(
  state: IngressState,
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  raw: string[],
  cluster: string,
): void {
  const received = performance.now();
  stream.on('error', noop);
  // nghttp2 advertises SETTINGS_MAX_HEADER_LIST_SIZE but does not enforce it on what it receives.
  if (headerListSize(raw) > state.limits.maxHeaderListSize) {
    refuse(stream, 431, 'request header list too large', cluster, undefined);
    return;
  }
  const method = headers[h2.HTTP2_HEADER_METHOD];
  if (method !== 'CONNECT') {
    answerNonConnect(state, stream, method, headers[h2.HTTP2_HEADER_PATH]);
    return;
  }
  // RFC 9113 §8.5: a CONNECT request carries only :method and :authority (nghttp2 enforces it).
  const authority = headers[h2.HTTP2_HEADER_AUTHORITY];
  if (typeof authority !== 'string') {
    refuse(stream, 400, 'CONNECT without :authority', cluster, undefined);
    return;
  }
  const resolution = state.opts.resolve(authority, cluster);
  if (!resolution.ok) {
    refuse(stream, resolution.status, resolution.reason, cluster, authority);
    return;
  }
  // After resolving: the authority names an exported Service, a bounded metric label.
  const admission = state.peers.admit(cluster);
  if (admission === 'over_share') {
    const why = `too many tunnels from this cluster: past its share (${state.peers.share()} of this gateway's ${state.maxTunnels}), the tunnels left are kept for other clusters`;
    refuse(stream, 503, why, cluster, authority);
    return;
  }
  if (admission === 'full') {
    if (state.refusedAtLimit < 0) {
      state.refusedAtLimit = 1;
      state.opts.onTunnelLimit?.({ reached: true, limit: state.maxTunnels, refused: 1 });
    } else state.refusedAtLimit++;
    refuse(stream, 503, `too many tunnels: this gateway's limit is ${state.maxTunnels}`, cluster, authority);
    return;
  }
  state.dialling++;
  dial(state, stream, resolution.candidates, cluster, authority, '', received);
}

function answerNonConnect(
  state: IngressState,
  stream: ServerHttp2Stream,
  method: string | string[] | undefined,
  path: unknown,
): void {
  if ((method === 'GET' || method === 'HEAD') && path === state.opts.probe.path) {
    const ready = state.opts.probe.isReady();
    stream.respond(
      {
        [h2.HTTP2_HEADER_STATUS]: ready ? 200 : 503,
        'content-type': 'text/plain',
        [VERSION_HEADER]: VERSION,
      },
      { endStream: method === 'HEAD' },
    );
    if (method === 'GET') stream.end(ready ? 'ready\n' : 'not ready\n');
    return;
  }
  // RFC 9110 §15.5.6: 405 carries Allow.
  stream.respond({ [h2.HTTP2_HEADER_STATUS]: 405, allow: 'CONNECT' }, { endStream: true });
}

function refuse(
  stream: ServerHttp2Stream,
  status: number,
  reason: string,
  cluster: string,
  authority: string | undefined,
): void {
  publishConnectError(
    authority === undefined
      ? { direction: 'ingress', peerCluster: cluster, status, reason }
      : { direction: 'ingress', peerCluster: cluster, authority, status, reason },
  );
  if (stream.closed || stream.destroyed) return;
  stream.respond({ [h2.HTTP2_HEADER_STATUS]: status }, { endStream: true });
}

/**
 * Dials a candidate chosen by P2C; on failure tries the others; 502 when none answers. `received`:
 * when the CONNECT arrived (performance.now()).
 */
function dial(
  state: IngressState,
  stream: ServerHttp2Stream,
  candidates: readonly Endpoint[],
  cluster: string,
  authority: string,
  lastError: string,
  received: number,
): void {
  if (stream.closed || stream.destroyed || candidates.length === 0) {
    state.dialling--;
    tunnelEnded(state, cluster);
    if (candidates.length === 0)
      refuse(stream, 502, `no endpoint accepted the connection: ${lastError}`, cluster, authority);
    return;
  }
  const index = pickTwoChoices(candidates, state.counter.load);
  const target = candidates[index]!;
  const refusal = state.opts.refuseDial?.(target) ?? null;
  if (refusal !== null) {
    const rest = candidates.filter((_, i) => i !== index);
    dial(
      state,
      stream,
      rest,
      cluster,
      authority,
      `${hostPort(target.host, target.port)}: ${refusal}`,
      received,
    );
    return;
  }
  const reader = socketReader();
  const socket = net.connect(
    socketOptions({
      host: target.host,
      port: target.port,
      allowHalfOpen: true,
      noDelay: true,
      onread: reader.onread,
    }),
  );
  socket.setTimeout(state.limits.connectTimeoutMs);
  // The peer gave up while the backend was still being dialled: no 'connect' or 'error' follows.
  const onEarlyClose = (): void => {
    socket.off('error', onError);
    socket.on('error', noop);
    socket.destroy();
    state.dialling--;
    tunnelEnded(state, cluster);
  };
  const onTimeout = (): void => {
    socket.destroy(new Error(`connect to ${hostPort(target.host, target.port)} timed out`));
  };
  const onError = (err: Error): void => {
    stream.off('close', onEarlyClose);
    socket.off('timeout', onTimeout);
    const rest = candidates.filter((_, i) => i !== index);
    dial(state, stream, rest, cluster, authority, err.message, received);
  };
  stream.once('close', onEarlyClose);
  socket.once('timeout', onTimeout);
  socket.once('error', onError);
  socket.once('connect', () => {
    stream.off('close', onEarlyClose);
    socket.off('timeout', onTimeout);
    socket.off('error', onError);
    // Node re-arms a socket's timeout at each read and write: the tunnel's bytes both ways.
    socket.setTimeout(state.limits.tunnelIdleTimeoutMs ?? 0);
    if (state.limits.tunnelIdleTimeoutMs !== undefined) socket.once('timeout', () => socket.destroy());
    state.dialling--;
    if (stream.closed || stream.destroyed) {
      socket.destroy();
      tunnelEnded(state, cluster);
      return;
    }
    const release = state.counter.acquire(target);
    state.tunnels++;
    stream.respond({ [h2.HTTP2_HEADER_STATUS]: 200 }, TUNNEL_ESTABLISHED);
    const opened = performance.now();
    publishTunnelOpen('ingress', cluster, authority, opened - received, socket);
    splice(
      stream,
      socket,
      (result) => {
        release();
        state.tunnels--;
        tunnelEnded(state, cluster);
        publishTunnelClose({
          direction: 'ingress',
          peerCluster: cluster,
          authority,
          socket,
          endpoint: hostPort(target.host, target.port),
          durationMs: performance.now() - opened,
          ...result,
        });
      },
      reader,
    );
  });
}

/** RFC 9113 §6.5.2: the size of a header list is the sum of name + value + 32 octets per field. */
function headerListSize(raw: string[]): number {
  let size = 0;
  for (let i = 0; i < raw.length; i++) size += raw[i]!.length + (i % 2 === 0 ? 32 : 0);
  return size;
}
