/**
 * The HTTP(S) face of a sandbox: body limits, injected faults, authentication, and routing to
 * discovery or resource handlers; every failure leaves as a JSON Status. Connections are tracked
 * so that close() and goOffline() end them all.
 */
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { pathNotFound, tooLarge } from './api-status.js';
import type { Auth } from './auth.js';
import { apiGroup, apiGroupList, apiResourceList, apiVersions, SERVER_VERSION } from './discovery.js';
import type { FaultState } from './faults.js';
import { openapiGroupVersion, openapiRoot, parseOpenapiPath } from './openapi.js';
import { decodeProtobufObject, isProtobuf } from './protobuf.js';
import type { Registry } from './registry.js';
import { parsePath } from './request-info.js';
import { type HandlerDeps, handleResource, type Reply } from './resource-handler.js';
import { send, sendError } from './respond.js';

/** kube-apiserver's maximum request body (apiserver DefaultMaxRequestSizeBytes, 3 MiB). */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

export interface ServerDeps extends HandlerDeps {
  registry: Registry;
  auth: Auth;
  faults: FaultState;
  countRequest: () => void;
  serverAddress: () => string;
}

class BodyTooLarge extends Error {}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) return Promise.reject(new BodyTooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const HEALTH_PATHS = new Set(['/healthz', '/livez', '/readyz']);

function discoveryReply(deps: ServerDeps, pathname: string): Reply | undefined {
  const parsed = parsePath(pathname);
  if (parsed.type !== 'discovery') return undefined;
  const { group, version, legacy } = parsed.info;
  let body: unknown;
  if (legacy && version === undefined) body = apiVersions(deps.serverAddress());
  else if (!legacy && group === undefined) body = apiGroupList(deps.registry);
  else if (version === undefined) body = apiGroup(deps.registry, group!);
  else body = apiResourceList(deps.registry, group!, version);
  if (body === undefined) throw pathNotFound();
  return { status: 200, body };
}

async function handle(deps: ServerDeps, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  deps.countRequest();
  const url = new URL(req.url ?? '/', 'http://sandbox');
  try {
    if (deps.faults.delayMs > 0) await new Promise((r) => setTimeout(r, deps.faults.delayMs));
    let body: Buffer;
    try {
      body = await readBody(req);
    } catch (err) {
      if (err instanceof BodyTooLarge) throw tooLarge(MAX_BODY_BYTES);
      throw err;
    }
    const injected = deps.faults.takeFailure();
    if (injected) throw injected;
    if (HEALTH_PATHS.has(url.pathname)) return send(res, 200, 'ok');
    const principal = deps.auth.authenticate(req.headers.authorization);
    if (url.pathname === '/version' || url.pathname === '/version/') return send(res, 200, SERVER_VERSION);
    if (url.pathname === '/openapi/v3' || url.pathname === '/openapi/v3/')
      return send(res, 200, openapiRoot(deps.registry));
    const gv = parseOpenapiPath(url.pathname);
    if (gv) {
      const doc = openapiGroupVersion(deps.registry, gv[0], gv[1]);
      if (!doc) throw pathNotFound();
      return send(res, 200, doc);
    }
    const disc = discoveryReply(deps, url.pathname);
    if (disc) return send(res, disc.status, disc.body);
    const parsed = parsePath(url.pathname);
    if (parsed.type !== 'resource') throw pathNotFound();
    // Routing comes before decoding, as in kube-apiserver: a resource it does not serve is a 404
    // (handleResource's), whatever the body, not a complaint about the body's encoding.
    const served = deps.registry.find(parsed.info.group, parsed.info.version, parsed.info.plural);
    const raw =
      served && isProtobuf(req.headers['content-type'])
        ? JSON.stringify(decodeProtobufObject(body))
        : body.toString('utf8');
    const reply = handleResource(deps, req, res, parsed.info, url.searchParams, raw, principal, body);
    if (reply) {
      const warnings = reply.warnings?.map((w) => `299 - ${JSON.stringify(w)}`) ?? [];
      if (warnings.length > 0) res.setHeader('Warning', warnings);
      send(res, reply.status, reply.body);
    }
  } catch (err) {
    sendError(res, err);
  }
}

/** An HTTP(S) server whose connections can all be ended, and which can stop and restart listening. */
export class SandboxListener {
  readonly server: http.Server | https.Server;
  private readonly sockets = new Set<Socket>();

  constructor(deps: ServerDeps, tls: { certPem: string; keyPem: string } | undefined) {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      handle(deps, req, res).catch((err) => sendError(res, err));
    };
    this.server = tls
      ? https.createServer({ cert: tls.certPem, key: tls.keyPem }, handler)
      : http.createServer(handler);
    // Long watches must not be cut by Node's defaults; kube-apiserver ends them at timeoutSeconds.
    this.server.requestTimeout = 0;
    this.server.headersTimeout = 60_000;
    this.server.keepAliveTimeout = 5_000;
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server.on('clientError', (_err, socket) => socket.destroy());
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        const addr = this.server.address();
        resolve(typeof addr === 'object' && addr ? addr.port : port);
      });
    });
  }

  /** Stops listening and destroys every connection (in-flight requests and watches included). */
  stop(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server.listening) {
        this.destroySockets();
        resolve();
        return;
      }
      this.server.close(() => resolve());
      this.destroySockets();
    });
  }

  private destroySockets(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }
}
