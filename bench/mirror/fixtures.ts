/**
 * The objects of the mirror benchmark: exported Services (+ a ready EndpointSlice of 10.x pod IPs)
 * in the remotes, Links with read-only credentials in the local cluster, and — for the floor — the
 * very objects the controller would write for each remote Service (built with its own builders, so
 * "the same creates" is literal).
 */
import { KubeClient } from '../../src/kube/client.js';
import {
  EXPORTED_LABEL,
  REMOTE_KUBECONFIG_KEY,
  REMOTE_KUBECONFIG_SECRET_TYPE,
  SERVICE_NAME_LABEL,
  SYSTEM_NAMESPACE,
} from '../../src/kube/keys.js';
import { R } from '../../src/kube/resources.js';
import type { Link, V1EndpointSlice, V1Service } from '../../src/kube/types.js';
import { parseLinkSpec } from '../../src/mirror/link-config.js';
import { buildMirrorService, buildMirrorSlice } from '../../src/mirror/mirror-objects.js';
import { runPool } from './pool.js';
import type { SandboxProcess } from './processes.js';

/** Services are spread over a few namespaces, as in a real cluster. */
export const NAMESPACES = Array.from({ length: 10 }, (_, i) => `bench-${i}`);
/** The local gateway's address the mirrors' slices point at (`--gateway-endpoints`). */
export const LOCAL_GATEWAY = '10.0.0.1';
/** The benchmark's own setup is not what is measured: it creates without a client-side limit. */
export const UNLIMITED = { rateLimit: { qps: 0, burst: 0 } };

export function adminClient(s: SandboxProcess): KubeClient {
  return KubeClient.fromKubeconfigString(s.kubeconfig, undefined, UNLIMITED);
}

export function serviceRef(i: number, prefix = 'svc'): { namespace: string; name: string } {
  return { namespace: NAMESPACES[i % NAMESPACES.length]!, name: `${prefix}-${i}` };
}

export function exportedService(namespace: string, name: string): V1Service {
  return {
    metadata: { name, namespace, labels: { app: name, [EXPORTED_LABEL]: 'true' } },
    spec: { type: 'ClusterIP', ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] },
  };
}

/** Three ready pods with realistic pod IPs (10.244.x.y), as a remote EndpointSlice controller writes. */
export function remoteSlice(namespace: string, name: string, i: number): V1EndpointSlice {
  return {
    metadata: { name: `${name}-x7k2p`, namespace, labels: { [SERVICE_NAME_LABEL]: name } },
    addressType: 'IPv4',
    endpoints: [0, 1, 2].map((k) => ({
      addresses: [`10.244.${(i >> 8) & 255}.${(i & 255) ^ k}`],
      conditions: { ready: true },
    })),
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  };
}

export async function ensureNamespaces(client: KubeClient, names: readonly string[]): Promise<void> {
  for (const name of names) {
    if (!(await client.get(R.namespaces, undefined, name)))
      await client.create(R.namespaces, { metadata: { name } });
  }
}

/** `count` exported Services with a ready slice each, created at `concurrency`. */
export async function populateRemote(client: KubeClient, count: number, concurrency = 32): Promise<void> {
  await ensureNamespaces(client, NAMESPACES);
  await runPool(count, concurrency, async (i) => {
    const { namespace, name } = serviceRef(i);
    await client.create(R.endpointSlices, remoteSlice(namespace, name, i));
    await client.create(R.services, exportedService(namespace, name));
  });
}

export function linkObject(cluster: string, secret: string): Link {
  return {
    apiVersion: 'multicluster.isthmus.dev/v1alpha1',
    kind: 'Link',
    metadata: { name: cluster, namespace: SYSTEM_NAMESPACE },
    spec: {
      targetClusterName: cluster,
      clusterCredentialsSecret: secret,
      gatewayAddress: cluster === 'west' ? '10.1.0.1' : '10.2.0.1',
    },
  };
}

/** What `isthmus link` writes: a read-only token on the remote, in a credentials Secret locally. */
export async function credentialsSecret(local: KubeClient, remote: SandboxProcess): Promise<string> {
  const secret = `cluster-credentials-${remote.name}`;
  const token = `reader-${remote.name}-${Math.random().toString(36).slice(2)}`;
  await remote.addToken(token, 'isthmus-remote-access', [
    { verbs: ['get', 'list', 'watch'], resources: ['services', 'endpointslices', 'namespaces'] },
  ]);
  const kubeconfig = remote.kubeconfig.replace(/token: .*/, `token: ${token}`);
  await local.create(R.secrets, {
    metadata: { name: secret, namespace: SYSTEM_NAMESPACE },
    type: REMOTE_KUBECONFIG_SECRET_TYPE,
    stringData: { [REMOTE_KUBECONFIG_KEY]: kubeconfig },
  });
  return secret;
}

/** The floor's pair of creates for remote Service `i` of `cluster`: the mirror Service, then its slice. */
export function floorObjects(
  cluster: string,
  i: number,
): { service: V1Service; slice: (uid: string) => V1EndpointSlice } {
  const parsed = parseLinkSpec(linkObject(cluster, `cluster-credentials-${cluster}`));
  if (!parsed.ok) throw new Error(parsed.reason);
  const { namespace, name } = serviceRef(i);
  const remote = {
    ...exportedService(namespace, name),
    metadata: { ...exportedService(namespace, name).metadata, resourceVersion: String(1000 + i) },
  };
  const egressPorts = new Map([['http', 20000 + i]]);
  const service = buildMirrorService({
    remote,
    link: parsed.config,
    name: `${name}-${cluster}`,
    fqName: `${name}.${namespace}.svc.cluster.local`,
    remoteGateway: `${parsed.config.gatewayAddresses[0]}:4143`,
    egressPorts,
    headless: false,
  });
  return {
    service,
    slice: (ownerUid) =>
      buildMirrorSlice({ service, cluster, addresses: [LOCAL_GATEWAY], ready: true, egressPorts, ownerUid }),
  };
}
