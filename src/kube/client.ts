/**
 * KubeClient: every API call of Isthmus goes through here. Typed CRUD on a ResourceRef, list
 * pagination, watch streams, client-side rate limiting (applied to every request, watch starts
 * included) and request counters for metrics and benchmarks.
 */
import diagnostics from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import { isIsthmusError } from '../errors.js';
import { isNotFound, KubeApiError, retryAfterMs } from './errors.js';
import {
  loadDefault,
  loadInCluster,
  loadKubeconfigFile,
  loadKubeconfigSecret,
  loadKubeconfigString,
} from './kubeconfig.js';
import { abortableDelay, DEFAULT_RATE_LIMIT, type RateLimit, RateLimiter } from './rate-limiter.js';
import { apiVersionOf, type ResourceRef, resourcePath } from './resources.js';
import { type Query, type RawResponse, Transport } from './transport.js';
import type { KubeObject, V1Secret } from './types.js';

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

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Page size; the client follows `continue` until the list is complete. */
  limit?: number;
  /** Aborts the list (an informer being stopped); the client's own close aborts it too. */
  signal?: AbortSignal;
}

export interface WatchOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion: string;
  /** Server-side end of the watch; the client resumes afterwards. */
  timeoutSeconds?: number;
  /** Client-side limit on silence between events (bookmarks count). */
  idleTimeoutMs?: number;
  signal?: AbortSignal;
}

export type PatchType = 'merge' | 'json' | 'strategic';

/** Patch content types (Kubernetes API concepts, "Patch operations"). */
const PATCH_CONTENT_TYPE: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
};

export interface ClientStats {
  requests: number;
  /** Requests per verb: get, list, create, update, patch, delete, watch, other. */
  byVerb: Record<string, number>;
  errors: number;
  throttleRetries: number;
  rateLimitWaitMs: number;
}

export interface DeleteOptions {
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground';
  gracePeriodSeconds?: number;
  /** Delete only if the object still has this resourceVersion (precondition). */
  resourceVersion?: string;
}

export class KubeClient {
  private readonly transport: Transport;
  private readonly limiter: RateLimiter;
  private readonly closedSignal = new AbortController();
  private readonly counters = {
    requests: 0,
    errors: 0,
    throttleRetries: 0,
    byVerb: {} as Record<string, number>,
  };
  private readonly timeoutMs: number;
  private readonly maxThrottleRetries: number;

  constructor(
    readonly config: KubeConfig,
    opts: KubeClientOptions = {},
  ) {
    this.transport = new Transport(config, opts.userAgent);
    this.limiter = new RateLimiter(opts.rateLimit ?? DEFAULT_RATE_LIMIT);
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.maxThrottleRetries = opts.maxThrottleRetries ?? 3;
  }

  static fromKubeconfigFile(path: string, context?: string, opts?: KubeClientOptions): KubeClient {
    return new KubeClient(loadKubeconfigFile(path, context), opts);
  }
  static fromKubeconfigString(yaml: string, context?: string, opts?: KubeClientOptions): KubeClient {
    return new KubeClient(loadKubeconfigString(yaml, context), opts);
  }
  /** A Link's credentials Secret (key `kubeconfig`). */
  static fromSecret(secret: V1Secret, opts?: KubeClientOptions): KubeClient {
    return new KubeClient(loadKubeconfigSecret(secret), opts);
  }
  static inCluster(opts?: KubeClientOptions): KubeClient {
    return new KubeClient(loadInCluster(), opts);
  }
  static fromDefault(context?: string, opts?: KubeClientOptions): KubeClient {
    return new KubeClient(loadDefault(context), opts);
  }

  /** The API server URL, for messages and `isthmus check`. */
  get server(): string {
    return this.transport.server.toString();
  }

  stats(): ClientStats {
    return {
      requests: this.counters.requests,
      byVerb: { ...this.counters.byVerb },
      errors: this.counters.errors,
      throttleRetries: this.counters.throttleRetries,
      rateLimitWaitMs: this.limiter.waitedMs,
    };
  }

  private signalWith(other: AbortSignal | undefined): AbortSignal {
    return other ? AbortSignal.any([other, this.closedSignal.signal]) : this.closedSignal.signal;
  }

  private publish(verb: string, path: string, started: number, status?: number, error?: unknown): void {
    if (!requestChannel.hasSubscribers) return;
    requestChannel.publish({
      server: this.transport.server.host,
      verb,
      path,
      status,
      durationMs: performance.now() - started,
      error,
    } satisfies KubeRequestEvent);
  }

  private count(verb: string): void {
    this.counters.requests++;
    this.counters.byVerb[verb] = (this.counters.byVerb[verb] ?? 0) + 1;
  }

  /**
   * One rate-limited request. A 429 is retried after its Retry-After (bounded): the server did not
   * process the request, so this is safe for every verb.
   */
  async request(
    verb: string,
    method: string,
    path: string,
    opts: { query?: Query; body?: unknown; contentType?: string; signal?: AbortSignal } = {},
  ): Promise<RawResponse> {
    const signal = this.signalWith(opts.signal);
    for (let attempt = 0; ; attempt++) {
      await this.limiter.acquire(signal);
      this.count(verb);
      const started = performance.now();
      try {
        const res = await this.transport.request({
          method,
          path,
          query: opts.query,
          body: opts.body,
          contentType: opts.contentType,
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

  async get<T extends KubeObject>(
    res: ResourceRef,
    namespace: string | undefined,
    name: string,
  ): Promise<T | undefined> {
    try {
      return (await this.request('get', 'GET', resourcePath(res, namespace, name))).body as T;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** All pages of a list; `resourceVersion` is the list's, to start a watch from. */
  async list<T extends KubeObject>(
    res: ResourceRef,
    opts: ListOptions = {},
  ): Promise<{ items: T[]; resourceVersion: string }> {
    const items: T[] = [];
    let cont: string | undefined;
    let resourceVersion = '';
    do {
      const { body } = await this.request('list', 'GET', resourcePath(res, opts.namespace), {
        query: {
          labelSelector: opts.labelSelector || undefined,
          fieldSelector: opts.fieldSelector || undefined,
          limit: opts.limit,
          continue: cont,
        },
        signal: opts.signal,
      });
      const page = body as { items?: T[]; metadata?: { resourceVersion?: string; continue?: string } };
      // List items carry no apiVersion/kind; fill them so objects look the same from list and watch.
      for (const item of page.items ?? [])
        items.push({ apiVersion: apiVersionOf(res), kind: res.kind, ...item });
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
      cont = page.metadata?.continue || undefined;
    } while (cont);
    return { items, resourceVersion };
  }

  private withTypeMeta<T extends KubeObject>(res: ResourceRef, obj: T): T {
    return { ...obj, apiVersion: obj.apiVersion ?? apiVersionOf(res), kind: obj.kind ?? res.kind };
  }

  async create<T extends KubeObject>(res: ResourceRef, obj: T): Promise<T> {
    const ns = obj.metadata?.namespace;
    return (
      await this.request('create', 'POST', resourcePath(res, ns), { body: this.withTypeMeta(res, obj) })
    ).body as T;
  }

  /** PUT: the object's metadata.resourceVersion, when set, makes this a compare-and-swap (409 if stale). */
  async replace<T extends KubeObject>(res: ResourceRef, obj: T): Promise<T> {
    const path = resourcePath(res, obj.metadata?.namespace, obj.metadata?.name ?? '');
    return (await this.request('update', 'PUT', path, { body: this.withTypeMeta(res, obj) })).body as T;
  }

  async replaceStatus<T extends KubeObject>(res: ResourceRef, obj: T): Promise<T> {
    const path = `${resourcePath(res, obj.metadata?.namespace, obj.metadata?.name ?? '')}/status`;
    return (await this.request('update', 'PUT', path, { body: this.withTypeMeta(res, obj) })).body as T;
  }

  async patch<T extends KubeObject>(
    res: ResourceRef,
    namespace: string | undefined,
    name: string,
    body: unknown,
    type: PatchType = 'merge',
  ): Promise<T> {
    const path = resourcePath(res, namespace, name);
    return (await this.request('patch', 'PATCH', path, { body, contentType: PATCH_CONTENT_TYPE[type] }))
      .body as T;
  }

  async patchStatus<T extends KubeObject>(
    res: ResourceRef,
    namespace: string | undefined,
    name: string,
    body: unknown,
    type: PatchType = 'merge',
  ): Promise<T> {
    const path = `${resourcePath(res, namespace, name)}/status`;
    return (await this.request('patch', 'PATCH', path, { body, contentType: PATCH_CONTENT_TYPE[type] }))
      .body as T;
  }

  /** True when deleted (or deletion started, with finalizers); false when it was already gone. */
  async delete(
    res: ResourceRef,
    namespace: string | undefined,
    name: string,
    opts: DeleteOptions = {},
  ): Promise<boolean> {
    const body = {
      kind: 'DeleteOptions',
      apiVersion: 'v1',
      propagationPolicy: opts.propagationPolicy,
      gracePeriodSeconds: opts.gracePeriodSeconds,
      preconditions: opts.resourceVersion ? { resourceVersion: opts.resourceVersion } : undefined,
    };
    try {
      await this.request('delete', 'DELETE', resourcePath(res, namespace, name), { body });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /** GET /version: the cheapest authenticated round trip (`isthmus check`, liveness of a remote API). */
  async version(): Promise<{ major?: string; minor?: string; gitVersion?: string }> {
    return (await this.request('other', 'GET', '/version')).body as { gitVersion?: string };
  }

  /**
   * Opens a watch stream (Kubernetes API concepts, "Efficient detection of changes"). Rate limited
   * like any request. The caller reads newline-delimited JSON events from the response and
   * aborts `signal` to stop.
   */
  async watch(res: ResourceRef, opts: WatchOptions): Promise<IncomingMessage> {
    const signal = this.signalWith(opts.signal);
    await this.limiter.acquire(signal);
    this.count('watch');
    try {
      return await this.transport.stream({
        method: 'GET',
        path: resourcePath(res, opts.namespace),
        query: {
          watch: 1,
          resourceVersion: opts.resourceVersion,
          allowWatchBookmarks: true,
          labelSelector: opts.labelSelector || undefined,
          fieldSelector: opts.fieldSelector || undefined,
          timeoutSeconds: opts.timeoutSeconds,
        },
        signal,
        timeoutMs: opts.idleTimeoutMs ?? 5 * 60_000,
      });
    } catch (err) {
      this.counters.errors++;
      throw err;
    }
  }

  get closed(): boolean {
    return this.closedSignal.signal.aborted;
  }

  /** Aborts in-flight requests and rate-limit waits and closes pooled sockets. */
  close(): void {
    this.closedSignal.abort(new Error('KubeClient closed'));
    this.transport.close();
  }
}
