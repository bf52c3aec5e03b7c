/**
 * The lab's workloads: a podinfo-compatible backend (GET / answers JSON with hostname and message,
 * as ghcr.io/stefanprodan/podinfo does) and a frontend that calls Services by name the way an
 * unmeshed pod does through kube-proxy: it picks a ready endpoint of the Service's EndpointSlices.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import type { Informer } from '../../kube/informer.js';
import { SERVICE_NAME_LABEL } from '../../kube/keys.js';
import type { V1EndpointSlice, V1Service } from '../../kube/types.js';
import { LAB_NAMESPACE } from './topology.js';

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

function listen(server: Server, host: string, port: number): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const { port: bound } = server.address() as AddressInfo;
      resolve({
        url: `http://${host}:${bound}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

export function startPodinfo(opts: { host: string; port: number; hostname: string; message: string }) {
  const body = (path: string) =>
    JSON.stringify({
      hostname: opts.hostname,
      version: '6.7.1',
      revision: 'isthmus-lab',
      color: '#34577c',
      message: opts.message,
      goos: process.platform,
      runtime: `node ${process.version}`,
      path,
    });
  const server = createServer((req, res) => {
    if (req.url === '/readyz' || req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"OK"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(body(req.url ?? '/'));
  });
  return listen(server, opts.host, opts.port);
}

/**
 * kube-proxy's choice, reduced to its essence: a random ready endpoint of any slice of the Service,
 * on the port named `portName` (or the only port of a single-port Service).
 */
export function pickEndpoint(
  slices: readonly V1EndpointSlice[],
  service: string,
  portName: string,
  random: () => number = Math.random,
): { host: string; port: number } | undefined {
  const choices: { host: string; port: number }[] = [];
  for (const slice of slices) {
    if (slice.metadata?.labels?.[SERVICE_NAME_LABEL] !== service) continue;
    // The named port, or a single-port Service's only one (`kubectl expose` leaves it unnamed).
    const ports = slice.ports ?? [];
    const port = (
      ports.find((p) => (p.name ?? '') === portName) ?? (ports.length === 1 ? ports[0] : undefined)
    )?.port;
    if (port === undefined) continue;
    for (const ep of slice.endpoints ?? []) {
      // The API reads an absent `ready` as true.
      if (ep.conditions?.ready === false) continue;
      for (const host of ep.addresses.slice(0, 1)) choices.push({ host, port });
    }
  }
  return choices.length === 0 ? undefined : choices[Math.floor(random() * choices.length)];
}

/** A JSON text as it is; any other body as a JSON string, so the frontend's answer is JSON always. */
function asJson(text: string): string {
  try {
    JSON.parse(text);
    return text;
  } catch {
    return JSON.stringify(text);
  }
}

/**
 * GET /<service> on the frontend calls http://<service>:9898/ in the lab namespace; GET / calls the
 * `podinfo` apex (the TrafficSplit's Service, steered by the failover controller). A name with no
 * Service there is a 404 (as a pod's DNS lookup finds no name), even while the slices of a Service
 * just deleted (unexported) remain; a Service without a ready endpoint is a 503.
 */
export function startFrontend(opts: {
  host: string;
  port: number;
  cluster: string;
  /** The Services and EndpointSlices of the lab namespace. */
  services: Informer<V1Service>;
  slices: Informer<V1EndpointSlice>;
  /**
   * How long an idle upstream connection is kept (undici's default, ~4 s, when absent). A tunnel's
   * access-log line is written when it ends: test/lab.test.ts shortens this to see one sooner.
   */
  keepAliveMs?: number;
}): Promise<RunningServer> {
  // Calls leave from the frontend's own address, as a pod's leave from its IP: the gateways' access
  // logs then name the frontend, not 127.0.0.1.
  const keepAlive =
    opts.keepAliveMs === undefined
      ? {}
      : { keepAliveTimeout: opts.keepAliveMs, keepAliveMaxTimeout: opts.keepAliveMs };
  const dispatcher = new Agent({ localAddress: opts.host, ...keepAlive });
  const server = createServer((req, res) => {
    const service = (req.url ?? '/').split('?')[0]!.replace(/^\/+/, '') || 'podinfo';
    if (!opts.services.list().some((s) => s.metadata?.name === service)) {
      res.writeHead(404, { 'content-type': 'application/json' });
      const error = `no Service ${LAB_NAMESPACE}/${service} in cluster ${opts.cluster}`;
      res.end(JSON.stringify({ frontend: opts.cluster, service, error }));
      return;
    }
    const target = pickEndpoint(opts.slices.list(), service, 'http');
    if (!target) {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ frontend: opts.cluster, service, error: 'no ready endpoint' }));
      return;
    }
    request(`http://${target.host}:${target.port}/`, { dispatcher, headersTimeout: 5000, bodyTimeout: 5000 })
      .then(async (upstream) => {
        const text = await upstream.body.text();
        res.writeHead(upstream.statusCode, { 'content-type': 'application/json' });
        res.end(
          `{"frontend":${JSON.stringify(opts.cluster)},"service":${JSON.stringify(service)},"upstream":${asJson(text)}}`,
        );
      })
      .catch((err: unknown) => {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ frontend: opts.cluster, service, error: String(err) }));
      });
  });
  return listen(server, opts.host, opts.port).then((running) => ({
    ...running,
    close: () => running.close().finally(() => dispatcher.close()),
  }));
}
