/**
 * Whether a pooled session's peer still answers. Two triggers share one PING state per session:
 * the keepalive timer (an idle session), and suspicion (a CONNECT left unanswered for
 * `suspectAfterMs`): a hung peer (SIGSTOP, a partition) whose kernel still holds the connection
 * open is found within `suspectAfterMs + pingTimeoutMs` of the first tunnel it swallows, not at
 * the next keepalive (up to 20 s) or the CONNECT's own deadline (15 s). Nothing here runs per
 * tunnel: suspicion starts from the CONNECT's existing response timer, and only when it fires.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { ClientHttp2Session } from 'node:http2';
import { IsthmusError } from '../errors.js';

/**
 * A CONNECT unanswered this long makes the session suspect. A healthy remote answers within a
 * backend dial (a loopback or in-cluster connect, milliseconds); longer is legitimate (the remote
 * dials a slow backend for up to its 5 s connect timeout, per candidate), which is why suspicion
 * only asks for a PING and never fails the CONNECT itself.
 */
export const SUSPECT_AFTER_MS = 1_000;
/**
 * A suspect session whose PING is unanswered this long, with nothing at all read from the peer
 * meanwhile, is dead. nghttp2 answers PINGs as soon as it reads them, whatever the remote's
 * backends do, so only a peer that stopped reading (hung, partitioned) misses 2 s; a peer busy
 * sending us DATA ahead of the answer (up to the 32 MiB session window on a slow link) shows it
 * is alive by the bytes that arrive.
 */
export const PING_TIMEOUT_MS = 2_000;

/** Published on the slow path only: a session became suspect, was cleared, or was found hung. */
export interface SessionLivenessMessage {
  /** The remote gateway's `host:port`. */
  gateway: string;
  event: 'suspected' | 'cleared' | 'hung';
  reason?: string;
}
export const SESSION_LIVENESS_CHANNEL = 'isthmus:gateway:session-liveness';
const channel = diagnosticsChannel.channel(SESSION_LIVENESS_CHANNEL);

/** Marks the error of a session dropped because its peer stopped answering. */
const HUNG = Symbol('HUNG');

export function hungError(label: string, detail: string): IsthmusError {
  return new IsthmusError('GATEWAY_UNREACHABLE', `gateway ${label} stopped answering: ${detail}`, {
    cause: HUNG,
  });
}

export function isHung(err: IsthmusError | undefined): boolean {
  return err?.cause === HUNG;
}

/**
 * A keepalive tick: PING when none is in flight; a PING sent at or before the previous tick and
 * still unanswered means the peer is gone; one sent since (by suspicion) is left to its deadline.
 */
export function keepAliveStep(
  pingSentAt: number | undefined,
  previousTickAt: number,
): 'ping' | 'wait' | 'dead' {
  if (pingSentAt === undefined) return 'ping';
  return pingSentAt <= previousTickAt ? 'dead' : 'wait';
}

/**
 * A CONNECT sent at `connectSentAt` is still unanswered. Nothing to do while a suspicion is already
 * running, or when a PING sent after that CONNECT was answered: the peer read the CONNECT (the
 * same TCP stream, in order) and is alive, merely slow to dial (this also bounds the PINGs under a
 * load of slow CONNECTs to about one per round trip of suspicion). Otherwise PING, unless a PING
 * is already in flight, whose answer serves as well.
 */
export function suspicionStep(s: {
  suspecting: boolean;
  pingSentAt: number | undefined;
  provenAt: number;
  connectSentAt: number;
}): 'none' | 'ping' | 'watch' {
  if (s.suspecting || s.provenAt >= s.connectSentAt) return 'none';
  return s.pingSentAt === undefined ? 'ping' : 'watch';
}

/** The split of a CONNECT's response timer: first at the suspicion point, then the rest. */
export function connectTimers(
  suspectAfterMs: number,
  responseTimeoutMs: number,
): { firstMs: number; restMs: number } {
  // Off (0), or no earlier than the deadline itself: one timer, as without suspicion.
  if (suspectAfterMs <= 0 || suspectAfterMs >= responseTimeoutMs)
    return { firstMs: responseTimeoutMs, restMs: 0 };
  return { firstMs: suspectAfterMs, restMs: responseTimeoutMs - suspectAfterMs };
}

/**
 * The PING state of one session. `onHung` gets the error and the verdict's kind. `fatal` (the
 * keepalive's: no answer for one to two keepalive periods): the pool destroys the session, so
 * every stream on it fails and its clients are reset. Not fatal (suspicion's, ~3 s): the pool stops
 * giving the session new CONNECTs and fails only those still unanswered; its established tunnels
 * stay, since a healthy peer may merely stall that long (GC, CPU starvation, a VM pause). The
 * keepalive goes on watching such a session and destroys it if the peer stays silent; a peer that
 * answers again keeps it until its last tunnel ends. A CONNECT that turns suspect on a session
 * already found hung, its PING still unanswered, gets the verdict at once.
 */
export class SessionLiveness {
  /** When the PING in flight was sent (performance.now()); undefined when none is. */
  private pingSentAt: number | undefined;
  /** When the latest answered PING was sent: the peer had read all we wrote before it. */
  private provenAt = Number.NEGATIVE_INFINITY;
  private suspicion: NodeJS.Timeout | undefined;
  /** The socket's bytesRead when the suspicion started. */
  private readAtSuspicion = 0;
  private keepalive: NodeJS.Timeout | undefined;
  private done = false;
  /** Found hung by suspicion (not fatal): the detail of that verdict. */
  private condemned: string | undefined;

  constructor(
    private readonly session: ClientHttp2Session,
    private readonly label: string,
    private readonly opts: { suspectAfterMs: number; pingTimeoutMs: number },
    private readonly onHung: (err: IsthmusError, fatal: boolean) => void,
  ) {
    session.once('close', () => this.stop());
  }

  /** PINGs every `ms`; the peer is gone when a PING is still unanswered at the next tick. */
  keepAlive(ms: number): void {
    let previousTickAt = performance.now();
    this.keepalive = setInterval(() => {
      const now = performance.now();
      const step = keepAliveStep(this.pingSentAt, previousTickAt);
      previousTickAt = now;
      if (step === 'dead') this.hung(`no PING answer within ${ms} ms`, true);
      else if (step === 'ping') this.ping(now);
    }, ms);
    // The pool must not keep a process alive on its own.
    this.keepalive.unref();
  }

  /** A CONNECT on this session has waited `suspectAfterMs` for its answer. */
  suspect(): void {
    if (this.done) return;
    if (this.condemned !== undefined && this.pingSentAt !== undefined) {
      this.hung(this.condemned, false);
      return;
    }
    const now = performance.now();
    const step = suspicionStep({
      suspecting: this.suspicion !== undefined,
      pingSentAt: this.pingSentAt,
      provenAt: this.provenAt,
      connectSentAt: now - this.opts.suspectAfterMs,
    });
    if (step === 'none') return;
    if (step === 'ping') this.ping();
    this.readAtSuspicion = this.bytesRead();
    this.suspicion = setTimeout(() => this.deadline(), this.opts.pingTimeoutMs);
    this.suspicion.unref();
    publish(this.label, 'suspected');
  }

  private ping(sentAt = performance.now()): void {
    // Destroyed, its 'close' still to come: ping() would throw, and there is nothing left to watch.
    if (this.session.destroyed) return;
    this.pingSentAt = sentAt;
    // false: too many PINGs in flight (never, with one at a time) or the session is gone.
    const sent = this.session.ping((err) => {
      if (err || this.done) return; // 'close' ends the watch
      this.pingSentAt = undefined;
      this.provenAt = Math.max(this.provenAt, sentAt);
      if (this.suspicion === undefined) return;
      clearTimeout(this.suspicion);
      this.suspicion = undefined;
      publish(this.label, 'cleared');
    });
    if (!sent) this.pingSentAt = undefined;
  }

  private deadline(): void {
    // After the poll phase: a timer that fired late because this process stalled must not beat
    // an answer that is already waiting in the socket (a stall is no hang of the peer).
    setImmediate(() => {
      if (this.done || this.suspicion === undefined) return; // answered meanwhile
      this.suspicion = undefined;
      if (this.bytesRead() > this.readAtSuspicion) {
        // Frames arrive, the PING answer queued behind them: alive. The PING stays in flight.
        publish(this.label, 'cleared', 'frames received, PING answer pending');
        return;
      }
      this.condemned = `no PING answer within ${this.opts.pingTimeoutMs} ms of a CONNECT unanswered for ${this.opts.suspectAfterMs} ms`;
      this.hung(this.condemned, false);
    });
  }

  /** `fatal`: the keepalive's verdict, which ends the watch; suspicion's leaves the keepalive running. */
  private hung(detail: string, fatal: boolean): void {
    if (this.done) return;
    const err = hungError(this.label, detail);
    if (fatal) this.stop();
    publish(this.label, 'hung', err.message);
    this.onHung(err, fatal);
  }

  private bytesRead(): number {
    return this.session.socket?.bytesRead ?? 0;
  }

  private stop(): void {
    this.done = true;
    clearInterval(this.keepalive);
    clearTimeout(this.suspicion);
    this.suspicion = undefined;
  }
}

function publish(gateway: string, event: SessionLivenessMessage['event'], reason?: string): void {
  if (!channel.hasSubscribers) return;
  const message: SessionLivenessMessage = { gateway, event };
  if (reason !== undefined) message.reason = reason;
  channel.publish(message);
}
