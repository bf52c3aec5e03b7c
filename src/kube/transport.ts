/**
 * HTTP(S) to one API server. client-node supplies the credentials (tokens, token files, exec and
 * auth-provider plugins, client certificates); we own the connection: one undici keep-alive pool
 * per client (client-node builds a new node:http agent per request, and node:http's client costs
 * about twice undici's CPU per request, which a controller creating thousands of objects pays),
 * timeouts, and streaming for watches.
 */
import type { Readable } from 'node:stream';
import { bufferFromFileOrString, KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { type Dispatcher, Pool } from 'undici';
import { IsthmusError } from '../errors.js';
import { errorFromResponse, errorFromTransport } from './errors.js';
import { checkServerIdentity } from './server-identity.js';

export type Query = Record<string, string | number | boolean | undefined>;

export type ResponseHeaders = Dispatcher.ResponseData['headers'];

export interface RawResponse {
  status: number;
  headers: ResponseHeaders;
  body: unknown;
}

/** An open 2xx watch answer: its body streams the events. */
export interface StreamResponse {
  headers: ResponseHeaders;
  body: Readable;
}

export interface RequestSpec {
  method: string;
  path: string;
  query?: Query;
  body?: unknown;
  contentType?: string;
  accept?: string;
  signal?: AbortSignal;
  /** Socket inactivity limit; for watches this is the idle limit between events. */
  timeoutMs: number;
  /** The wait for the answer's head, when not `timeoutMs`. */
  headersTimeoutMs?: number;
}

function withQuery(path: string, query: Query | undefined): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

/**
 * client-node refuses plain-http servers unless insecure-skip-tls-verify is set (there is no TLS
 * to skip); kubectl allows them. Marking them skipTLSVerify lets client-node compute credentials.
 */
function normalised(kc: KubeConfig): KubeConfig {
  const out = new KubeConfig();
  out.loadFromOptions({
    clusters: kc.clusters.map((c) => (c.server.startsWith('http:') ? { ...c, skipTLSVerify: true } : c)),
    users: kc.users,
    contexts: kc.contexts,
    currentContext: kc.currentContext,
  });
  return out;
}

/**
 * A certificate or key of the kubeconfig, inline or from its file. A file that cannot be read is a
 * bad kubeconfig (KUBECONFIG_INVALID naming the field and file), not a bare ENOENT thrown from deep
 * inside client-node.
 */
function credential(field: string, file: string | undefined, data: string | undefined): Buffer | undefined {
  try {
    return bufferFromFileOrString(file, data) ?? undefined;
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
    throw new IsthmusError('KUBECONFIG_INVALID', `kubeconfig: ${field} ${file}: cannot read: ${reason}`, {
      cause: err,
      terminal: true,
    });
  }
}

export class Transport {
  readonly server: URL;
  private readonly kc: KubeConfig;
  private readonly pool: Pool;
  private readonly basePath: string;
  /** Static credentials are computed once; plugins and token files are asked per request (rotation). */
  private staticHeaders: Record<string, string> | undefined;
  private readonly dynamicAuth: boolean;

  constructor(
    kc: KubeConfig,
    private readonly userAgent = 'isthmus',
    /** TCP connect and TLS handshake: RequestPipeline passes the request timeout, at most 10 s (undici's own default). */
    connectTimeoutMs = 10_000,
  ) {
    const cluster = kc.getCurrentCluster();
    const user = kc.getCurrentUser();
    if (!cluster) throw new IsthmusError('KUBECONFIG_INVALID', 'kubeconfig: current context has no cluster');
    this.server = new URL(cluster.server);
    this.basePath = this.server.pathname.replace(/\/$/, '');
    this.kc = normalised(kc);
    this.dynamicAuth = Boolean(user?.exec || user?.authProvider);
    this.pool = new Pool(this.server.origin, {
      connect:
        this.server.protocol === 'https:'
          ? {
              ca: credential('certificate-authority', cluster.caFile, cluster.caData),
              cert: credential('client-certificate', user?.certFile, user?.certData),
              key: credential('client-key', user?.keyFile, user?.keyData),
              servername: cluster.tlsServerName,
              rejectUnauthorized: !cluster.skipTLSVerify,
              checkServerIdentity,
              timeout: connectTimeoutMs,
            }
          : { timeout: connectTimeoutMs },
    });
  }

  private async authHeaders(): Promise<Record<string, string>> {
    if (this.staticHeaders && !this.dynamicAuth) return this.staticHeaders;
    const opts: { headers?: Record<string, unknown>; auth?: string } = {};
    await this.kc.applyToHTTPSOptions(opts);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) if (v !== undefined) headers[k] = String(v);
    if (opts.auth) headers.Authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    this.staticHeaders = headers;
    return headers;
  }

  /** Headers and body of a request, credentials included. */
  private async prepare(spec: RequestSpec): Promise<{ headers: Record<string, string>; payload?: string }> {
    let auth: Record<string, string>;
    try {
      auth = await this.authHeaders();
    } catch (err) {
      throw new IsthmusError(
        'KUBE_UNAUTHORIZED',
        `${spec.method} ${spec.path}: credentials: ${String(err)}`,
        {
          cause: err,
        },
      );
    }
    const payload = spec.body === undefined ? undefined : JSON.stringify(spec.body);
    const headers: Record<string, string> = {
      ...auth,
      accept: spec.accept ?? 'application/json',
      'user-agent': this.userAgent,
    };
    if (payload !== undefined) headers['content-type'] = spec.contentType ?? 'application/json';
    return payload === undefined ? { headers } : { headers, payload };
  }

  private options(spec: RequestSpec, prepared: { headers: Record<string, string>; payload?: string }) {
    return {
      method: spec.method as Dispatcher.HttpMethod,
      path: this.basePath + withQuery(spec.path, spec.query),
      // Both bound silence, as a socket inactivity timeout would: the wait for the answer's head,
      // then each gap between body chunks (for a watch, between events).
      headersTimeout: spec.headersTimeoutMs ?? spec.timeoutMs,
      bodyTimeout: spec.timeoutMs,
      headers: prepared.headers,
      body: prepared.payload,
    };
  }

  /**
   * One complete exchange through undici's dispatcher API: the answer is collected as bytes, with
   * no Readable, stream events or promise chain per response (a controller's initial sync makes
   * thousands of small requests, and that machinery was a visible part of its CPU).
   */
  private exchange(spec: RequestSpec, prepared: { headers: Record<string, string>; payload?: string }) {
    return new Promise<{ status: number; headers: ResponseHeaders; body: Buffer }>((resolve, reject) => {
      const { signal } = spec;
      let status = 0;
      let headers: ResponseHeaders = {};
      let chunks: Buffer[] = [];
      let abort: ((reason: Error) => void) | undefined;
      const onAbort = () => abort?.(signal?.reason);
      const done = () => signal?.removeEventListener('abort', onAbort);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pool.dispatch(this.options(spec, prepared), {
        onRequestStart: (controller) => {
          if (signal?.aborted) controller.abort(signal.reason);
          else abort = (reason) => controller.abort(reason);
        },
        onResponseStart: (_c, statusCode, responseHeaders) => {
          status = statusCode;
          headers = responseHeaders as ResponseHeaders;
          chunks = [];
        },
        onResponseData: (_c, chunk) => {
          chunks.push(chunk);
        },
        onResponseEnd: () => {
          done();
          resolve({ status, headers, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) });
        },
        onResponseError: (_c, err) => {
          done();
          reject(err);
        },
      });
    });
  }

  private parseBody(text: string, headers: ResponseHeaders, ctx: { method: string; path: string }): unknown {
    if (text === '') return undefined;
    if (String(headers['content-type'] ?? '').includes('json')) {
      try {
        return JSON.parse(text);
      } catch (err) {
        throw errorFromTransport(err, ctx);
      }
    }
    return text;
  }

  /** A complete request; non-2xx answers become mapped errors. */
  async request(spec: RequestSpec): Promise<RawResponse> {
    const ctx = { method: spec.method, path: spec.path };
    const prepared = await this.prepare(spec);
    let res: { status: number; headers: ResponseHeaders; body: Buffer };
    try {
      res = await this.exchange(spec, prepared);
    } catch (err) {
      throw spec.signal?.aborted ? spec.signal.reason : errorFromTransport(err, ctx);
    }
    const body = this.parseBody(res.body.toString('utf8'), res.headers, ctx);
    if (res.status < 200 || res.status >= 300) {
      throw errorFromResponse(res.status, body, { ...ctx, retryAfter: retryAfterHeader(res.headers) });
    }
    return { status: res.status, headers: res.headers, body };
  }

  /** A streaming request (watch): resolves with the open 2xx response; errors are mapped as above. */
  async stream(spec: RequestSpec): Promise<StreamResponse> {
    const ctx = { method: spec.method, path: spec.path };
    const prepared = await this.prepare(spec);
    let res: Dispatcher.ResponseData;
    try {
      res = await this.pool.request({ ...this.options(spec, prepared), signal: spec.signal });
    } catch (err) {
      throw spec.signal?.aborted ? spec.signal.reason : errorFromTransport(err, ctx);
    }
    const status = res.statusCode;
    if (status < 200 || status >= 300) {
      let text: string;
      try {
        text = await res.body.text();
      } catch (err) {
        throw errorFromTransport(err, ctx);
      }
      const body = this.parseBody(text, res.headers, ctx);
      throw errorFromResponse(status, body, { ...ctx, retryAfter: retryAfterHeader(res.headers) });
    }
    return { headers: res.headers, body: res.body };
  }

  /** Closes pooled keep-alive sockets; in-flight requests are aborted by their own signals. */
  close(): void {
    this.pool.destroy().catch(() => {});
  }
}

function retryAfterHeader(headers: ResponseHeaders): string | undefined {
  const v = headers['retry-after'];
  return Array.isArray(v) ? v[0] : v;
}
