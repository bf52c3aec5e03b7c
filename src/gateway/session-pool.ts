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
 *
 * SessionPool coordinates; the parts live beside it: a remote's entry (pool-remotes.ts) and its
 * backoff (remote-backoff.ts), dialling a session (session-dial.ts), a CONNECT on one
 * (tunnel-connect.ts), a probe (pool-probe.ts).
 */

import type { X509Certificate } from 'node:crypto';
import type { ClientHttp2Session } from 'node:http2';
import type { Duplex } from 'node:stream';
import { IsthmusError } from '../errors.js';
import { hostPort } from '../host-port.js';
import { walkAddresses } from './address-walk.js';
import { isDeferred, waitsForAsked, walkOrder } from './gateway-failover.js';
import { type ProbeResult, type ProbeSessions, probeGateway } from './pool-probe.js';
import {
  cutSessions,
  distrust,
  failWaiters,
  forgetIdleRemotes,
  hasFreeSession,
  newRemote,
  type Remote,
} from './pool-remotes.js';
import {
  type GatewayAddress,
  type GatewaySessionCallback,
  identityMismatch,
  type PooledSession,
  type SessionCallback,
} from './pooled-session.js';
import { backOff } from './remote-backoff.js';
import { remoteKey } from './remote-key.js';
import { type Dialer, dialSession } from './session-dial.js';
import { connectTimers, PING_TIMEOUT_MS, SUSPECT_AFTER_MS } from './session-liveness.js';
import type { SessionPoolOptions } from './session-pool-options.js';
import {
  classify,
  isRefusedStream,
  MAX_REFUSED_RETRIES,
  maxStreams,
  noSessionStep,
  notLinked,
} from './session-support.js';
import { type ConnectDeadline, connectTunnel, type TunnelCallback } from './tunnel-connect.js';
import type { TunnelSecureContext } from './tunnel-settings.js';

export type { GatewayAddress } from './pooled-session.js';
export type { SessionPoolOptions } from './session-pool-options.js';
export type { TunnelCallback } from './tunnel-connect.js';

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
  private readonly backoffMaxMs: number;
  /** The CONNECT response timer's two stages and its deadline, computed once rather than per tunnel. */
  private readonly connectDeadline: ConnectDeadline;
  /** What session-dial.ts needs of the pool, built once. */
  private readonly dialer: Dialer;
  /** What pool-probe.ts needs of the pool, built once. */
  private readonly prober: ProbeSessions;

  constructor(private readonly opts: SessionPoolOptions) {
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 5_000;
    const responseTimeoutMs = opts.responseTimeoutMs ?? 15_000;
    this.backoffMaxMs = opts.backoff?.maxMs ?? 2_000;
    const liveness = {
      suspectAfterMs: opts.suspectAfterMs ?? SUSPECT_AFTER_MS,
      pingTimeoutMs: opts.pingTimeoutMs ?? PING_TIMEOUT_MS,
    };
    const { firstMs, restMs } = connectTimers(liveness.suspectAfterMs, responseTimeoutMs);
    this.connectDeadline = { firstMs, restMs, responseTimeoutMs };
    this.dialer = {
      connectTimeoutMs: this.connectTimeoutMs,
      keepaliveMs: opts.keepaliveMs ?? 10_000,
      liveness,
      opts,
      dialing: this.dialing,
      refusal: (leaf, issuer) => this.refusal(leaf, issuer),
      unlinked: (cluster): cluster is string => this.unlinked(cluster),
      backoffBaseMs: opts.backoff?.baseMs ?? 100,
      backoffMaxMs: this.backoffMaxMs,
      remotes: this.remotes,
      stopped: () => this.closed,
      dial: (remote) => this.dial(remote),
      sessionFor: (remote, waiter) => this.session(remote.address, true, waiter),
    };
    this.prober = {
      gatewaySession: (gateway, budgetMs, cb, expectedCluster) =>
        this.gatewaySession(gateway, true, budgetMs, cb, expectedCluster),
      stopping: () => this.closed,
    };
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
        connectTunnel(pooled!, authority, this.connectDeadline, (connectErr, stream, peer) => {
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
  ): Promise<ProbeResult> {
    return probeGateway(this.prober, gateway, path, timeoutMs, expectedCluster);
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
    return cutSessions(
      this.remotes,
      (pooled) => this.refusal(pooled.chain.leaf, pooled.chain.issuer) !== undefined,
    );
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
    return cutSessions(this.remotes, (pooled) => pooled.cluster !== undefined && !linked.has(pooled.cluster));
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
      failWaiters(remote, new IsthmusError('GATEWAY_UNREACHABLE', 'session pool closed'));
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
          if (asked) distrust(this.remotes, at, failure);
          if (failure === undefined) got(null, pooled);
          else got(failure);
        },
        expectedCluster,
      );
    const candidates =
      expectedCluster === undefined ||
      this.opts.gatewayAddresses === undefined ||
      hasFreeSession(this.remotes, gateway)
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
      forgetIdleRemotes(this.remotes, this.backoffMaxMs);
      remote = newRemote(gateway);
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
    try {
      dialSession(remote, this.contextOverride ?? this.opts.secureContext(), this.generation, this.dialer);
    } catch (err) {
      // Thrown before a session existed (no usable context; an address Node's URL parser refuses):
      // no 'close' will end this dial, so it ends here, or the remote stayed "connecting" for good
      // with its waiters unanswered and every later tunnel queued behind them (review).
      remote.connecting = false;
      backOff(remote, classify(err as Error, remote.label), this.dialer);
      failWaiters(remote, remote.lastError!);
    }
  }
}
