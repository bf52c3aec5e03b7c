/**
 * The admin port (:4191, shared/DESIGN.md "Ports"): `/live`, `/ready`, `/metrics`, `/probe`,
 * `/routes`, `/certificate` over HTTP/1.1 and `grpc.health.v1.Health` over gRPC, on one listener.
 * Each connection's first bytes decide: the HTTP/2 client preface (RFC 9113 §3.4,
 * "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") goes to grpc-js through its connection injector, anything
 * else to node:http. One port keeps the Deployment's probes and the LoadBalancer-less admin Service
 * simple, as Linkerd's admin does.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net from 'node:net';
import { Duplex } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { parseHostPort } from '../host-port.js';
import { parseCertificate } from '../identity/certificate-info.js';
import { splitPem } from '../identity/pem.js';
import { isValidClusterName } from '../identity/spiffe.js';
import type { EgressRoute } from './egress.js';
import { HealthImplementation, healthPackage } from './health-service.js';
import type { RefusedRoute } from './watch-mirrors.js';

/** RFC 9113 §3.4: the client connection preface starts with this; "PRI " is no HTTP/1.1 method in use. */
const H2_PREFACE_START = Buffer.from('PRI * HTTP/2.0');
/** A client that sends nothing decisive within this time is cut (slowloris on the admin port). */
const SNIFF_TIMEOUT_MS = 10_000;
const DEFAULT_PROBE_TIMEOUT_MS = 2_000;
const MAX_PROBE_TIMEOUT_MS = 30_000;

export interface Readiness {
  ready: boolean;
  /** Why not ready: "certificates not loaded", "exported services not synced", … */
  reasons: string[];
}

export interface ProbeResult {
  alive: boolean;
  latencyMs: number;
  error?: string;
  /** Not probed: the address is not one the gateway may dial (answered 403, not 503). */
  refused?: true;
  /**
   * Whose a failure is, as the answer says to the controller (src/mirror/probe-answer.ts): `local`
   * when this gateway could not probe (no usable certificate, a refused target, an error of its
   * own) and so asked nothing of the remote; `remote` when it dialled and the remote failed. Unset
   * by the probe, a refusal is local and any other failure the remote's. Older controllers ignore
   * it: the status codes are as before.
   */
  failure?: 'local' | 'remote';
  /** The version the remote gateway says it runs, when it answered. */
  version?: string;
  /**
   * The address that answered, `<host>:<port>`, when it is not the one asked about: another address
   * the same Link names for that gateway, tried because nothing answered at the one asked about
   * (SessionPool, gateway-failover.ts). Alive all the same: the remote gateway is reachable.
   */
  via?: string;
}

export interface AdminOptions {
  host: string;
  port: number;
  readiness: () => Readiness;
  metrics: () => Promise<string>;
  /** Probes a remote gateway through the tunnel path (SessionPool.probe). */
  probe: (
    gateway: { host: string; port: number },
    path: string,
    timeoutMs: number,
    cluster?: string,
  ) => Promise<ProbeResult>;
  /** The egress listeners and where each leads, for `/routes` (`isthmus check` compares them with the mirrors). */
  routes?: () => EgressRoute[];
  /**
   * The mirror routes refused, with the reason (`/routes` lists them next to the routes): a Service
   * claiming a port or a gateway the Links do not back shows here, not only in a log line, and so
   * does an admitted port the egress cannot listen on (`unbound`: another process holds it).
   */
  refused?: () => RefusedRoute[];
  /**
   * The chain new handshakes present (rotation swaps it), for `/certificate`: `isthmus check` reads
   * every replica's, where a handshake through the Service sees the one replica it lands on.
   * Undefined: no certificate yet (503).
   */
  certificate?: () => PresentedCertificate | undefined;
}

/** What `/certificate` answers: certificates only, never the key. */
export interface PresentedCertificate {
  /** PEM, leaf first, as peers get them in the handshake. */
  chain: string[];
  /** The leaf's serial, hex as node:crypto writes it (what a CRL and `certs revoke` name). */
  serial: string;
  /** The leaf's notAfter, ISO 8601. */
  notAfter: string;
}

/** `/certificate` of a chain (leaf first): only its CERTIFICATE blocks, so no key can slip in. */
export function presentedCertificate(chainPem: string): PresentedCertificate {
  const chain = splitPem(chainPem);
  const leaf = parseCertificate(chain[0] ?? '');
  return { chain, serial: leaf.serialNumber, notAfter: new Date(leaf.validTo).toISOString() };
}

export interface AdminServer {
  readonly address: { host: string; port: number };
  /** Tells gRPC Watch streams to re-check readiness (call after anything readiness depends on). */
  refresh(): void;
  close(): Promise<void>;
}

export type SniffVerdict = 'grpc' | 'http' | 'undecided';

/** Decides on the first bytes of a connection: a prefix of the HTTP/2 preface is still undecided. */
export function sniffProtocol(head: Buffer): SniffVerdict {
  const n = Math.min(head.length, H2_PREFACE_START.length);
  if (head.subarray(0, n).equals(H2_PREFACE_START.subarray(0, n))) {
    return head.length >= H2_PREFACE_START.length ? 'grpc' : 'undecided';
  }
  return 'http';
}

export async function startAdmin(opts: AdminOptions): Promise<AdminServer> {
  const health = new HealthImplementation(() => (opts.readiness().ready ? 'SERVING' : 'NOT_SERVING'));
  const grpcServer = new grpc.Server();
  grpcServer.addService(healthPackage().service, health.handlers());
  const injector = grpcServer.createConnectionInjector(grpc.ServerCredentials.createInsecure());

  const httpServer = http.createServer((req, res) => {
    handleHttp(req, res, opts).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: String(err) });
      else res.destroy();
    });
  });
  httpServer.keepAliveTimeout = 5_000;

  const sockets = new Set<net.Socket>();
  const listener = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    sniff(socket, (verdict) => {
      // The sniffed bytes sit in the socket's readable buffer, ahead of anything read later.
      // node:http reads them on 'data' once the socket flows again; node:http2 reads the native
      // handle directly and would skip them, so gRPC gets a JS stream over the socket instead.
      if (verdict === 'grpc') injector.injectConnection(socketStream(socket));
      else httpServer.emit('connection', socket);
      socket.resume();
    });
  });

  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(opts.port, opts.host, () => {
      listener.off('error', reject);
      resolve();
    });
  });
  const bound = listener.address() as net.AddressInfo;

  let closing: Promise<void> | undefined;
  return {
    address: { host: bound.address, port: bound.port },
    refresh: () => health.refresh(),
    close() {
      closing ??= (async () => {
        health.endAll();
        const listenerClosed = new Promise<void>((resolve) => listener.close(() => resolve()));
        injector.destroy();
        grpcServer.forceShutdown();
        httpServer.closeAllConnections();
        for (const s of sockets) s.destroy();
        await listenerClosed;
      })();
      return closing;
    },
  };
}

/** Reads until the protocol is known, then puts the bytes back and hands the socket over. */
function sniff(socket: net.Socket, decide: (verdict: 'grpc' | 'http') => void): void {
  let head = Buffer.alloc(0);
  const timer = setTimeout(() => socket.destroy(), SNIFF_TIMEOUT_MS);
  const onData = (chunk: Buffer): void => {
    head = Buffer.concat([head, chunk]);
    const verdict = sniffProtocol(head);
    if (verdict === 'undecided') return;
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('close', onClose);
    socket.pause();
    socket.unshift(head);
    decide(verdict);
  };
  const onClose = (): void => clearTimeout(timer);
  socket.on('data', onData);
  socket.once('close', onClose);
}

/** A Duplex over `socket` that yields its buffered bytes first (health checks are tiny: no cost). */
function socketStream(socket: net.Socket): Duplex {
  const stream = new Duplex({
    read: () => {
      socket.resume();
    },
    write: (chunk: Buffer, _encoding, callback) => {
      socket.write(chunk, callback);
    },
    final: (callback) => {
      socket.end(callback);
    },
    destroy: (err, callback) => {
      socket.destroy(err ?? undefined);
      callback(err);
    },
  });
  socket.on('data', (chunk: Buffer) => {
    if (!stream.push(chunk)) socket.pause();
  });
  socket.once('end', () => stream.push(null));
  socket.once('error', (err) => stream.destroy(err));
  socket.once('close', () => stream.destroy());
  return stream;
}

async function handleHttp(req: IncomingMessage, res: ServerResponse, opts: AdminOptions): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://admin');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    sendText(res, 405, 'method not allowed\n');
    return;
  }
  switch (url.pathname) {
    case '/live':
      sendText(res, 200, 'live\n');
      return;
    case '/ready': {
      const r = opts.readiness();
      sendText(res, r.ready ? 200 : 503, r.ready ? 'ready\n' : `not ready: ${r.reasons.join('; ')}\n`);
      return;
    }
    case '/metrics': {
      const body = await opts.metrics();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(body);
      return;
    }
    case '/probe':
      await handleProbe(url.searchParams, res, opts);
      return;
    case '/routes':
      if (opts.routes) {
        sendJson(res, 200, { routes: opts.routes(), refused: opts.refused?.() ?? [] });
        return;
      }
      sendText(res, 404, 'not found\n');
      return;
    case '/certificate': {
      const presented = opts.certificate?.();
      if (presented) sendJson(res, 200, presented);
      else if (opts.certificate) sendJson(res, 503, { error: 'no certificate yet: see /ready' });
      else sendText(res, 404, 'not found\n');
      return;
    }
    default:
      sendText(res, 404, 'not found\n');
  }
}

export type ProbeQuery =
  | { ok: true; gateway: { host: string; port: number }; path: string; timeoutMs: number; cluster?: string }
  | { ok: false; error: string };

/**
 * Validates `/probe?gateway=<host>:<port>&path=/ready&timeoutMs=2000[&cluster=<name>]`. With
 * `cluster`, the gateway must also hold that cluster's gateway identity to count as alive.
 */
export function parseProbeQuery(params: URLSearchParams): ProbeQuery {
  const gatewayParam = params.get('gateway');
  if (gatewayParam === null) return { ok: false, error: 'gateway=<host>:<port> is required' };
  const gateway = parseHostPort(gatewayParam);
  if (gateway === null) return { ok: false, error: `gateway "${gatewayParam}" is not <host>:<port>` };
  const path = params.get('path') ?? '/ready';
  if (!path.startsWith('/') || /[\s\x00-\x1f]/.test(path))
    return { ok: false, error: `path "${path}" is invalid` };
  const timeoutParam = params.get('timeoutMs');
  const timeoutMs = timeoutParam === null ? DEFAULT_PROBE_TIMEOUT_MS : Number(timeoutParam);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0 || timeoutMs > MAX_PROBE_TIMEOUT_MS) {
    return { ok: false, error: `timeoutMs must be an integer in 1..${MAX_PROBE_TIMEOUT_MS}` };
  }
  const cluster = params.get('cluster');
  if (cluster === null) return { ok: true, gateway, path, timeoutMs };
  if (!isValidClusterName(cluster)) return { ok: false, error: `cluster "${cluster}" is not a cluster name` };
  return { ok: true, gateway, path, timeoutMs, cluster };
}

async function handleProbe(params: URLSearchParams, res: ServerResponse, opts: AdminOptions): Promise<void> {
  const query = parseProbeQuery(params);
  if (!query.ok) {
    sendJson(res, 400, { error: query.error, failure: 'local' });
    return;
  }
  let result: ProbeResult;
  try {
    result = await opts.probe(query.gateway, query.path, query.timeoutMs, query.cluster);
  } catch (err) {
    // Answered 503 as a failed probe (the caller asked "alive?"), but this gateway's own error: the
    // remote is not to blame for it.
    const error = err instanceof Error ? err.message : String(err);
    result = { alive: false, latencyMs: 0, error, failure: 'local' };
  }
  if (result.alive) sendJson(res, 200, result);
  else sendJson(res, result.refused ? 403 : 503, { ...result, failure: failureOf(result) });
}

function failureOf(result: ProbeResult): 'local' | 'remote' {
  return result.failure ?? (result.refused ? 'local' : 'remote');
}

function sendText(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
