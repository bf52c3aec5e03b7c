/**
 * Pooled mTLS HTTP/2 sessions to remote gateways: one session per remote (more only when the
 * peer's SETTINGS_MAX_CONCURRENT_STREAMS is reached), reused by every tunnel, so a client connection
 * costs one stream, not a TLS handshake. A remote that cannot be reached fails fast: callers get
 * the error at once during a capped, jittered backoff instead of queueing behind a dead address.
 * After GOAWAY or close, new tunnels open a new session while streams on the old one finish. A
 * peer that hangs (SIGSTOP, a partition) is found by PINGs (session-liveness.ts): its unanswered
 * CONNECTs fail and its session takes no new ones (its established tunnels stay until the
 * keepalive finds the peer still silent); tunnels then fail fast until a dial in the background,
 * started when the backoff ends, has a new session.
 */

import { X509Certificate } from 'node:crypto';
import type { ClientHttp2Session, ClientHttp2Stream } from 'node:http2';
import http2, { constants as h2 } from 'node:http2';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { IsthmusError } from '../errors.js';
import { hostPort } from '../host-port.js';
import { peerVersion, VERSION_HEADER } from '../version.js';
import { walkAddresses } from './address-walk.js';
import { atExpiry, chainNotAfter } from './certificate-expiry.js';
import { publishProbe, publishSessionDial } from './diagnostics.js';
import { isDeferred, isTrustFailure, waitsForAsked, walkOrder } from './gateway-failover.js';
import { canonicalHost } from './probe-targets.js';
import {
  connectTimers,
  isHung,
  PING_TIMEOUT_MS,
  SessionLiveness,
  SUSPECT_AFTER_MS,
} from './session-liveness.js';
import {
  atCapacity,
  classify,
  hungMarksRemote,
  isRefusedStream,
  MAX_IDLE_REDIALS,
  MAX_PROBE_REFUSED_RETRIES,
  MAX_REFUSED_RETRIES,
  maxStreams,
  noSessionStep,
  notLinked,
  REFUSED_STREAM,
  refusedAtHandshake,
  untrusted,
} from './session-support.js';
import {
  ALPN_H2,
  clusterOfIdentity,
  MAX_FRAME_BYTES,
  MAX_SESSION_MEMORY_MB,
  refusalReason,
  refusesCapacity,
  SESSION_WINDOW_BYTES,
  STREAM_WINDOW_BYTES,
  spiffeIdOf,
  spiffeIdOfSan,
  TCP_KEEPALIVE_MS,
  type TunnelSecureContext,
  tlsContextOptions,
} from './tunnel-settings.js';
import { CONNECT_REQUEST_OPTIONS } from './v8-spread-cliff.js';

export interface GatewayAddress {
  host: string;
  port: number;
}

export interface SessionPoolOptions {
  secureContext: () => TunnelSecureContext;
  /** Checks the remote gateway's SPIFFE identity; without it any certificate chaining to the anchor is accepted. */
  expectPeer?: (identity: string | undefined) => boolean;
  /**
   * Why the remote's certificate must be refused though its chain verified (revoked), or
   * undefined; asked at each handshake and again by revalidate().
   */
  checkPeerCertificate?: (leaf: X509Certificate, issuer: X509Certificate | undefined) => string | undefined;
  /** TCP + TLS + the peer's SETTINGS. Default 5 s. */
  connectTimeoutMs?: number;
  /** From CONNECT sent to the remote's answer (it dials the backend meanwhile). Default 15 s. */
  responseTimeoutMs?: number;
  /** Reconnect backoff after a failed connect: base × 2^(failures-1), capped, with full jitter. */
  backoff?: { baseMs?: number; maxMs?: number };
  /**
   * Every this often an established session is PINGed; no answer within the same time and it is
   * dropped, so a peer that vanished without a FIN (node lost, network partition) fails new tunnels
   * fast instead of swallowing them until the response timeout. Default 10 s; 0 disables.
   */
  keepaliveMs?: number;
  /**
   * A CONNECT unanswered this long makes its session suspect: it is PINGed, and dropped when no
   * answer (and no byte at all) comes within `pingTimeoutMs`. Defaults SUSPECT_AFTER_MS and
   * PING_TIMEOUT_MS (session-liveness.ts); 0 disables suspicion.
   */
  suspectAfterMs?: number;
  pingTimeoutMs?: number;
  /**
   * Every address of the gateway at `gateway` for `cluster`, in the order to try them, `gateway`
   * among them (gateway-failover.ts `gatewayAddressesOf`, from the Links): when `gateway` gives no
   * session because nothing answers there, a tunnel or probe expecting `cluster` tries the others.
   * Only addresses a Link names may be returned. Without it, only `gateway` is dialled.
   */
  gatewayAddresses?: (gateway: GatewayAddress, cluster: string) => GatewayAddress[];
}

/** Called once: an error, or the tunnel stream after the remote answered 200. */
export type TunnelCallback = (
  err: IsthmusError | null,
  stream?: ClientHttp2Stream,
  peerCluster?: string,
) => void;

interface PooledSession {
  session: ClientHttp2Session;
  /**
   * The remote's chain as verified at the handshake (OpenSSL keeps the issuer only until then), and
   * the earliest notAfter in it.
   */
  chain: { leaf?: X509Certificate; issuer?: X509Certificate; notAfter?: number };
  streams: number;
  /** GOAWAY received or closing: no new streams. */
  draining: boolean;
  /** The pool's context generation this session shook hands with (setSecureContext counts them). */
  generation: number;
  /** Peer cluster from its certificate, for event labels; the address when unknown. */
  peer: string;
  /** The cluster of the peer's gateway identity, once connected (undefined: not a cluster's). */
  cluster?: string;
  liveness: SessionLiveness;
  /**
   * How to fail each CONNECT on this session that went suspect (unanswered `suspectAfterMs`) and is
   * still unanswered: only those are failed when the session is found hung.
   */
  unanswered: Set<(err: IsthmusError) => void>;
  /** Still dialling at a cutUnlinked (its peer unknown then): cut once established if unlinked. */
  dialledAtCut: boolean;
}

type SessionCallback = (err: IsthmusError | null, pooled?: PooledSession) => void;
/** A session (or why none) at one of a gateway's addresses: `at` says which. */
type GatewaySessionCallback = (err: IsthmusError | null, pooled?: PooledSession, at?: GatewayAddress) => void;

interface Remote {
  address: GatewayAddress;
  label: string;
  sessions: PooledSession[];
  connecting: boolean;
  waiters: SessionCallback[];
  failures: number;
  retryAt: number;
  lastError: IsthmusError | undefined;
  /**
   * The last failure here if it was one of trust (the remote's refusal, ours, or another cluster's
   * identity for the cluster a caller expected), for an address a walk was asked about (no walk
   * reads it of any other), until a caller gets a session here or a dial fails otherwise: a walk
   * asked about this address then gives it a longer head start (`waitsForAsked`). Recorded however
   * late it comes, after the walk that dialled went elsewhere too (the dial outlives it).
   */
  distrusted: IsthmusError | undefined;
  /** When `distrusted` was last recorded (Date.now()): forgotten DISTRUST_MEMORY_MS after. */
  distrustedAt: number;
  /** The dial in the background after a hang or a connect timeout, at the backoff's end. */
  redial: NodeJS.Timeout | undefined;
  /** Background redials since a tunnel or probe last asked for this remote. */
  idleRedials: number;
  /** The cluster the last tunnel or probe asking for this remote expected there (the dials' label). */
  cluster: string | undefined;
}

export class SessionPool {
  private readonly remotes = new Map<string, Remote>();
  /** Sessions dialled but not yet established: close() must end them too, or they outlive the pool. */
  private readonly dialing = new Map<ClientHttp2Session, PooledSession>();
  private contextOverride: TunnelSecureContext | undefined;
  /** Bumped at each setSecureContext: sessions of an older one present a rotated-out certificate. */
  private generation = 0;
  /**
   * The clusters linked, as the last cutUnlinked said. Undefined until then (start-up, before the
   * Link informer has listed): nothing is refused, as every cluster would look unlinked.
   */
  private linked: ReadonlySet<string> | undefined;
  private closed = false;
  private readonly connectTimeoutMs: number;
  private readonly responseTimeoutMs: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly keepaliveMs: number;
  private readonly liveness: { suspectAfterMs: number; pingTimeoutMs: number };
  /** The CONNECT response timer's two stages, computed once rather than per tunnel. */
  private readonly connectTimers: { firstMs: number; restMs: number };

  constructor(private readonly opts: SessionPoolOptions) {
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 5_000;
    this.responseTimeoutMs = opts.responseTimeoutMs ?? 15_000;
    this.backoffBaseMs = opts.backoff?.baseMs ?? 100;
    this.backoffMaxMs = opts.backoff?.maxMs ?? 2_000;
    this.keepaliveMs = opts.keepaliveMs ?? 10_000;
    this.liveness = {
      suspectAfterMs: opts.suspectAfterMs ?? SUSPECT_AFTER_MS,
      pingTimeoutMs: opts.pingTimeoutMs ?? PING_TIMEOUT_MS,
    };
    this.connectTimers = connectTimers(this.liveness.suspectAfterMs, this.responseTimeoutMs);
  }

  /** Resolves with the tunnel once the remote answered 200. */
  openTunnel(gateway: GatewayAddress, authority: string, expectedCluster?: string): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      this.tunnel(
        gateway,
        authority,
        (err, stream) => (err ? reject(err) : resolve(stream!)),
        expectedCluster,
      );
    });
  }

  /**
   * Callback form of openTunnel for the per-connection path (no promise allocation per accept).
   * With `expectedCluster`, the gateway at that address must hold that cluster's gateway identity
   * (as Linkerd checks a Link's gatewayIdentity): an address that leads to another cluster's
   * gateway, under the same trust anchor, gets no tunnel (GATEWAY_IDENTITY_MISMATCH).
   */
  tunnel(gateway: GatewayAddress, authority: string, cb: TunnelCallback, expectedCluster?: string): void {
    this.attempt(gateway, authority, cb, 0, expectedCluster);
  }

  private attempt(
    gateway: GatewayAddress,
    authority: string,
    cb: TunnelCallback,
    retry: number,
    expectedCluster: string | undefined,
  ): void {
    this.gatewaySession(
      gateway,
      false,
      this.connectTimeoutMs,
      (err, pooled) => {
        if (err) {
          cb(err);
          return;
        }
        this.connect(pooled!, authority, (connectErr, stream, peer) => {
          // RFC 9113 §8.7: a REFUSED_STREAM stream was not processed (e.g. it crossed a GOAWAY), so it
          // is safe to retry; the refusing session is draining by now, so this picks another one.
          if (connectErr && isRefusedStream(connectErr) && retry < MAX_REFUSED_RETRIES) {
            this.attempt(gateway, authority, cb, retry + 1, expectedCluster);
            return;
          }
          cb(connectErr, stream, peer);
        });
      },
      expectedCluster,
    );
  }

  /**
   * GET `path` over the tunnel path: alive means the remote ingress answered 200 within the timeout,
   * and, with `expectedCluster`, that it holds that cluster's gateway identity. With it, another
   * address the Link names for that gateway may answer when `gateway` gives no session
   * (gatewaySession): `via` then says which. A probe refused unprocessed (REFUSED_STREAM: it crossed
   * the GOAWAY of a draining replica) or that never left is asked again once, within `timeoutMs`,
   * as a CONNECT is: the remote did not fail it.
   */
  probe(
    gateway: GatewayAddress,
    path: string,
    timeoutMs: number,
    expectedCluster?: string,
  ): Promise<{
    alive: boolean;
    latencyMs: number;
    error?: string;
    version?: string;
    failure?: 'local';
    via?: string;
  }> {
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
        const stopping = !alive && this.closed;
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
        this.gatewaySession(
          gateway,
          true,
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

  /**
   * New sessions use `ctx`. Existing ones keep running with the certificate they shook hands with
   * until a session with `ctx` to the same remote is established (dialled at the next tunnel there,
   * which the old session still carries): then they take no new tunnel and close with their last.
   * Else every session would reach the old certificate's notAfter, where the remote ends it; and a
   * remote that refuses the new certificate leaves the old sessions working meanwhile.
   */
  setSecureContext(ctx: TunnelSecureContext): void {
    this.contextOverride = ctx;
    this.generation++;
  }

  /**
   * Asks checkPeerCertificate again about every open session (after a CRL update) and destroys
   * those it now refuses, with their tunnels; returns how many.
   */
  revalidate(): number {
    let cut = 0;
    for (const remote of this.remotes.values()) {
      for (const pooled of [...remote.sessions]) {
        if (this.refusal(pooled.chain.leaf, pooled.chain.issuer) === undefined) continue;
        pooled.draining = true;
        pooled.session.destroy();
        cut++;
      }
    }
    return cut;
  }

  /**
   * Cuts the sessions to gateways of clusters not in `linked`, with their tunnels: an unlink stops
   * the traffic to that cluster now, as the ingress's revalidation does for the other direction.
   * Egress routes need a Link and so do probes, so such a session has no use left. And until the
   * next call the pool opens none there either: the egress listeners of the cluster's mirrors close
   * only after the mirror watcher's debounce and apply, and a client connecting meanwhile would
   * have had a new session dialled (review: its tunnels outlived the unlink). A tunnel or probe for
   * such a cluster fails at once (notLinked); a session still dialling now, whose peer is not known
   * yet, is cut once established if its cluster is not linked then. Returns how many were cut now.
   */
  cutUnlinked(linked: ReadonlySet<string>): number {
    this.linked = new Set(linked);
    for (const pooled of this.dialing.values()) pooled.dialledAtCut = true;
    let cut = 0;
    for (const remote of this.remotes.values()) {
      for (const pooled of [...remote.sessions]) {
        if (pooled.cluster === undefined || linked.has(pooled.cluster)) continue;
        pooled.draining = true;
        pooled.session.destroy();
        cut++;
      }
    }
    return cut;
  }

  /** Whether `cluster` is known and no longer linked (cutUnlinked). */
  private unlinked(cluster: string | undefined): cluster is string {
    return cluster !== undefined && this.linked !== undefined && !this.linked.has(cluster);
  }

  private refusal(
    leaf: X509Certificate | undefined,
    issuer: X509Certificate | undefined,
  ): string | undefined {
    return leaf && this.opts.checkPeerCertificate?.(leaf, issuer);
  }

  /** Remote addresses the pool keeps state for (for tests). */
  remoteCount(): number {
    return this.remotes.size;
  }

  /** Open sessions across all remotes (for tests and metrics). */
  sessionCount(): number {
    let n = 0;
    for (const r of this.remotes.values()) n += r.sessions.length;
    return n;
  }

  /** Sessions that take new tunnels: established and not draining (for tests). */
  readySessionCount(): number {
    let n = 0;
    for (const r of this.remotes.values()) for (const s of r.sessions) if (!s.draining) n++;
    return n;
  }

  async close(): Promise<void> {
    this.closed = true;
    const closing: Promise<void>[] = [];
    for (const remote of this.remotes.values()) {
      clearTimeout(remote.redial);
      this.failWaiters(remote, new IsthmusError('GATEWAY_UNREACHABLE', 'session pool closed'));
      for (const { session } of remote.sessions) {
        if (session.destroyed) continue;
        closing.push(new Promise((resolve) => session.once('close', () => resolve())));
        session.destroy();
      }
    }
    for (const session of this.dialing.keys()) {
      closing.push(new Promise((resolve) => session.once('close', () => resolve())));
      session.destroy();
    }
    this.dialing.clear();
    this.remotes.clear();
    await Promise.all(closing);
  }

  private connect(pooled: PooledSession, authority: string, cb: TunnelCallback): void {
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
    const { firstMs, restMs } = this.connectTimers;
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
          `no answer to CONNECT ${authority} within ${this.responseTimeoutMs} ms`,
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
      fail(
        new IsthmusError('GATEWAY_UNREACHABLE', `tunnel to ${authority} failed: ${err.message}`, { cause }),
      );
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

  /**
   * A session with the gateway at `gateway` that holds `expectedCluster`'s identity, or at another
   * address the Links name for that gateway (`gatewayAddresses`, gateway-failover.ts): a walk
   * (address-walk.ts) within `budgetMs`, in `walkOrder` (the address asked about first unless a
   * tunnel finds it in its backoff; a probe always dials it), each address with its own backoff (a
   * tunnel fails fast past one in its backoff), moving past nothing answering anywhere and past a
   * failure of trust anywhere but at the address asked about (`walkStep`), which has half the
   * budget to itself while its last failure was one of trust (`waitsForAsked`). `at` says which address
   * the session is at. Nothing is remembered of which address worked: each walk starts from the
   * address asked about. An address with a free session takes the tunnel at once (no walk, no timer).
   */
  private gatewaySession(
    gateway: GatewayAddress,
    probing: boolean,
    budgetMs: number,
    cb: GatewaySessionCallback,
    expectedCluster: string | undefined,
  ): void {
    const attempt = (at: GatewayAddress, got: SessionCallback, asked = false): void =>
      this.session(
        at,
        probing,
        (err, pooled) => {
          const failure = err ?? identityMismatch(pooled!, at, expectedCluster);
          if (asked) this.distrust(at, failure);
          if (failure === undefined) got(null, pooled);
          else got(failure);
        },
        expectedCluster,
      );
    const candidates =
      expectedCluster === undefined ||
      this.opts.gatewayAddresses === undefined ||
      this.hasFreeSession(gateway)
        ? undefined
        : this.opts.gatewayAddresses(gateway, expectedCluster);
    if (candidates === undefined || candidates.length < 2) {
      // The hot path (a free session here) or no other address: no walk, so nothing to remember.
      attempt(gateway, (err, pooled) => cb(err, pooled, gateway));
      return;
    }
    const byKey = new Map(candidates.map((a) => [remoteKey(a), a]));
    const asked = remoteKey(gateway);
    byKey.set(asked, gateway);
    if (byKey.size === 1) {
      attempt(gateway, (err, pooled) => cb(err, pooled, gateway));
      return;
    }
    const now = Date.now();
    const deferred = (key: string): boolean => {
      const r = this.remotes.get(key);
      return r !== undefined && isDeferred({ lastError: r.lastError, backoffOver: now >= r.retryAt });
    };
    walkAddresses<PooledSession>({
      order: walkOrder([...byKey.keys()], asked, deferred, probing).map((key) => byKey.get(key)!),
      asked: gateway,
      budgetMs,
      waitForAsked: waitsForAsked(this.remotes.get(asked)?.distrusted),
      attempt: (at, got) => attempt(at, got, at === gateway),
      stopped: () => this.closed,
      done: cb,
    });
  }

  /**
   * What the walk asked about `at` learnt of it: a failure of trust (another cluster's identity
   * there too, no failure of the dial: the session serves that cluster) is remembered, a session
   * given clears what was. Written only when it changes or is renewed, off the hot path.
   */
  private distrust(at: GatewayAddress, failure: IsthmusError | undefined): void {
    if (failure !== undefined && !isTrustFailure(failure)) return;
    const remote = this.remotes.get(remoteKey(at));
    if (remote === undefined || (failure === undefined && remote.distrusted === undefined)) return;
    remote.distrusted = failure;
    remote.distrustedAt = Date.now();
  }

  /** Whether `gateway` has a session that takes a tunnel now (session() answers it at once). */
  private hasFreeSession(gateway: GatewayAddress): boolean {
    const remote = this.remotes.get(remoteKey(gateway));
    return remote?.sessions.some((p) => !p.draining && p.streams < maxStreams(p.session)) === true;
  }

  /** A session with a free stream slot, connecting one when needed. */
  private session(
    gateway: GatewayAddress,
    ignoreBackoff: boolean,
    cb: SessionCallback,
    expectedCluster?: string,
  ): void {
    if (this.closed) {
      cb(new IsthmusError('GATEWAY_UNREACHABLE', 'session pool closed'));
      return;
    }
    if (this.unlinked(expectedCluster)) {
      cb(notLinked(hostPort(gateway.host, gateway.port), expectedCluster));
      return;
    }
    const key = remoteKey(gateway);
    let remote = this.remotes.get(key);
    if (!remote) {
      this.forgetIdleRemotes();
      remote = {
        address: { host: gateway.host, port: gateway.port },
        label: hostPort(gateway.host, gateway.port),
        sessions: [],
        connecting: false,
        waiters: [],
        failures: 0,
        retryAt: 0,
        lastError: undefined,
        distrusted: undefined,
        distrustedAt: 0,
        redial: undefined,
        idleRedials: 0,
        cluster: undefined,
      };
      this.remotes.set(key, remote);
    }
    if (expectedCluster !== undefined) remote.cluster = expectedCluster;
    let stale: PooledSession | undefined;
    for (const pooled of remote.sessions) {
      if (pooled.draining || pooled.streams >= maxStreams(pooled.session)) continue;
      if (pooled.generation === this.generation) {
        cb(null, pooled);
        return;
      }
      stale ??= pooled;
    }
    if (stale) {
      // Our certificate rotated since its handshake: it carries this tunnel while a session with
      // the new one is dialled behind (retireOlder then drains it), within the backoff.
      if (!remote.connecting && Date.now() >= remote.retryAt) this.dial(remote);
      cb(null, stale);
      return;
    }
    remote.idleRedials = 0;
    const step = noSessionStep({
      lastError: remote.lastError,
      connecting: remote.connecting,
      backoffOver: Date.now() >= remote.retryAt,
      ignoreBackoff,
    });
    if (step !== 'wait') {
      if (step === 'dial-behind') this.dial(remote);
      cb(remote.lastError!);
      return;
    }
    remote.waiters.push(cb);
    if (!remote.connecting) this.dial(remote);
  }

  private dial(remote: Remote): void {
    remote.connecting = true;
    const { host, port } = remote.address;
    const ctx = this.contextOverride ?? this.opts.secureContext();
    const generation = this.generation;
    const expectPeer = this.opts.expectPeer;
    const authorityHost = net.isIPv6(host) ? `[${host}]` : host;
    const chain: PooledSession['chain'] = {};
    const session = http2.connect(`https://${authorityHost}:${port}`, {
      createConnection: () => {
        const socket = tls.connect({
          host,
          port,
          ...tlsContextOptions(ctx),
          ALPNProtocols: [ALPN_H2],
          // SNI is for names only (RFC 6066 §3).
          ...(net.isIP(host) === 0 ? { servername: host } : {}),
          // The chain is verified against the anchor by OpenSSL; the name check is the SPIFFE identity.
          checkServerIdentity: (_name, cert) => {
            const identity = spiffeIdOfSan(cert.subjectaltname);
            // Our own checks refuse the remote (GATEWAY_UNTRUSTED): the TLS client destroys the
            // socket with this very error, so classify() keeps it.
            if (expectPeer && !expectPeer(identity))
              return untrusted(remote.label, `unexpected gateway identity ${identity ?? '(none)'}`);
            // Node passes the detailed form here: the chain as the peer sent it, through issuerCertificate
            // (matched by Name, not the one OpenSSL verified with: the revocation check sees to that).
            const issuer = (cert as tls.DetailedPeerCertificate).issuerCertificate;
            chain.leaf = x509Of(cert);
            chain.issuer = x509Of(issuer);
            const notAfter = chainNotAfter(
              cert as tls.DetailedPeerCertificate,
              (c) => c.valid_to,
              (c) => c.issuerCertificate,
            );
            if (notAfter !== undefined) chain.notAfter = notAfter;
            const revoked = this.refusal(chain.leaf, chain.issuer);
            return revoked === undefined ? undefined : untrusted(remote.label, revoked);
          },
        });
        socket.setNoDelay(true);
        socket.setKeepAlive(true, TCP_KEEPALIVE_MS);
        return socket;
      },
      maxSessionMemory: MAX_SESSION_MEMORY_MB,
      settings: { enablePush: false, initialWindowSize: STREAM_WINDOW_BYTES, maxFrameSize: MAX_FRAME_BYTES },
    });
    const pooled: PooledSession = {
      session,
      chain,
      streams: 0,
      draining: false,
      generation,
      peer: remote.label,
      liveness: new SessionLiveness(session, remote.label, this.liveness, (err, fatal) =>
        this.hung(remote, pooled, err, fatal),
      ),
      unanswered: new Set(),
      dialledAtCut: false,
    };
    this.dialing.set(session, pooled);
    let established = false;
    /** Our side of the TLS handshake completed ('connect'): the remote has our certificate. */
    let handshaken = false;
    const timer = setTimeout(() => {
      session.destroy(
        new IsthmusError(
          'GATEWAY_CONNECT_TIMEOUT',
          `no session with ${remote.label} within ${this.connectTimeoutMs} ms`,
        ),
      );
    }, this.connectTimeoutMs);
    let failure: Error | undefined;
    /** Set when the peer's cluster was unlinked while the session was dialled: not the remote's failure. */
    let unlinkedMeanwhile: IsthmusError | undefined;
    session.on('error', (err: Error) => {
      failure ??= err;
    });
    session.once('connect', () => {
      session.setLocalWindowSize(SESSION_WINDOW_BYTES);
      const socket = session.socket as tls.TLSSocket;
      const cert = socket.getPeerX509Certificate();
      const cluster = clusterOfIdentity(spiffeIdOf(cert));
      pooled.peer = cluster ?? remote.label;
      if (cluster !== undefined) pooled.cluster = cluster;
    });
    // Established = the peer answered a PING. Its SETTINGS are no proof: a server sends them as the
    // session starts, before it has looked at our certificate, and then may still turn us away (and
    // with TLS 1.3 the client's handshake completes before the server has verified the client).
    session.once('connect', () => {
      handshaken = true;
      session.ping((err) => {
        if (err || session.destroyed || session.closed) return; // 'close' reports the failure
        // cutUnlinked could not cut it (its peer was not known yet): no tunnel may use it. Later
        // dials name a linked cluster (session() refuses the others) or none (the caller's choice).
        if (pooled.dialledAtCut && this.unlinked(pooled.cluster)) {
          unlinkedMeanwhile = notLinked(remote.label, pooled.cluster);
          session.destroy();
          return;
        }
        this.dialing.delete(session);
        established = true;
        clearTimeout(timer);
        remote.connecting = false;
        remote.failures = 0;
        remote.lastError = undefined;
        clearTimeout(remote.redial);
        remote.redial = undefined;
        this.published(remote, pooled);
        remote.sessions.push(pooled);
        if (this.keepaliveMs > 0) pooled.liveness.keepAlive(this.keepaliveMs);
        this.retireAtExpiry(pooled);
        this.retireOlder(remote, pooled.generation);
        const waiters = remote.waiters.splice(0);
        // More waiters than free slots: the rest get another session through session().
        for (const w of waiters) {
          if (pooled.streams < maxStreams(session) && !pooled.draining) w(null, pooled);
          else this.session(remote.address, true, w);
        }
      });
    });
    session.once('goaway', (code: number, _lastStreamId: number, debug?: Buffer) => {
      pooled.draining = true;
      // The remote ingress turned us away and said why (refuseSession): that is the failure to
      // report, before the session error that follows it.
      const refused = refusalReason(code, debug);
      if (refused !== undefined)
        failure ??= refusesCapacity(code)
          ? atCapacity(remote.label, refused)
          : new IsthmusError(
              'GATEWAY_REFUSED',
              `gateway ${remote.label} refused this cluster's gateway: ${refused}`,
            );
      // Any other GOAWAY before the PING answer (a remote shutting down) is no certificate
      // refusal, which a close right after the handshake is taken for (refusedAtHandshake).
      else if (!established)
        failure ??= new IsthmusError(
          'GATEWAY_UNREACHABLE',
          `gateway ${remote.label} ended the session before it was established (GOAWAY code ${code}): it is shutting down or draining`,
        );
    });
    session.once('close', () => {
      clearTimeout(timer);
      this.dialing.delete(session);
      pooled.draining = true;
      const i = remote.sessions.indexOf(pooled);
      if (i >= 0) remote.sessions.splice(i, 1);
      if (established) return;
      remote.connecting = false;
      if (unlinkedMeanwhile) {
        // No backoff: the remote answered, and a relink must find no stale error in its way.
        this.published(remote, pooled, unlinkedMeanwhile);
        this.failWaiters(remote, unlinkedMeanwhile);
        return;
      }
      this.backOff(
        remote,
        classify(failure ?? (handshaken ? refusedAtHandshake(remote.label) : undefined), remote.label),
      );
      this.published(remote, pooled, remote.lastError);
      this.failWaiters(remote, remote.lastError!);
    });
  }

  /** Publishes how the dial of `pooled` ended (before it joins or leaves `remote.sessions`). */
  private published(remote: Remote, pooled: PooledSession, err?: IsthmusError): void {
    publishSessionDial({
      gateway: remote.label,
      ...(remote.cluster === undefined ? {} : { peerCluster: remote.cluster }),
      ok: err === undefined,
      ...(err === undefined ? {} : { code: err.code, reason: err.message }),
      previousCertificateServes: remote.sessions.some((s) => s.generation < pooled.generation && !s.draining),
    });
  }

  /** Drains `remote`'s sessions made with a certificate older than `generation` (setSecureContext). */
  private retireOlder(remote: Remote, generation: number): void {
    for (const pooled of remote.sessions) {
      if (pooled.generation >= generation || pooled.draining) continue;
      pooled.draining = true;
      if (!pooled.session.closed && !pooled.session.destroyed) pooled.session.close();
    }
  }

  /**
   * Once the remote's chain has expired (OpenSSL checked it only at the handshake) the session takes
   * no new tunnel and closes with its last one, as after a GOAWAY: the next tunnel dials, and that
   * handshake succeeds (the remote rotated) or fails on its own (OpenSSL's clock, a tick coarser, may
   * still pass it for a few ms; that session is retired as it is established).
   */
  private retireAtExpiry(pooled: PooledSession): void {
    if (pooled.chain.notAfter === undefined) return;
    const cancel = atExpiry(pooled.chain.notAfter, () => {
      pooled.draining = true;
      if (!pooled.session.closed && !pooled.session.destroyed) pooled.session.close();
    });
    pooled.session.once('close', cancel);
  }

  /**
   * `pooled`'s peer stopped answering. Draining first: no tunnel picks the session from now on. The
   * keepalive's verdict (`fatal`) destroys it with every stream on it. Suspicion's fails only its
   * CONNECTs still unanswered and closes it gracefully: established tunnels go on (a healthy peer
   * may stall for seconds), it ends with its last stream (as after a GOAWAY), and the keepalive
   * still destroys it if the peer stays silent.
   */
  private hung(remote: Remote, pooled: PooledSession, err: IsthmusError, fatal: boolean): void {
    const otherReady = remote.sessions.some((o) => o !== pooled && !o.draining);
    if (hungMarksRemote({ draining: pooled.draining, otherReady })) this.backOff(remote, err);
    pooled.draining = true;
    if (fatal) {
      pooled.session.destroy(err);
      return;
    }
    const unanswered = [...pooled.unanswered];
    pooled.unanswered.clear();
    for (const failConnect of unanswered) failConnect(err);
    if (!pooled.session.closed && !pooled.session.destroyed) pooled.session.close();
  }

  /**
   * A failed dial or a hung session: tunnels fail with `err` until the capped, jittered backoff
   * ends. After a hang or a connect timeout the remote is redialled when it does, so a recovered
   * remote has its session back before the next tunnel asks (not failing that one).
   */
  private backOff(remote: Remote, err: IsthmusError): void {
    remote.failures++;
    const delay = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** (remote.failures - 1));
    remote.retryAt = Date.now() + Math.random() * delay;
    remote.lastError = err;
    // A dial failing otherwise clears the memory; a trust failure is recorded by the walk asked
    // about this address (distrust), not here: no walk reads it of another.
    if (!isTrustFailure(err)) remote.distrusted = undefined;
    if (isHung(err) || err.code === 'GATEWAY_CONNECT_TIMEOUT') this.armRedial(remote);
  }

  private armRedial(remote: Remote): void {
    clearTimeout(remote.redial);
    remote.redial = undefined;
    if (this.closed || remote.idleRedials >= MAX_IDLE_REDIALS) return;
    remote.redial = setTimeout(
      () => {
        remote.redial = undefined;
        if (this.closed || remote.connecting) return;
        // Forgotten meanwhile: a dial now would be a session close() knows nothing of.
        if (this.remotes.get(remoteKey(remote.address)) !== remote) return;
        if (remote.sessions.some((s) => !s.draining)) return;
        // Its cluster was unlinked since: the session would be cut once established.
        if (this.unlinked(remote.cluster)) return;
        remote.idleRedials++;
        this.dial(remote);
      },
      Math.max(0, remote.retryAt - Date.now()),
    );
    // The pool must not keep a process alive on its own.
    remote.redial.unref();
  }

  /**
   * Drops the remotes that hold nothing (no session, no dial, no waiter) and whose backoff ended
   * more than one maximum backoff ago: such an entry is only a failure count and an error. Every
   * address ever dialled got one, and `/probe?gateway=` lets any caller of the admin port name
   * addresses, so without this the map grew with each distinct address until the gateway ran out
   * of memory. Run when a new remote is added, so the map is bounded by the addresses dialled
   * within about two backoff periods (plus those in use), each address once in whatever spelling
   * (`remoteKey`). A remote whose last failure was one of trust (`distrusted`) is kept longer, until
   * DISTRUST_MEMORY_MS after it was last recorded: walks asked about it give it a longer head start
   * on that memory (`waitsForAsked`), and forgetting it between two probes (every few seconds) gave
   * the race with the other addresses back. Bounded too (review: kept for ever, one per spelling
   * the admin `/probe` admits): the addresses asked about whose trust failed within that time.
   */
  private forgetIdleRemotes(): void {
    const now = Date.now();
    const staleBefore = now - this.backoffMaxMs;
    const distrustedBefore = now - Math.max(DISTRUST_MEMORY_MS, this.backoffMaxMs);
    for (const [key, r] of this.remotes) {
      if (
        r.sessions.length === 0 &&
        !r.connecting &&
        r.waiters.length === 0 &&
        r.retryAt < staleBefore &&
        (r.distrusted === undefined || r.distrustedAt < distrustedBefore)
      )
        this.remotes.delete(key);
    }
  }

  private failWaiters(remote: Remote, err: IsthmusError): void {
    for (const w of remote.waiters.splice(0)) w(err);
  }
}

/**
 * How long a failure of trust at an address asked about is remembered with nothing recording it
 * again (forgetIdleRemotes): a live misconfiguration is probed every few seconds, so it stays.
 */
const DISTRUST_MEMORY_MS = 10 * 60_000;

/**
 * The pool's key of a remote address: one per address whatever its spelling (`targetKey`: names
 * and IPv6 lower case, IPv6 compressed), as the admin `/probe` admits any spelling of an address a
 * Link names (review: one remote per spelling let any caller grow the map). The common spelling
 * (lower case, no IPv6) is its own key, without parsing: this runs on every tunnel.
 */
function remoteKey(a: GatewayAddress): string {
  if (!NOT_CANONICAL.test(a.host)) return `${a.host}|${a.port}`;
  let host = canonicalHosts.get(a.host);
  if (host === undefined) {
    if (canonicalHosts.size >= MAX_CANONICAL_HOSTS) canonicalHosts.clear();
    host = canonicalHost(a.host);
    canonicalHosts.set(a.host, host);
  }
  return `${host}|${a.port}`;
}

/** A host that `canonicalHost` may spell otherwise: upper case or an IPv6 address. */
const NOT_CANONICAL = /[A-Z:]/;
/** Spellings already canonicalised (an IPv6 one parses a URL), bounded: any caller may add some. */
const canonicalHosts = new Map<string, string>();
const MAX_CANONICAL_HOSTS = 1024;

/** A PeerCertificate's DER as an X509Certificate (undefined when absent or self-referencing). */
function x509Of(cert: tls.PeerCertificate | undefined): X509Certificate | undefined {
  return cert?.raw ? new X509Certificate(cert.raw) : undefined;
}

/** Why `pooled` may not carry a tunnel meant for `expected`'s gateway; undefined when it may. */
function identityMismatch(
  pooled: PooledSession,
  gateway: GatewayAddress,
  expected: string | undefined,
): IsthmusError | undefined {
  if (expected === undefined || pooled.cluster === expected) return undefined;
  const holder = pooled.cluster === undefined ? 'no cluster' : `cluster ${pooled.cluster}`;
  return new IsthmusError(
    'GATEWAY_IDENTITY_MISMATCH',
    `the gateway at ${hostPort(gateway.host, gateway.port)} holds the gateway identity of ${holder}, not of cluster ${expected}`,
  );
}

/**
 * A session whose client stream IDs are spent (2^31 − 1, odd only: RFC 9113 §5.1.1; ~1 billion
 * tunnels) cannot open another stream, and Node leaves it open: it takes no new streams from then
 * on and closes once the tunnels on it end, so the next tunnel gets a fresh session.
 */
function retireIfOutOfStreams(pooled: PooledSession, err: Error): boolean {
  if ((err as NodeJS.ErrnoException).code !== 'ERR_HTTP2_OUT_OF_STREAMS') return false;
  pooled.draining = true;
  if (!pooled.session.closed) pooled.session.close();
  return true;
}
