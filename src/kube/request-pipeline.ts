/**
 * What every request to one API server passes through, whatever it asks for: the client-side rate
 * limit (watch starts included), a bounded retry of 429 after Retry-After, counters, the
 * diagnostics channel, and one abort signal that ends everything when the client closes.
 */
import diagnostics from 'node:diagnostics_channel';
import { setMaxListeners } from 'node:events';
import type { Readable } from 'node:stream';
import type { KubeConfig } from '@kubernetes/client-node';
import { IsthmusError, isIsthmusError } from '../errors.js';
import { isNotFound, KubeApiError, retryAfterMs } from './errors.js';
import { abortableDelay, DEFAULT_RATE_LIMIT, type RateLimit, RateLimiter } from './rate-limiter.js';
import { type Query, type RawResponse, Transport } from './transport.js';

/** One finished API request (watch starts excluded), for metrics and debug logs. */
export interface KubeRequestEvent {
  server: string;
  verb: string;
  path: string;
  /** HTTP status, absent when the request never got an answer. */
  status?: number;
  durationMs: number;
  error?: unknown;
}

/** Published after every request when someone subscribes (node:diagnostics_channel, STYLE.md §9). */
export const requestChannel = diagnostics.channel('isthmus:kube:request');

export interface KubeClientOptions {
  rateLimit?: RateLimit;
  /**
   * Per-request inactivity timeout (not for watches), and the bound on opening a connection (TCP
   * and TLS handshake; at most 10 s): a server that accepts and never answers, as a stopped one does.
   */
  timeoutMs?: number;
  /** Times a 429 is retried after its Retry-After before the error reaches the caller. */
  maxThrottleRetries?: number;
  userAgent?: string;
  /**
   * While a watch is open, GET /version this often and end every open watch when no answer comes
   * within the timeout (client-go's HTTP/2 health check); false: never. Default DEFAULT_HEALTH_CHECK.
   */
  healthCheck?: HealthCheck | false;
}

export interface HealthCheck {
  periodMs: number;
  timeoutMs: number;
}

/**
 * client-go pings an HTTP/2 connection after 30 s without a frame and drops it when the ping is
 * not answered within 15 s: a dead connection is noticed in ~45 s. Watches here are HTTP/1.1
 * streams, which have no ping; a request is the ping, so a hung API server is found within
 * period + timeout (≤ 45 s) too.
 */
export const DEFAULT_HEALTH_CHECK: HealthCheck = { periodMs: 30_000, timeoutMs: 15_000 };

export interface ClientStats {
  requests: number;
  /** Requests per verb: get, list, create, update, patch, delete, watch, other. */
  byVerb: Record<string, number>;
  /** Failed requests, 404s excluded (they are answers, not failures). */
  errors: number;
  throttleRetries: number;
  rateLimitWaitMs: number;
}

export interface PipelineRequest {
  query?: Query;
  body?: unknown;
  contentType?: string;
  /** The Accept header; JSON objects when absent. */
  accept?: string;
  signal?: AbortSignal;
  /**
   * Skip the client-side rate limiter: for the few requests that must not wait behind the client's
   * own backlog (Lease renewals, as kube-apiserver's APF gives leader election its own level).
   */
  exemptFromRateLimit?: boolean;
}

export class RequestPipeline {
  private readonly transport: Transport;
  private readonly limiter: RateLimiter;
  private readonly closer = closeSignal();
  private readonly counters = {
    requests: 0,
    errors: 0,
    throttleRetries: 0,
    byVerb: {} as Record<string, number>,
  };
  private readonly timeoutMs: number;
  private readonly maxThrottleRetries: number;
  private readonly healthCheck: HealthCheck | false;
  /** One per watch opening or open: the health check ends them all when the server hangs. */
  private readonly streams = new Set<AbortController>();
  private healthTimer: NodeJS.Timeout | undefined;

  constructor(config: KubeConfig, opts: KubeClientOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    // Opening a connection is bounded by the request timeout, and by undici's 10 s under a longer one.
    this.transport = new Transport(config, opts.userAgent, Math.min(this.timeoutMs, 10_000));
    this.limiter = new RateLimiter(opts.rateLimit ?? DEFAULT_RATE_LIMIT);
    this.maxThrottleRetries = opts.maxThrottleRetries ?? 3;
    this.healthCheck = opts.healthCheck ?? DEFAULT_HEALTH_CHECK;
  }

  get server(): URL {
    return this.transport.server;
  }

  get closed(): boolean {
    return this.closer.signal.aborted;
  }

  stats(): ClientStats {
    return { ...this.counters, byVerb: { ...this.counters.byVerb }, rateLimitWaitMs: this.limiter.waitedMs };
  }

  private signalWith(other: AbortSignal | undefined): AbortSignal {
    return other ? AbortSignal.any([other, this.closer.signal]) : this.closer.signal;
  }

  private count(verb: string): void {
    this.counters.requests++;
    this.counters.byVerb[verb] = (this.counters.byVerb[verb] ?? 0) + 1;
  }

  private publish(verb: string, path: string, started: number, status?: number, error?: unknown): void {
    if (!requestChannel.hasSubscribers) return;
    const event: KubeRequestEvent = {
      server: this.transport.server.host,
      verb,
      path,
      status,
      durationMs: performance.now() - started,
      error,
    };
    requestChannel.publish(event);
  }

  /**
   * One rate-limited request. A 429 is retried after its Retry-After (bounded): the server did not
   * process the request, so this is safe for every verb.
   */
  async request(
    verb: string,
    method: string,
    path: string,
    opts: PipelineRequest = {},
  ): Promise<RawResponse> {
    const signal = this.signalWith(opts.signal);
    for (let attempt = 0; ; attempt++) {
      if (!opts.exemptFromRateLimit) await this.limiter.acquire(signal);
      this.count(verb);
      const started = performance.now();
      try {
        const res = await this.transport.request({
          method,
          path,
          query: opts.query,
          body: opts.body,
          contentType: opts.contentType,
          accept: opts.accept,
          signal,
          timeoutMs: this.timeoutMs,
        });
        this.publish(verb, path, started, res.status);
        return res;
      } catch (err) {
        this.publish(verb, path, started, err instanceof KubeApiError ? err.status : undefined, err);
        if (isIsthmusError(err, 'KUBE_TOO_MANY_REQUESTS') && attempt < this.maxThrottleRetries) {
          this.counters.throttleRetries++;
          await abortableDelay(Math.min(retryAfterMs(err) ?? 1000, 10_000), signal);
          continue;
        }
        if (!isNotFound(err)) this.counters.errors++;
        throw err;
      }
    }
  }

  /**
   * A rate-limited streaming GET (watch); `idleTimeoutMs` bounds the silence between chunks, the
   * request timeout the wait for the answer's head (an API server sends it at once). The health
   * check ends it, with a KUBE_API_UNAVAILABLE error, when the server stops answering.
   */
  async stream(path: string, query: Query, idleTimeoutMs: number, signal?: AbortSignal): Promise<Readable> {
    const own = new AbortController();
    const combined = AbortSignal.any([own.signal, this.signalWith(signal)]);
    this.streams.add(own);
    this.scheduleHealthCheck();
    try {
      await this.limiter.acquire(combined);
      this.count('watch');
      const res = await this.transport.stream({
        method: 'GET',
        path,
        query,
        signal: combined,
        timeoutMs: idleTimeoutMs,
        headersTimeoutMs: Math.min(this.timeoutMs, idleTimeoutMs),
      });
      res.body.once('close', () => this.streams.delete(own));
      return res.body;
    } catch (err) {
      this.streams.delete(own);
      this.counters.errors++;
      throw err;
    }
  }

  private scheduleHealthCheck(): void {
    if (!this.healthCheck || this.healthTimer || this.closed) return;
    const { periodMs } = this.healthCheck;
    this.healthTimer = setTimeout(() => void this.checkHealth(), periodMs);
    this.healthTimer.unref();
  }

  /**
   * One GET /version, past the rate limiter (a backlog of the client's own is no sign of a dead
   * server). Any answer, an error status included, is a live server; none within the timeout ends
   * every open watch, whose informers report it and reconnect.
   */
  private async checkHealth(): Promise<void> {
    this.healthTimer = undefined;
    if (!this.healthCheck || this.closed || this.streams.size === 0) return;
    const { timeoutMs } = this.healthCheck;
    const open = [...this.streams];
    const started = performance.now();
    this.count('health');
    let failure: unknown;
    try {
      await this.transport.request({
        method: 'GET',
        path: '/version',
        signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), this.closer.signal]),
        timeoutMs,
      });
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status !== undefined)) failure = err;
    }
    this.publish('health', '/version', started, undefined, failure);
    if (this.closed) return;
    if (failure !== undefined) {
      this.counters.errors++;
      const reason = new IsthmusError(
        'KUBE_API_UNAVAILABLE',
        `${this.transport.server.host} did not answer GET /version within ${seconds(timeoutMs)}: its connections are taken for dead`,
        { cause: failure },
      );
      for (const stream of open) stream.abort(reason);
    }
    this.scheduleHealthCheck();
  }

  /** Aborts in-flight requests and rate-limit waits and closes pooled sockets. */
  close(): void {
    clearTimeout(this.healthTimer);
    this.closer.abort(new Error('KubeClient closed'));
    this.transport.close();
  }
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

/**
 * One controller whose signal every in-flight request listens to: a controller syncing thousands
 * of objects has far more than Node's default of 10 listeners on it, which is by design, not a leak.
 */
function closeSignal(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}
