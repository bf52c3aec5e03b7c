/**
 * Builders and helpers for the gateway's end-to-end tests: objects as the mirror controller and a
 * user would write them, certificates minted under one test anchor and written to files (as a
 * Secret mount would hold them), loopback servers, and polling with deadlines.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_TRUST_DOMAIN, testGatewayCertificate, testPki } from '../../identity/testing.js';
import { KubeClient } from '../../kube/client.js';
import {
  CLUSTER_NAME_LABEL,
  EGRESS_PORTS_ANNOTATION,
  EXPORTED_LABEL,
  MIRRORED_SERVICE_LABEL,
  PORTS,
  REMOTE_GATEWAY_ANNOTATION,
  REMOTE_SVC_FQ_NAME_ANNOTATION,
  SERVICE_NAME_LABEL,
  SYSTEM_NAMESPACE,
} from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { Link, V1EndpointSlice, V1Namespace, V1Pod, V1Service } from '../../kube/types.js';
import { type Sandbox, startSandbox } from '../../sandbox/index.js';
import { waitFor } from '../../wait-for.js';
import type { GatewayFlags } from '../config.js';
import type { RunningGateway } from '../run-gateway.js';
import { controllerSlice } from '../test-support/mirror-slices.js';
import { within } from '../test-support/wait.js';

export const namespace = (name: string): V1Namespace => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name },
});

export function exportedService(ns: string, name: string, port: number, exported = true): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { namespace: ns, name, labels: exported ? { [EXPORTED_LABEL]: 'true' } : {} },
    spec: { ports: [{ name: 'http', port, targetPort: port, protocol: 'TCP' }], selector: { app: name } },
  };
}

export function endpointSlice(ns: string, service: string, address: string, port: number): V1EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { namespace: ns, name: `${service}-abcde`, labels: { [SERVICE_NAME_LABEL]: service } },
    addressType: net.isIPv6(address) ? 'IPv6' : 'IPv4',
    endpoints: [{ addresses: [address], conditions: { ready: true } }],
    ports: [{ name: 'http', port, protocol: 'TCP' }],
  };
}

/**
 * A Pod at `ips` as the kubelet reports it (`pods/status`): what `--dial-pod-ips-only` takes as the
 * proof that an endpoint address is a pod's. `phase` other than Running: what the kubelet reports
 * of a finished pod. Created unbound (no nodeName), so the sandbox deletes it at once.
 */
export async function runningPod(
  kube: KubeClient,
  ns: string,
  name: string,
  ips: string[],
  phase = 'Running',
): Promise<V1Pod> {
  if ((await kube.get<V1Pod>(R.pods, ns, name)) === undefined) {
    await kube.create<V1Pod>(R.pods, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { namespace: ns, name, labels: { app: name } },
      spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] },
    });
  }
  return kube.patchStatus<V1Pod>(
    R.pods,
    ns,
    name,
    { status: { phase, ...(ips[0] ? { podIP: ips[0] } : {}), podIPs: ips.map((ip) => ({ ip })) } },
    'merge',
  );
}

/** A mirror `<svc>-<cluster>` as the mirror controller writes it (shared/DESIGN.md, "Names and keys"). */
export function mirrorService(opts: {
  ns: string;
  service: string;
  cluster: string;
  port: number;
  egressPort: number;
  gateway: string;
  clusterDomain?: string;
}): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      namespace: opts.ns,
      name: `${opts.service}-${opts.cluster}`,
      labels: { [MIRRORED_SERVICE_LABEL]: 'true', [CLUSTER_NAME_LABEL]: opts.cluster },
      annotations: {
        [EGRESS_PORTS_ANNOTATION]: `http=${opts.egressPort}`,
        [REMOTE_GATEWAY_ANNOTATION]: opts.gateway,
        [REMOTE_SVC_FQ_NAME_ANNOTATION]: `${opts.service}.${opts.ns}.svc.${opts.clusterDomain ?? 'cluster.local'}`,
      },
    },
    spec: { ports: [{ name: 'http', port: opts.port, protocol: 'TCP' }] },
  };
}

/**
 * A mirror as the mirror controller writes it: the Service (`mirrorService`), then its EndpointSlice,
 * which vouches for its egress port (watch-mirrors.ts, `admitRoutes`).
 */
export async function createMirror(kube: KubeClient, service: V1Service): Promise<V1Service> {
  const created = await kube.create(R.services, service);
  await kube.create(R.endpointSlices, controllerSlice(service));
  return created;
}

export function link(target: string, gatewayAddress: string, gatewayPort?: number): Link {
  return {
    apiVersion: 'multicluster.isthmus.dev/v1alpha1',
    kind: 'Link',
    metadata: { namespace: SYSTEM_NAMESPACE, name: target },
    spec: {
      targetClusterName: target,
      clusterCredentialsSecret: `cluster-credentials-${target}`,
      gatewayAddress,
      ...(gatewayPort === undefined ? {} : { gatewayPort }),
    },
  };
}

export interface CertFiles {
  dir: string;
  certFile: string;
  keyFile: string;
  caFile: string;
  remove(): Promise<void>;
}

/** The cluster's gateway certificate (under the shared test anchor) written to a temporary folder. */
export async function writeGatewayCertFiles(cluster: 'east' | 'west'): Promise<CertFiles> {
  const dir = await mkdtemp(join(tmpdir(), `isthmus-gw-${cluster}-`));
  const cert = testGatewayCertificate(cluster);
  const files = {
    certFile: join(dir, 'tls.crt'),
    keyFile: join(dir, 'tls.key'),
    caFile: join(dir, 'ca.crt'),
  };
  await writeFile(files.certFile, cert.chainPem);
  await writeFile(files.keyFile, cert.keyPem, { mode: 0o600 });
  await writeFile(files.caFile, testPki().anchor.certPem);
  return { dir, ...files, remove: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * The shared test anchor and the issuers of east and west written as `isthmus certs` writes them
 * (files.ts) into `dir`: where `isthmus certs revoke` (revoke.ts) signs CRLs and rebuilds crl.pem.
 */
export async function writeCertsLayout(dir: string): Promise<void> {
  const { anchor, issuers } = testPki();
  await writeFile(join(dir, 'ca.crt'), anchor.certPem);
  await writeFile(join(dir, 'ca.key'), anchor.keyPem, { mode: 0o600 });
  for (const [cluster, issuer] of Object.entries(issuers)) {
    await mkdir(join(dir, cluster));
    await writeFile(join(dir, cluster, 'issuer.crt'), issuer.certPem);
    await writeFile(join(dir, cluster, 'issuer.key'), issuer.keyPem, { mode: 0o600 });
  }
}

const handedOut = new Set<number>();

/**
 * A port free on `host` right now inside the egress port range the gateways admit (the default,
 * which `gatewayFlags` keeps): a mirror claiming a port outside it is refused. Never the same port
 * twice in one process, so two mirrors of a test never claim one port.
 */
export async function freeEgressPort(host: string): Promise<number> {
  const { first, last } = PORTS.egressRange;
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = first + Math.floor(Math.random() * (last - first + 1));
    if (handedOut.has(port)) continue;
    const server = net.createServer();
    const bound = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, host, () => resolve(true));
    });
    if (!bound) continue;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port in ${first}-${last} on ${host}`);
}

/**
 * East's Link to `target` naming the gateway at `gateway` (as spec.gatewayAddress and gatewayPort),
 * created, or updated to name it when it is there already: what a mirror of `target` whose
 * remote gateway is `gateway` needs to be routed.
 */
export async function linkGateway(
  kube: KubeClient,
  target: string,
  gateway: { host: string; port: number },
): Promise<void> {
  const existing = await kube.get<Link>(R.links, SYSTEM_NAMESPACE, target);
  if (existing === undefined) {
    await kube.create(R.links, link(target, gateway.host, gateway.port));
    return;
  }
  await kube.patch(R.links, SYSTEM_NAMESPACE, target, {
    spec: { gatewayAddress: gateway.host, gatewayPort: gateway.port },
  });
}

/**
 * A mirror of `service` of `cluster` on `from`'s side (in `local`), as the mirror controller writes
 * it, and the Link to `cluster` naming `via`'s ingress: resolves with the mirror's egress port once
 * `from` listens on it. The gateways' faces share one host (`gatewayFlags`).
 */
export async function routeMirror(
  local: Cluster,
  from: RunningGateway,
  via: RunningGateway,
  mirror: { ns: string; service: string; cluster: string; port: number },
): Promise<number> {
  const egressPort = await freeEgressPort(from.ingress.address.host);
  const gateway = via.ingress.address;
  await linkGateway(local.kube, mirror.cluster, gateway);
  await createMirror(
    local.kube,
    mirrorService({ ...mirror, egressPort, gateway: `${gateway.host}:${gateway.port}` }),
  );
  await waitFor('the egress port listening', () => from.egress.listening().includes(egressPort));
  return egressPort;
}

/**
 * One client connection to `host:port` (an egress port leading to an echo backend), kept open:
 * `roundTrip` sends text and resolves with as much as came back before the connection ended (5 s
 * at most), `closed` once it has ended, however.
 */
export function tunnelClient(
  host: string,
  port: number,
): { roundTrip(text: string): Promise<string>; closed: Promise<void>; destroy(): void } {
  const socket = net.connect({ host, port });
  socket.setEncoding('utf8');
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return {
    roundTrip: (text) =>
      new Promise((resolve, reject) => {
        let got = '';
        const done = (): void => {
          clearTimeout(timer);
          socket.off('data', onData).off('close', done);
          resolve(got);
        };
        const onData = (chunk: string): void => {
          got += chunk;
          if (got.length >= text.length) done();
        };
        const timer = setTimeout(done, 5_000);
        socket.on('data', onData).once('close', done);
        socket.write(text, (err) => {
          if (err) reject(err);
        });
      }),
    closed,
    destroy: () => socket.destroy(),
  };
}

/** A loopback HTTP backend that says who it is (keep-alive, so one connection can carry many requests). */
export async function startBackend(
  name: string,
  host = '127.0.0.1',
): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`hello from ${name}`);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** One HTTP/1.1 GET through a tunnel (then destroyed), its status line. */
export async function statusThrough(tunnel: NodeJS.ReadWriteStream & { destroy(): void }): Promise<string> {
  const answer = new Promise<string>((resolve) => tunnel.once('data', (b: Buffer) => resolve(b.toString())));
  tunnel.write('GET / HTTP/1.1\r\nHost: backend\r\nConnection: close\r\n\r\n');
  try {
    const text = await within(answer, 10_000, "the backend's answer through the tunnel");
    return text.split('\r\n')[0] ?? '';
  } finally {
    tunnel.destroy();
  }
}

/** One GET on a fresh connection (no agent, so no pooled socket outlives the test). */
export function httpGet(
  host: string,
  port: number,
  path = '/',
  timeoutMs = 5_000,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${host}:${port}${path} timed out`)));
    req.on('error', reject);
  });
}

export { canConnect, freePort } from '../../free-port.js';
export { waitFor };

/** A simulated cluster: its API server, an admin client, a kubeconfig file and the gateway's certificates. */
export interface Cluster {
  sandbox: Sandbox;
  kube: KubeClient;
  kubeconfigFile: string;
  certs: CertFiles;
}

/** `serviceCidr`: where its Services' ClusterIPs come from (a loopback range, to listen on one). */
export async function startCluster(name: 'east' | 'west', serviceCidr?: string): Promise<Cluster> {
  const sandbox = await startSandbox({
    name,
    allowLoopbackEndpoints: true,
    ...(serviceCidr === undefined ? {} : { serviceCidr }),
  });
  const certs = await writeGatewayCertFiles(name);
  const kubeconfigFile = join(certs.dir, 'kubeconfig');
  await writeFile(kubeconfigFile, sandbox.kubeconfig());
  const kube = KubeClient.fromKubeconfigString(sandbox.kubeconfig());
  return { sandbox, kube, kubeconfigFile, certs };
}

/**
 * East and west, ready for east's gateway (at `eastHost`) to tunnel into west: namespace `ns` on
 * both sides, and west's Link back to east, which is what admits east at west's ingress. Their
 * clean-ups go onto `cleanups`. `westServiceCidr`: west's Service range (startCluster).
 */
export async function startLinkedClusters(
  eastHost: string,
  ns: string,
  cleanups: Array<() => unknown>,
  westServiceCidr?: string,
): Promise<{ east: Cluster; west: Cluster }> {
  const [east, west] = await Promise.all([startCluster('east'), startCluster('west', westServiceCidr)]);
  for (const c of [east, west])
    cleanups.push(
      () => c.sandbox.close(),
      () => c.kube.close(),
      () => c.certs.remove(),
    );
  await west.kube.create(R.namespaces, namespace(ns));
  await west.kube.create(R.namespaces, namespace(SYSTEM_NAMESPACE));
  await west.kube.create(R.links, link('east', eastHost));
  await east.kube.create(R.namespaces, namespace(ns));
  await east.kube.create(R.namespaces, namespace(SYSTEM_NAMESPACE));
  return { east, west };
}

/** Flags of a gateway of `cluster` whose three faces all listen on `host` (port 0 unless given). */
export function gatewayFlags(
  cluster: Cluster,
  name: string,
  host: string,
  ports: { ingress?: number; admin?: number } = {},
): GatewayFlags {
  return {
    cluster: name,
    trustDomain: TEST_TRUST_DOMAIN,
    kubeconfig: cluster.kubeconfigFile,
    ingressHost: host,
    ingressPort: ports.ingress ?? 0,
    adminHost: host,
    adminPort: ports.admin ?? 0,
    egressHost: host,
    certFile: cluster.certs.certFile,
    keyFile: cluster.certs.keyFile,
    caFile: cluster.certs.caFile,
  };
}

/**
 * Writes `text` on a new connection to `host:port` and waits for the same text back (an echo
 * backend through a tunnel): true when it came back within `ms`, false on anything else.
 */
export function echoRoundTrip(host: string, port: number, text: string, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    let got = '';
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), ms);
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      got += d;
      if (got === text) done(true);
    });
    socket.on('error', () => done(false));
    socket.on('close', () => done(got === text));
    socket.write(text);
  });
}
