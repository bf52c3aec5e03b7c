/**
 * What every request to one API server passes through, whatever it asks for: the client-side rate
 * limit (watch starts included), a bounded retry of 429 after Retry-After, counters, the
 * diagnostics channel, and one abort signal that ends everything when the client closes.
 */
import diagnostics from 'node:diagnostics_channel';
import { setMaxListeners } from 'node:events';
import type { Readable } from 'node:stream';
import type { KubeConfig } from '@kubernetes/client-node';
import { isIsthmusError } from '../errors.js';
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
  /** Per-request inactivity timeout (not for watches). */
  timeoutMs?: number;
  /** Times a 429 is retried after its Retry-After before the error reaches the caller. */
  maxThrottleRetries?: number;
  userAgent?: string;
}

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

  constructor(config: KubeConfig, opts: KubeClientOptions = {}) {
    this.transport = new Transport(config, opts.userAgent);
    this.limiter = new RateLimiter(opts.rateLimit ?? DEFAULT_RATE_LIMIT);
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.maxThrottleRetries = opts.maxThrottleRetries ?? 3;
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

  /** A rate-limited streaming GET (watch); `idleTimeoutMs` bounds the silence between chunks. */
  async stream(path: string, query: Query, idleTimeoutMs: number, signal?: AbortSignal): Promise<Readable> {
    const combined = this.signalWith(signal);
    await this.limiter.acquire(combined);
    this.count('watch');
    try {
      const res = await this.transport.stream({
        method: 'GET',
        path,
        query,
        signal: combined,
        timeoutMs: idleTimeoutMs,
      });
      return res.body;
    } catch (err) {
      this.counters.errors++;
      throw err;
    }
  }

  /** Aborts in-flight requests and rate-limit waits and closes pooled sockets. */
  close(): void {
    this.closer.abort(new Error('KubeClient closed'));
    this.transport.close();
  }
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
