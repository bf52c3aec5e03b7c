/**
 * `isthmus check` during an anchor rotation reads the certificate this cluster's own gateway
 * presents, CRL or not: after step 2 the issuer Secret holds the new issuer, but a gateway replica
 * not restarted since keeps a leaf under the old anchor, and finishing the rotation then cuts it off.
 */
import type { AddressInfo } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createIssuer, createTrustAnchor, issueGatewayCertificate } from '../../identity/ca.js';
import { KubeClient } from '../../kube/client.js';
import { GATEWAY_SERVICE_NAME, SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { V1ConfigMap, V1Secret, V1Service } from '../../kube/types.js';
import { type Sandbox, startSandbox } from '../../sandbox/index.js';
import { checkTrustAnchor } from './checks/trust-anchor.js';
import { gatherFacts } from './gather.js';

const HOUR = 3600_000;
const TRUST_DOMAIN = 'cluster.local';

/** East's anchor, issuer and a gateway certificate, minted as if the clock read `at`. */
function eastMintedAt(at: Date) {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(at);
  try {
    const anchor = createTrustAnchor({ trustDomain: TRUST_DOMAIN, keyBits: 2048 });
    const issuer = createIssuer(anchor, { cluster: 'east', trustDomain: TRUST_DOMAIN });
    const leaf = issueGatewayCertificate(issuer, { trustDomain: TRUST_DOMAIN, cluster: 'east', now: at });
    return { anchor, issuer, leaf };
  } finally {
    vi.useRealTimers();
  }
}

let sandbox: Sandbox;
let client: KubeClient;
let gateway: TlsServer;
let old: ReturnType<typeof eastMintedAt>;
let next: ReturnType<typeof eastMintedAt>;

beforeAll(async () => {
  old = eastMintedAt(new Date(Date.now() - 2 * HOUR));
  next = eastMintedAt(new Date(Date.now() - HOUR));
  sandbox = await startSandbox({ name: 'east' });
  client = KubeClient.fromKubeconfigString(sandbox.kubeconfig(), undefined, {
    rateLimit: { qps: 0, burst: 0 },
  });
  // A replica not restarted since step 2: it still presents its leaf of the old issuer.
  gateway = createTlsServer({
    key: old.leaf.keyPem,
    cert: old.leaf.chainPem,
    ca: next.anchor.certPem + old.anchor.certPem,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.3',
    ALPNProtocols: ['h2'],
  });
  gateway.on('tlsClientError', () => {}); // the check has no client certificate: expected
  await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
  const port = (gateway.address() as AddressInfo).port;

  await client.create(R.namespaces, { metadata: { name: SYSTEM_NAMESPACE } });
  // Step 2 done in east: both anchors trusted, the new issuer in the Secret; no CRL anywhere.
  await client.create<V1ConfigMap>(R.configMaps, {
    metadata: { name: 'isthmus-trust-anchor', namespace: SYSTEM_NAMESPACE },
    data: { 'ca.crt': next.anchor.certPem + old.anchor.certPem },
  });
  await client.create<V1Secret>(R.secrets, {
    metadata: { name: 'isthmus-issuer', namespace: SYSTEM_NAMESPACE },
    type: 'kubernetes.io/tls',
    data: {
      'tls.crt': Buffer.from(next.issuer.certPem).toString('base64'),
      'tls.key': Buffer.from(next.issuer.keyPem).toString('base64'),
    },
  });
  await client.create<V1Service>(R.services, {
    metadata: { name: GATEWAY_SERVICE_NAME, namespace: SYSTEM_NAMESPACE },
    spec: {
      type: 'LoadBalancer',
      selector: { 'app.kubernetes.io/name': 'isthmus-gateway' },
      ports: [{ name: 'ingress', port, targetPort: 'ingress' }],
    },
  });
  await client.patchStatus(
    R.services,
    SYSTEM_NAMESPACE,
    GATEWAY_SERVICE_NAME,
    { status: { loadBalancer: { ingress: [{ ip: '127.0.0.1' }] } } },
    'merge',
  );
});

afterAll(async () => {
  client?.close();
  await new Promise((r) => (gateway ? gateway.close(r) : r(undefined)));
  await sandbox?.close();
});

describe("gatherFacts during an anchor rotation, without a CRL: this cluster's own gateway", () => {
  it('is read, and check says to restart it rather than to finish the rotation', async () => {
    const facts = await gatherFacts(client, { remoteTimeoutMs: 2000 });
    expect(facts.localGatewayChain).toMatchObject({
      ok: true,
      address: expect.stringMatching(/^127\.0\.0\.1:/),
    });
    const result = checkTrustAnchor(facts);
    expect(JSON.stringify(result)).not.toMatch(/--finish/);
    expect(result.hints).toContainEqual(
      expect.stringMatching(
        /^this cluster's gateway .* presents a certificate under anchor #2 of the 2 in ca\.crt, the old one/,
      ),
    );
  });
});
