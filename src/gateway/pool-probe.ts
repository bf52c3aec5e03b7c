/**
 * A probe of a remote gateway over the session pool's tunnel path (session-pool.ts `probe`): a GET
 * on a pooled session, asked again once when refused unprocessed, timed and published
 * (diagnostics.ts). Probes run every few seconds per gateway, off the per-tunnel path.
 */
import type { ClientHttp2Stream } from 'node:http2';
import { constants as h2 } from 'node:http2';
import { hostPort } from '../host-port.js';
import { peerVersion, VERSION_HEADER } from '../version.js';
import { publishProbe } from './diagnostics.js';
import { type GatewayAddress, type GatewaySessionCallback, retireIfOutOfStreams } from './pooled-session.js';
import { MAX_PROBE_REFUSED_RETRIES } from './session-support.js';

export interface ProbeResult {
  alive: boolean;
  latencyMs: number;
  error?: string;
  version?: string;
  failure?: 'local';
  via?: string;
}

/** What a probe needs of the pool, built once by it. */
export interface ProbeSessions {
  /** A session at `gateway` or another of its addresses, ignoring the backoff (gatewaySession). */
  gatewaySession(
    gateway: GatewayAddress,
    budgetMs: number,
    cb: GatewaySessionCallback,
    expectedCluster: string | undefined,
  ): void;
  /** The pool is closing (close()). */
  stopping(): boolean;
}

/** GETs `path` at `gateway` through `pool` (session-pool.ts `probe` says what the result means). */
export function probeGateway(
  pool: ProbeSessions,
  gateway: GatewayAddress,
  path: string,
  timeoutMs: number,
  expectedCluster: string | undefined,
): Promise<ProbeResult> {
  const started = performance.now();
  const label = hostPort(gateway.host, gateway.port);
  return new Promise((resolve) => {
    let settled = false;
    let stream: ClientHttp2Stream | undefined;
    let version: string | undefined;
    let via: string | undefined;
    const done = (alive: boolean, error?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (stream && !stream.closed) stream.close(h2.NGHTTP2_CANCEL);
      const latencyMs = performance.now() - started;
      // Ended by this gateway stopping (close()): the remote is not to blame for it.
      const stopping = !alive && pool.stopping();
      const result = {
        alive,
        latencyMs,
        ...(error === undefined ? {} : { error: stopping ? `gateway stopping: ${error}` : error }),
        ...(version === undefined ? {} : { version }),
        ...(stopping ? { failure: 'local' as const } : {}),
        ...(via === undefined ? {} : { via }),
      };
      publishProbe({ gateway: label, ...result });
      resolve(result);
    };
    const timer = setTimeout(() => done(false, `no answer within ${timeoutMs} ms`), timeoutMs);
    const ask = (retry: number): void => {
      // Probes ignore the backoff: they are how a recovered remote is noticed.
      pool.gatewaySession(
        gateway,
        // The walk over the gateway's addresses gets what is left of the probe's time.
        Math.max(1, timeoutMs - (performance.now() - started)),
        (err, pooled, at) => {
          if (settled) return;
          if (err) return done(false, err.message);
          via = at === undefined || at === gateway ? undefined : hostPort(at.host, at.port);
          const s = pooled!.session.request({ [h2.HTTP2_HEADER_PATH]: path }, { endStream: true });
          stream = s;
          /** Refused unprocessed (RFC 9113 §8.7) or never sent: asked again, once. */
          const again = (e?: Error): boolean => {
            const unprocessed =
              s.rstCode === h2.NGHTTP2_REFUSED_STREAM ||
              (e !== undefined && retireIfOutOfStreams(pooled!, e));
            if (!unprocessed || retry >= MAX_PROBE_REFUSED_RETRIES || settled || stream !== s) return false;
            stream = undefined;
            ask(retry + 1);
            return true;
          };
          s.on('error', (e: Error) => {
            if (stream !== s || again(e)) return;
            done(false, e.message);
          });
          s.once('response', (headers) => {
            const status = Number(headers[h2.HTTP2_HEADER_STATUS]);
            // What the peer's gateway runs (absent from versions before it was sent).
            version = peerVersion(headers[VERSION_HEADER]);
            s.resume();
            s.once('end', () => done(status === 200, status === 200 ? undefined : `status ${status}`));
          });
          s.once('close', () => {
            if (stream !== s || again()) return;
            done(false, 'stream closed before an answer');
          });
        },
        expectedCluster,
      );
    };
    ask(0);
  });
}
