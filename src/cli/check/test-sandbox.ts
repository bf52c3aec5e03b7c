/**
 * Set-up shared by check's sandbox tests: a sandbox per describe block, this cluster's trust objects
 * as install writes them, and a gateway ingress's TLS listener as its LoadBalancer shows it.
 */
import type { AddressInfo } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { afterAll, beforeAll, vi } from 'vitest';
import {
  createIssuer,
  createTrustAnchor,
  issueGatewayCertificate,
  type KeyPairPem,
} from '../../identity/ca.js';
import { KubeClient } from '../../kube/client.js';
import { GATEWAY_SERVICE_NAME, SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { V1ConfigMap, V1Secret, V1Service } from '../../kube/types.js';
import { type Sandbox, startSandbox } from '../../sandbox/index.js';

/** A client check can use against `sandbox`: not rate-limited (a gather asks a SubjectAccessReview per permission). */
export function checkClient(sandbox: Sandbox): KubeClient {
  return KubeClient.fromKubeconfigString(sandbox.kubeconfig(), undefined, {
    rateLimit: { qps: 0, burst: 0 },
  });
}

/** A sandbox (with Isthmus's CRDs or not) and a client for the tests of one describe block. */
export function sandboxPerDescribe(loadCrds: boolean, namespaces: readonly string[] = [SYSTEM_NAMESPACE]) {
  const ctx = {} as { sandbox: Sandbox; client: KubeClient };
  beforeAll(async () => {
    ctx.sandbox = await startSandbox({ name: 'east', loadCrds });
    ctx.client = checkClient(ctx.sandbox);
    for (const name of namespaces) await ctx.client.create(R.namespaces, { metadata: { name } });
  });
  afterAll(async () => {
    ctx.client?.close();
    await ctx.sandbox?.close();
  });
  return ctx;
}

/** A gateway's ingress: TLS 1.3, h2, a client certificate required, as run-gateway serves it. */
export async function gatewayIngress(
  leaf: { keyPem: string; chainPem: string },
  ca: string,
): Promise<TlsServer> {
  const server = createTlsServer({
    key: leaf.keyPem,
    cert: leaf.chainPem,
    ca,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.3',
    ALPNProtocols: ['h2'],
  });
  server.on('tlsClientError', () => {}); // the check has no client certificate: expected
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

export function portOf(server: TlsServer): number {
  return (server.address() as AddressInfo).port;
}

/** The trust bundle and the issuer Secret of this cluster, as install writes them. */
export async function installTrust(client: KubeClient, caCrt: string, issuer: KeyPairPem): Promise<void> {
  await client.create<V1ConfigMap>(R.configMaps, {
    metadata: { name: 'isthmus-trust-anchor', namespace: SYSTEM_NAMESPACE },
    data: { 'ca.crt': caCrt },
  });
  await client.create<V1Secret>(R.secrets, {
    metadata: { name: 'isthmus-issuer', namespace: SYSTEM_NAMESPACE },
    type: 'kubernetes.io/tls',
    data: {
      'tls.crt': Buffer.from(issuer.certPem).toString('base64'),
      'tls.key': Buffer.from(issuer.keyPem).toString('base64'),
    },
  });
}

/** The gateway Service as install renders it, its ingress port `port`; a LoadBalancer at `lbHost`. */
export async function installGatewayService(
  client: KubeClient,
  port: number,
  type: 'LoadBalancer' | 'ClusterIP' = 'LoadBalancer',
  lbHost: string | undefined = type === 'LoadBalancer' ? '127.0.0.1' : undefined,
): Promise<void> {
  await client.create<V1Service>(R.services, {
    metadata: { name: GATEWAY_SERVICE_NAME, namespace: SYSTEM_NAMESPACE },
    spec: {
      type,
      selector: { 'app.kubernetes.io/name': 'isthmus-gateway' },
      ports: [{ name: 'ingress', port, targetPort: 'ingress' }],
    },
  });
  if (lbHost === undefined) return;
  await client.patchStatus(
    R.services,
    SYSTEM_NAMESPACE,
    GATEWAY_SERVICE_NAME,
    { status: { loadBalancer: { ingress: [{ ip: lbHost }] } } },
    'merge',
  );
}

/**
 * An anchor, east's issuer under it and a gateway leaf of that issuer, minted as if the clock read
 * `at` (the leaf too, unless `leafToday`: a gateway renews its leaf from the issuer it started with).
 */
export function eastMintedAt(at: Date, opts: { anchorDays?: number; leafToday?: boolean } = {}) {
  const trustDomain = 'cluster.local';
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(at);
  try {
    const anchor = createTrustAnchor({
      trustDomain,
      keyBits: 2048,
      ...(opts.anchorDays ? { validityDays: opts.anchorDays } : {}),
    });
    const issuer = createIssuer(anchor, { cluster: 'east', trustDomain, validityDays: 365 });
    vi.useRealTimers();
    const leaf = issueGatewayCertificate(issuer, {
      trustDomain,
      cluster: 'east',
      ...(opts.leafToday ? {} : { now: at }),
    });
    return { anchor, issuer, leaf };
  } finally {
    vi.useRealTimers();
  }
}
