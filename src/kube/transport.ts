/**
 * HTTP(S) to one API server. client-node supplies the credentials (tokens, token files, exec and
 * auth-provider plugins, client certificates); we own the connection: one keep-alive agent per
 * client (client-node builds a new agent per request), timeouts, and streaming for watches.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { bufferFromFileOrString, KubeConfig } from '@kubernetes/client-node';
import { IsthmusError } from '../errors.js';
import { errorFromResponse, errorFromTransport } from './errors.js';

export type Query = Record<string, string | number | boolean | undefined>;

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}

export interface RequestSpec {
  method: string;
  path: string;
  query?: Query;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  /** Socket inactivity limit; for watches this is the idle limit between events. */
  timeoutMs: number;
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

export class Transport {
  readonly server: URL;
  private readonly kc: KubeConfig;
  private readonly agent: http.Agent;
  private readonly lib: typeof http | typeof https;
  /** Static credentials are computed once; plugins and token files are asked per request (rotation). */
  private staticHeaders: Record<string, string> | undefined;
  private readonly dynamicAuth: boolean;

  constructor(
    kc: KubeConfig,
    private readonly userAgent = 'isthmus',
  ) {
    const cluster = kc.getCurrentCluster();
    const user = kc.getCurrentUser();
    if (!cluster) throw new IsthmusError('KUBECONFIG_INVALID', 'kubeconfig: current context has no cluster');
    this.server = new URL(cluster.server);
    this.kc = normalised(kc);
    this.dynamicAuth = Boolean(user?.exec || user?.authProvider);
    const tls: https.AgentOptions = {
      keepAlive: true,
      ca: bufferFromFileOrString(cluster.caFile, cluster.caData) ?? undefined,
      cert: bufferFromFileOrString(user?.certFile, user?.certData) ?? undefined,
      key: bufferFromFileOrString(user?.keyFile, user?.keyData) ?? undefined,
      servername: cluster.tlsServerName,
      rejectUnauthorized: !cluster.skipTLSVerify,
    };
    this.lib = this.server.protocol === 'http:' ? http : https;
    this.agent =
      this.server.protocol === 'http:' ? new http.Agent({ keepAlive: true }) : new https.Agent(tls);
  }

  private async authHeaders(): Promise<Record<string, string>> {
    if (this.staticHeaders && !this.dynamicAuth) return this.staticHeaders;
    const opts: https.RequestOptions = {};
    await this.kc.applyToHTTPSOptions(opts);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) if (v !== undefined) headers[k] = String(v);
    if (opts.auth) headers.Authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    this.staticHeaders = headers;
    return headers;
  }

  private async start(spec: RequestSpec): Promise<IncomingMessage> {
    const pathAndQuery = this.server.pathname.replace(/\/$/, '') + withQuery(spec.path, spec.query);
    const ctx = { method: spec.method, path: spec.path };
    let headers: Record<string, string>;
    try {
      headers = await this.authHeaders();
    } catch (err) {
      throw new IsthmusError(
        'KUBE_UNAUTHORIZED',
        `${spec.method} ${spec.path}: credentials: ${String(err)}`,
        {
          cause: err,
        },
      );
    }
    const payload = spec.body === undefined ? undefined : Buffer.from(JSON.stringify(spec.body));
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = this.lib.request(
        {
          protocol: this.server.protocol,
          hostname: this.server.hostname.replace(/^\[|\]$/g, ''),
          port: this.server.port || undefined,
          path: pathAndQuery,
          method: spec.method,
          agent: this.agent,
          signal: spec.signal,
          headers: {
            ...headers,
            Accept: 'application/json',
            'User-Agent': this.userAgent,
            ...(payload
              ? { 'Content-Type': spec.contentType ?? 'application/json', 'Content-Length': payload.length }
              : {}),
          },
        },
        (res) => {
          res.on('error', () => {}); // surfaced to the reader of the body; never unhandled
          resolve(res);
        },
      );
      req.setTimeout(spec.timeoutMs, () =>
        req.destroy(Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' })),
      );
      req.on('error', (err) =>
        reject(spec.signal?.aborted ? spec.signal.reason : errorFromTransport(err, ctx)),
      );
      req.end(payload);
    });
  }

  private async readBody(res: IncomingMessage, ctx: { method: string; path: string }): Promise<unknown> {
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of res) chunks.push(chunk as Buffer);
    } catch (err) {
      throw errorFromTransport(err, ctx);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    if (text === '') return undefined;
    if (String(res.headers['content-type'] ?? '').includes('json')) {
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
    const res = await this.start(spec);
    const body = await this.readBody(res, ctx);
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      throw errorFromResponse(status, body, { ...ctx, retryAfter: res.headers['retry-after'] });
    }
    return { status, headers: res.headers, body };
  }

  /** A streaming request (watch): resolves with the open 2xx response; errors are mapped as above. */
  async stream(spec: RequestSpec): Promise<IncomingMessage> {
    const res = await this.start(spec);
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      const ctx = { method: spec.method, path: spec.path };
      const body = await this.readBody(res, ctx);
      throw errorFromResponse(status, body, { ...ctx, retryAfter: res.headers['retry-after'] });
    }
    return res;
  }

  /** Closes pooled keep-alive sockets; in-flight requests are aborted by their own signals. */
  close(): void {
    this.agent.destroy();
  }
}
