/**
 * Three simulated clusters for the failover data-path tests (test-only): `east` (the callers'
 * cluster) and the remotes `west` and `north`, each a strict sandbox API server with a real
 * gateway on its own loopback address, certificates under one anchor. East runs the real mirror
 * controller (Links to both remotes, probes through its gateway) and the failover controller;
 * a kube-proxy stand-in plays the apex Service's ClusterIP.
 */

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { isIPv6 } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { gatewayOptionsFromFlags } from '../../gateway/config.js';
import { endpointSlice, exportedService, startBackend } from '../../gateway/e2e/fixtures.js';
import { type RunningGateway, runGateway } from '../../gateway/run-gateway.js';
import { hostPort } from '../../host-port.js';
import { createIssuer, issueGatewayCertificate } from '../../identity/ca.js';
import { TEST_TRUST_DOMAIN, testPki } from '../../identity/testing.js';
import { KubeClient } from '../../kube/client.js';
import { EventRecorder } from '../../kube/events.js';
import {
  MANAGED_BY_LABEL,
  REMOTE_KUBECONFIG_KEY,
  REMOTE_KUBECONFIG_SECRET_TYPE,
  SYSTEM_NAMESPACE,
} from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import { SYNC_DEADLINE_MS, synced, within } from '../../kube/test-support.js';
import type { Link, V1EndpointSlice } from '../../kube/types.js';
import { type RunningController, runController } from '../../mirror/controller.js';
import { waitFor } from '../../mirror/test-wait.js';
import { type Sandbox, startSandbox } from '../../sandbox/index.js';
import { type FailoverController, runFailoverController } from '../controller.js';
import { type ServiceProxy, startServiceProxy } from './service-proxy.js';

export const NS = 'test';
export const SERVICE_PORT = 9898;
/** Loopback "cluster addresses" of one world; test files that run at once use different 127.x ranges. */
export interface WorldHosts {
  east: string;
  west: string;
  north: string;
  /** Where the kube-proxy stand-ins listen. */
  proxy: string;
  /** Where every cluster's backend listens, which its slices list (default 127.0.0.1). */
  backend?: string;
  /** Where every cluster's API server listens (default 127.0.0.1). */
  api?: string;
}
/** The Links' probeSpec.failureThreshold: failed probes in a row that make a remote gateway dead. */
export const PROBE_FAILURE_THRESHOLD = 3;

const DEFAULT_HOSTS: WorldHosts = {
  east: '127.0.71.1',
  west: '127.0.72.1',
  north: '127.0.73.1',
  proxy: '127.0.71.10',
};

type Backend = Awaited<ReturnType<typeof startBackend>>;

export interface Cluster {
  name: 'east' | 'west' | 'north';
  sandbox: Sandbox;
  kube: KubeClient;
  gateway: RunningGateway;
  /** The HTTP server behind this cluster's `podinfo`, answering "hello from <cluster>". */
  backend: Backend;
}

export interface World {
  east: Cluster;
  west: Cluster;
  north: Cluster;
  mirror: RunningController;
  failover: FailoverController;
  /** The apex `podinfo` as a caller in east reaches it. */
  apex: ServiceProxy;
  registry: Registry;
  /** Starts a kube-proxy stand-in for another east Service. */
  proxyFor(service: string): Promise<ServiceProxy>;
  close(): Promise<void>;
}

/** The primary's slice as the EndpointSlice controller would write it. */
export function primarySlice(backendPort: number, ready: boolean, address = '127.0.0.1'): V1EndpointSlice {
  const slice = endpointSlice(NS, 'podinfo', address, backendPort);
  slice.metadata!.labels![MANAGED_BY_LABEL] = 'endpointslice-controller.k8s.io';
  slice.endpoints = [{ addresses: [address], conditions: { ready } }];
  return slice;
}

export async function startWorld(hosts: WorldHosts = DEFAULT_HOSTS): Promise<World> {
  const cleanups: (() => unknown)[] = [];
  const close = async () => {
    for (const fn of cleanups.reverse()) await fn();
  };
  try {
    const certDir = await mkdtemp(join(tmpdir(), 'isthmus-failover-'));
    cleanups.push(() => rm(certDir, { recursive: true, force: true }));
    const start = async (name: Cluster['name']): Promise<Cluster> => {
      const backendHost = hosts.backend ?? '127.0.0.1';
      const sandbox = await startSandbox({
        name,
        allowLoopbackEndpoints: true,
        bookmarkIntervalMs: 200,
        ...(hosts.api ? { host: hosts.api } : {}),
        // The Services' family is the pods': an IPv6 world is an IPv6-only cluster.
        ...(isIPv6(backendHost) ? { serviceCidr: 'fd00:10:96::/112' } : {}),
      });
      cleanups.push(() => sandbox.close());
      const kube = KubeClient.fromKubeconfigString(sandbox.kubeconfig());
      cleanups.push(() => kube.close());
      for (const ns of [NS, SYSTEM_NAMESPACE]) await kube.create(R.namespaces, { metadata: { name: ns } });
      const backend = await startBackend(name, backendHost);
      cleanups.push(() => backend.close());
      if (name === 'east') {
        await kube.create(R.services, exportedService(NS, 'podinfo', SERVICE_PORT, false));
        await kube.create(R.endpointSlices, primarySlice(backend.port, true, backendHost));
      } else {
        await kube.create(R.services, exportedService(NS, 'podinfo', SERVICE_PORT));
        await kube.create(R.endpointSlices, endpointSlice(NS, 'podinfo', backendHost, backend.port));
        // Pairwise linking: the remote's ingress admits east's gateway because of this Link.
        await kube.create(R.links, linkTo('east', hosts.east, 4143));
      }
      const gateway = await startGateway(sandbox, name, certDir, hosts[name]);
      cleanups.push(() => gateway.stop());
      return { name, sandbox, kube, gateway, backend };
    };
    const east = await start('east');
    const west = await start('west');
    const north = await start('north');

    for (const remote of [west, north]) await linkEast(east, remote, hosts[remote.name]);
    const registry = new Registry();
    const mirror = runController({
      client: east.kube,
      gatewayAdminUrl: `http://${hostPort(hosts.east, east.gateway.admin.address.port)}`,
      gatewayEndpoints: [hosts.east],
      registry,
      recorder: false,
      remoteBackoff: { initialMs: 50, maxMs: 300 },
      queueBackoff: { baseMs: 20, maxMs: 300 },
    });
    cleanups.push(() => mirror.stop());
    await within(mirror.ready, SYNC_DEADLINE_MS, 'the mirror controller to be ready');
    for (const remote of ['west', 'north']) {
      await waitFor(async () => mirrorReady(east.kube, `podinfo-${remote}`), {
        timeoutMs: 15_000,
        what: `mirror podinfo-${remote} ready`,
      });
    }

    const failover = runFailoverController({
      client: east.kube,
      registry,
      recorder: new EventRecorder(east.kube, { component: 'isthmus-failover' }),
    });
    cleanups.push(() => failover.stop());
    await synced(failover, 'the failover controller');
    const proxyFor = async (service: string) => {
      const proxy = await startServiceProxy(east.kube, {
        namespace: NS,
        service,
        portName: 'http',
        host: hosts.proxy,
      });
      cleanups.push(() => proxy.close());
      return proxy;
    };
    const apex = await proxyFor('podinfo');
    return { east, west, north, mirror, failover, apex, registry, proxyFor, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** True once the mirror's slice lists a ready endpoint and east's gateway listens on its egress port. */
async function mirrorReady(kube: KubeClient, mirror: string): Promise<boolean> {
  const slices = await kube.list<V1EndpointSlice>(R.endpointSlices, {
    namespace: NS,
    labelSelector: `kubernetes.io/service-name=${mirror}`,
  });
  return slices.items.some((s) => s.endpoints?.some((e) => e.conditions?.ready === true));
}

function linkTo(cluster: string, host: string, port: number): Link {
  return {
    apiVersion: 'multicluster.isthmus.dev/v1alpha1',
    kind: 'Link',
    metadata: { namespace: SYSTEM_NAMESPACE, name: cluster },
    spec: {
      targetClusterName: cluster,
      clusterCredentialsSecret: `cluster-credentials-${cluster}`,
      gatewayAddress: host,
      gatewayPort: port,
      // Frequent probes: a stopped gateway (refused at once) is noticed within about a second. A
      // generous timeout and threshold: probes share the event loop with the tests' request loads,
      // and a slow answer on a loaded machine must not mark a live remote dead mid-tally.
      probeSpec: { period: '200ms', timeout: '2s', failureThreshold: PROBE_FAILURE_THRESHOLD },
    },
  };
}

/** What `isthmus link` writes in east for a remote: a read-only token in a Secret, and the Link. */
async function linkEast(east: Cluster, remote: Cluster, remoteHost: string): Promise<void> {
  const token = `reader-${remote.name}-${Math.random().toString(36).slice(2)}`;
  remote.sandbox.addToken(token, {
    username: 'remote-reader',
    rules: [{ verbs: ['get', 'list', 'watch'], resources: ['services', 'endpointslices', 'namespaces'] }],
  });
  await east.kube.create(R.secrets, {
    metadata: { name: `cluster-credentials-${remote.name}`, namespace: SYSTEM_NAMESPACE },
    type: REMOTE_KUBECONFIG_SECRET_TYPE,
    stringData: { [REMOTE_KUBECONFIG_KEY]: remote.sandbox.kubeconfig({ token, user: 'remote-reader' }) },
  });
  await east.kube.create(R.links, linkTo(remote.name, remoteHost, remote.gateway.ingress.address.port));
}

async function startGateway(
  sandbox: Sandbox,
  cluster: Cluster['name'],
  dir: string,
  host: string,
): Promise<RunningGateway> {
  const issuer = createIssuer(testPki().anchor, { cluster, trustDomain: TEST_TRUST_DOMAIN });
  const cert = issueGatewayCertificate(issuer, { trustDomain: TEST_TRUST_DOMAIN, cluster });
  const files = {
    certFile: join(dir, `${cluster}.crt`),
    keyFile: join(dir, `${cluster}.key`),
    caFile: join(dir, 'ca.crt'),
    kubeconfig: join(dir, `${cluster}.kubeconfig`),
  };
  await writeFile(files.certFile, cert.chainPem);
  await writeFile(files.keyFile, cert.keyPem, { mode: 0o600 });
  await writeFile(files.caFile, testPki().anchor.certPem);
  await writeFile(files.kubeconfig, sandbox.kubeconfig(), { mode: 0o600 });
  const config = gatewayOptionsFromFlags({
    cluster,
    trustDomain: TEST_TRUST_DOMAIN,
    kubeconfig: files.kubeconfig,
    ingressHost: host,
    ingressPort: 0,
    adminHost: host,
    adminPort: 0,
    egressHost: host,
    certFile: files.certFile,
    keyFile: files.keyFile,
    caFile: files.caFile,
  });
  return runGateway(config, { logger: pino({ level: 'silent' }), processMetrics: false });
}
