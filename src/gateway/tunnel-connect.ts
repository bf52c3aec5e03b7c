/**
 * A tunnel on a pooled session (session-pool.ts): the CONNECT sent, and its answer awaited within
 * the response timeout, the session made suspect (session-liveness.ts) when the answer is slow.
 * Runs for every client connection: what it needs comes in ready-made (the pool's deadline object).
 */
import type { ClientHttp2Stream } from 'node:http2';
import { constants as h2 } from 'node:http2';
import { IsthmusError } from '../errors.js';
import { type PooledSession, retireIfOutOfStreams } from './pooled-session.js';
import { REFUSED_STREAM } from './session-support.js';
import { CONNECT_REQUEST_OPTIONS } from './v8-spread-cliff.js';

/** Called once: an error, or the tunnel stream after the remote answered 200. */
export type TunnelCallback = (
  err: IsthmusError | null,
  stream?: ClientHttp2Stream,
  peerCluster?: string,
) => void;

/**
 * The CONNECT response timer's two stages (session-liveness.ts `connectTimers`) and the deadline
 * they add up to, computed once by the pool rather than per tunnel.
 */
export interface ConnectDeadline {
  firstMs: number;
  restMs: number;
  responseTimeoutMs: number;
}

/** Sends CONNECT `authority` on `pooled`; `cb` gets the tunnel once the remote answered 200. */
export function connectTunnel(
  pooled: PooledSession,
  authority: string,
  deadline: ConnectDeadline,
  cb: TunnelCallback,
): void {
  let stream: ClientHttp2Stream;
  try {
    // RFC 9113 §8.5: CONNECT carries only :method and :authority.
    stream = pooled.session.request(
      { [h2.HTTP2_HEADER_METHOD]: 'CONNECT', [h2.HTTP2_HEADER_AUTHORITY]: authority },
      CONNECT_REQUEST_OPTIONS,
    );
  } catch (err) {
    cb(
      new IsthmusError('GATEWAY_UNREACHABLE', `cannot open a stream: ${(err as Error).message}`, {
        cause: err,
      }),
    );
    return;
  }
  pooled.streams++;
  let answered = false;
  // The one response timer fires first at the suspicion point (a session that swallows CONNECTs
  // is PINGed), then at the deadline. The CONNECT itself keeps waiting: a remote that answers
  // PINGs may be dialling a slow backend (5 s per candidate), which is why the deadline is 15 s.
  const { firstMs, restMs } = deadline;
  let suspecting = restMs > 0;
  // Set on the slow path only (the CONNECT went suspect): how the session's hung verdict fails it.
  let onHung: ((err: IsthmusError) => void) | undefined;
  const onTimer = (): void => {
    if (suspecting) {
      suspecting = false;
      onHung = (err) => {
        fail(err);
        if (!stream.closed) stream.close(h2.NGHTTP2_CANCEL);
      };
      pooled.unanswered.add(onHung);
      pooled.liveness.suspect();
      if (answered) return; // found hung at once (the session already was)
      timer = setTimeout(onTimer, restMs);
      return;
    }
    fail(
      new IsthmusError(
        'GATEWAY_CONNECT_TIMEOUT',
        `no answer to CONNECT ${authority} within ${deadline.responseTimeoutMs} ms`,
      ),
    );
    stream.close(h2.NGHTTP2_CANCEL);
  };
  let timer = setTimeout(onTimer, firstMs);
  const fail = (err: IsthmusError): void => {
    if (answered) return;
    answered = true;
    clearTimeout(timer);
    if (onHung) pooled.unanswered.delete(onHung);
    cb(err);
  };
  stream.on('error', (err: Error) => {
    if (answered) return;
    // A stream that never left (no ID left) is as safe to retry as a refused one.
    const cause =
      stream.rstCode === h2.NGHTTP2_REFUSED_STREAM || retireIfOutOfStreams(pooled, err)
        ? REFUSED_STREAM
        : err;
    fail(new IsthmusError('GATEWAY_UNREACHABLE', `tunnel to ${authority} failed: ${err.message}`, { cause }));
  });
  stream.once('close', () => {
    pooled.streams--;
    if (answered) return; // the common case: no error object to build
    const cause = stream.rstCode === h2.NGHTTP2_REFUSED_STREAM ? REFUSED_STREAM : undefined;
    fail(
      new IsthmusError('GATEWAY_UNREACHABLE', `tunnel stream to ${authority} closed before an answer`, {
        cause,
      }),
    );
  });
  stream.once('response', (headers) => {
    const status = Number(headers[h2.HTTP2_HEADER_STATUS]);
    if (status === 200) {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      if (onHung) pooled.unanswered.delete(onHung);
      cb(null, stream, pooled.peer);
      return;
    }
    fail(
      new IsthmusError('TUNNEL_REFUSED', `remote gateway refused ${authority} with ${status}`, {
        cause: { status },
      }),
    );
    // End our side cleanly (END_STREAM, no RST): the remote already ended its side.
    stream.resume();
    stream.end();
  });
}
