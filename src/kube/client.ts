/**
 * KubeClient: every API call of Isthmus goes through here. Typed verbs on a ResourceRef (CRUD,
 * status subresource, patches, paginated lists, watch streams); rate limiting, counters and
 * retries of 429 live in the RequestPipeline underneath.
 */
import type { Readable } from 'node:stream';
import type { KubeConfig } from '@kubernetes/client-node';
import { IsthmusError } from '../errors.js';
import { isNotFound } from './errors.js';
import {
  loadDefault,
  loadInCluster,
  loadKubeconfigFile,
  loadKubeconfigList,
  loadKubeconfigSecret,
  loadKubeconfigString,
} from './kubeconfig.js';
import {
  type ClientStats,
  type KubeClientOptions,
  type PipelineRequest,
  RequestPipeline,
} from './request-pipeline.js';
import { apiVersionOf, type ResourceRef, resourcePath } from './resources.js';
import type { RawResponse } from './transport.js';
import type { KubeObject, V1Secret } from './types.js';

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Page size; the client follows `continue` until the list is complete. */
  limit?: number;
  /** Aborts the list (an informer being stopped); the client's own close aborts it too. */
  signal?: AbortSignal;
  /**
   * Applied to each item as its page arrives (an informer's trim): a cache that keeps a few fields
   * of every Service then never holds every whole Service at once while it lists.
   */
  transform?: (item: KubeObject) => KubeObject;
  /**
   * Makes the list a check that the server has reached this resourceVersion: one page of a list at
   * least that fresh (kube's NotOlderThan), counted as `list-check` (see listResourceVersion).
   */
  versionCheck?: string;
}

/** For the verbs that take it: aborting `signal` ends the request (a deadline of the caller's). */
export interface RequestOptions {
  signal?: AbortSignal;
  /** Bypass the client's rate limiter (Lease renewals; see PipelineRequest). */
  exemptFromRateLimit?: boolean;
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

/**
 * Accept for metadata-only answers: kube-apiserver transforms any answer that is one object into a
 * meta.k8s.io PartialObjectMetadata (handlers/response.go); a server without it answers the plain
 * object, which carries the same metadata.
 */
const METADATA_ANSWER = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json';

export interface DeleteOptions {
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground';
  gracePeriodSeconds?: number;
  /** Delete only if the object still has this resourceVersion (precondition). */
  resourceVersion?: string;
}

export class KubeClient {
  private readonly pipeline: RequestPipeline;

  constructor(
    readonly config: KubeConfig,
    opts: KubeClientOptions = {},
  ) {
    this.pipeline = new RequestPipeline(config, opts);
  }

  static fromKubeconfigFile(path: string, context?: string, opts?: KubeClientOptions): KubeClient {
    return new KubeClient(loadKubeconfigFile(path, context), opts);
  }
  /** A `$KUBECONFIG` list, merged as kubectl merges it. */
  static fromKubeconfigList(
    paths: readonly string[],
    context?: string,
    opts?: KubeClientOptions,
  ): KubeClient {
    return new KubeClient(loadKubeconfigList(paths, context), opts);
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
    return this.pipeline.server.toString();
  }

  get closed(): boolean {
    return this.pipeline.closed;
  }

  stats(): ClientStats {
    return this.pipeline.stats();
  }

  /** A raw request for what the typed verbs do not cover (TokenReview, discovery). */
  request(verb: string, method: string, path: string, opts: PipelineRequest = {}): Promise<RawResponse> {
    return this.pipeline.request(verb, method, path, opts);
  }

  /**
   * This client (the same connections, rate limiter and counters) with every write first asking
   * `mayWrite`: a leader-elected controller's writes, fenced by its term at each write rather than
   * at the start of a sync that may outlive it (a process frozen mid-sync resumes after another
   * replica took the Lease). A refused write rejects with NOT_LEADER and never leaves the process;
   * reads and watches are not fenced. Closing either closes both.
   */
  fencedWrites(mayWrite: () => boolean): KubeClient {
    const fenced = Object.create(this) as KubeClient;
    const request: KubeClient['request'] = async (verb, method, path, opts) => {
      if (method !== 'GET' && !mayWrite()) {
        throw new IsthmusError('NOT_LEADER', `not leading: ${verb} ${path} not sent`);
      }
      return this.request(verb, method, path, opts);
    };
    return Object.defineProperty(fenced, 'request', { value: request });
  }

  async get<T extends KubeObject>(
    res: ResourceRef,
    namespace: string | undefined,
    name: string,
    opts: RequestOptions = {},
  ): Promise<T | undefined> {
    try {
      return (await this.request('get', 'GET', resourcePath(res, namespace, name), opts)).body as T;
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
      const verb = opts.versionCheck === undefined ? 'list' : 'list-check';
      const { body } = await this.request(verb, 'GET', resourcePath(res, opts.namespace), {
        query: {
          labelSelector: opts.labelSelector || undefined,
          fieldSelector: opts.fieldSelector || undefined,
          limit: opts.limit,
          continue: cont,
          resourceVersion: opts.versionCheck,
          // With a limit and no match, a resourceVersion means Exact (KEP-2523): a version older
          // than etcd's compaction would be 410 Gone. The check wants "at least this new".
          resourceVersionMatch: opts.versionCheck === undefined ? undefined : 'NotOlderThan',
        },
        signal: opts.signal,
      });
      const page = body as { items?: T[]; metadata?: { resourceVersion?: string; continue?: string } };
      // List items carry no apiVersion/kind; fill them so objects look the same from list and watch.
      for (const item of page.items ?? []) {
        const full = { apiVersion: apiVersionOf(res), kind: res.kind, ...item };
        items.push((opts.transform ? opts.transform(full) : full) as T);
      }
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
      cont = opts.versionCheck === undefined ? page.metadata?.continue || undefined : undefined;
    } while (cont);
    return { items, resourceVersion };
  }

  /**
   * The resourceVersion of a one-item list at least as fresh as `resourceVersion`: an informer's
   * check, before it resumes a watch from that version, that the server has not gone back in time
   * (kube-apiserver answers 504 ResourceVersionTooLarge when it is behind). No label selector: on
   * kube <= 1.32 a list with a limit is read from etcd, which doubles the limit (up to 10,000)
   * until a selective one matches, so a selective informer's check would read every object of the
   * resource. The field selector stays: one pinning metadata.name is what authorizes the watch.
   * Lists no objects anyone applies: not a re-list for a wrapper of `list` (the mirror's identity
   * gate wraps this method itself).
   */
  async listResourceVersion(
    res: ResourceRef,
    opts: Pick<ListOptions, 'namespace' | 'fieldSelector' | 'signal'> & {
      resourceVersion: string;
    },
  ): Promise<string> {
    const { resourceVersion, ...rest } = opts;
    return (await this.list(res, { ...rest, limit: 1, versionCheck: resourceVersion })).resourceVersion;
  }

  private withTypeMeta<T extends KubeObject>(res: ResourceRef, obj: T): T {
    return { ...obj, apiVersion: obj.apiVersion ?? apiVersionOf(res), kind: obj.kind ?? res.kind };
  }

  async create<T extends KubeObject>(res: ResourceRef, obj: T, opts: RequestOptions = {}): Promise<T> {
    const path = resourcePath(res, obj.metadata?.namespace);
    return (await this.request('create', 'POST', path, { body: this.withTypeMeta(res, obj), ...opts }))
      .body as T;
  }

  /**
   * A create answered with the new object's metadata only (uid, resourceVersion…), for writers that
   * need nothing else back: the API server skips serialising the rest and the client parsing it.
   */
  async createForMetadata(res: ResourceRef, obj: KubeObject): Promise<KubeObject> {
    const path = resourcePath(res, obj.metadata?.namespace);
    const body = this.withTypeMeta(res, obj);
    return (await this.request('create', 'POST', path, { body, accept: METADATA_ANSWER })).body as KubeObject;
  }

  /** PUT: the object's metadata.resourceVersion, when set, makes this a compare-and-swap (409 if stale). */
  async replace<T extends KubeObject>(res: ResourceRef, obj: T, opts: RequestOptions = {}): Promise<T> {
    const path = resourcePath(res, obj.metadata?.namespace, obj.metadata?.name ?? '');
    return (await this.request('update', 'PUT', path, { body: this.withTypeMeta(res, obj), ...opts }))
      .body as T;
  }

  /** A replace answered with metadata only, as `createForMetadata`. */
  async replaceForMetadata(res: ResourceRef, obj: KubeObject): Promise<KubeObject> {
    const path = resourcePath(res, obj.metadata?.namespace, obj.metadata?.name ?? '');
    const body = this.withTypeMeta(res, obj);
    return (await this.request('update', 'PUT', path, { body, accept: METADATA_ANSWER })).body as KubeObject;
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
    return this.patchPath<T>(resourcePath(res, namespace, name), body, type);
  }

  async patchStatus<T extends KubeObject>(
    res: ResourceRef,
    namespace: string | undefined,
    name: string,
    body: unknown,
    type: PatchType = 'merge',
  ): Promise<T> {
    return this.patchPath<T>(`${resourcePath(res, namespace, name)}/status`, body, type);
  }

  private async patchPath<T>(path: string, body: unknown, type: PatchType): Promise<T> {
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
  async watch(res: ResourceRef, opts: WatchOptions): Promise<Readable> {
    const query = {
      watch: 1,
      resourceVersion: opts.resourceVersion,
      allowWatchBookmarks: true,
      labelSelector: opts.labelSelector || undefined,
      fieldSelector: opts.fieldSelector || undefined,
      timeoutSeconds: opts.timeoutSeconds,
    };
    return this.pipeline.stream(
      resourcePath(res, opts.namespace),
      query,
      opts.idleTimeoutMs ?? 5 * 60_000,
      opts.signal,
    );
  }

  /** Aborts in-flight requests and rate-limit waits and closes pooled sockets. */
  close(): void {
    this.pipeline.close();
  }
}

export type { ClientStats, KubeClientOptions, KubeRequestEvent } from './request-pipeline.js';
export { requestChannel } from './request-pipeline.js';
