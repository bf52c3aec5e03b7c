/**
 * This cluster's own gateway, read as its peers read it: a TLS handshake with its Service's
 * LoadBalancer address, so that `isthmus check` in the cluster whose gateway certificate was revoked
 * says so (`certs revoke --cluster east --cert leaked.crt`), rather than that nothing is revoked.
 */
import { X509Certificate } from 'node:crypto';
import type { Server as TlsServer } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCrl } from '../../identity/crl.js';
import { testGatewayCertificate, testPki } from '../../identity/testing.js';
import type { KubeClient } from '../../kube/client.js';
import { CRL_CONFIGMAP, GATEWAY_SERVICE_NAME, SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { V1ConfigMap } from '../../kube/types.js';
import { type Sandbox, startSandbox } from '../../sandbox/index.js';
import { checkRevocation } from './checks/revocation.js';
import { gatherFacts, readLocalGatewayChain } from './gather.js';
import { checkClient, gatewayIngress, installGatewayService, installTrust, portOf } from './test-sandbox.js';

let sandbox: Sandbox;
let client: KubeClient;
let gateway: TlsServer;
let port: number;

beforeAll(async () => {
  sandbox = await startSandbox({ name: 'east' });
  client = checkClient(sandbox);
  gateway = await gatewayIngress(testGatewayCertificate('east'), testPki().anchor.certPem);
  port = portOf(gateway);
  await client.create(R.namespaces, { metadata: { name: SYSTEM_NAMESPACE } });
  await installTrust(client, testPki().anchor.certPem, testPki().issuers.east);
});

afterAll(async () => {
  client?.close();
  await new Promise((r) => (gateway ? gateway.close(r) : r(undefined)));
  await sandbox?.close();
});

/** The gateway Service as install renders it, its ingress port the test ingress's. */
async function gatewayService(type: 'LoadBalancer' | 'ClusterIP', lbHost?: string): Promise<void> {
  await client.delete(R.services, SYSTEM_NAMESPACE, GATEWAY_SERVICE_NAME).catch(() => undefined);
  await installGatewayService(client, port, type, lbHost);
}

const eastLeafSerial = () => new X509Certificate(testGatewayCertificate('east').certPem).serialNumber;

/** `certs revoke --cluster east --cert leaked.crt --reason keyCompromise`, as the ConfigMap holds it. */
function eastCrlRevoking(serial: string): string {
  const issuer = testPki().issuers.east;
  return (
    issuer.certPem +
    createCrl({
      issuerCertPem: issuer.certPem,
      issuerKeyPem: issuer.keyPem,
      revoked: [{ serial, revokedAt: new Date(), reason: 'keyCompromise' }],
      crlNumber: 1n,
    })
  );
}

describe('readLocalGatewayChain', () => {
  it('reads the chain the gateway presents at its LoadBalancer address and ingress port', async () => {
    await gatewayService('LoadBalancer', '127.0.0.1');
    const got = await readLocalGatewayChain(client, 5000);
    expect(got).toMatchObject({ ok: true, address: `127.0.0.1:${port}` });
    const chain = got.ok ? got.chainPem : [];
    expect(chain).toHaveLength(2); // the leaf and its issuer, as peers get them
    expect(new X509Certificate(chain[0]!).serialNumber).toBe(eastLeafSerial());
  });

  it('says why when there is no address to dial, or no Service', async () => {
    await gatewayService('ClusterIP');
    expect(await readLocalGatewayChain(client, 5000)).toMatchObject({
      ok: false,
      error: 'Service isthmus-system/isthmus-gateway has no LoadBalancer address to dial',
    });
    await client.delete(R.services, SYSTEM_NAMESPACE, GATEWAY_SERVICE_NAME);
    expect(await readLocalGatewayChain(client, 5000)).toMatchObject({
      ok: false,
      error: 'no Service isthmus-system/isthmus-gateway',
    });
  });
});

describe("gatherFacts and this cluster's own gateway", () => {
  it('dials it only when a CRL could revoke it, and the revocation check then names its certificate', async () => {
    await gatewayService('LoadBalancer', '127.0.0.1');
    expect((await gatherFacts(client, { remoteTimeoutMs: 2000 })).localGatewayChain).toBeUndefined();

    await client.create<V1ConfigMap>(R.configMaps, {
      metadata: { name: CRL_CONFIGMAP, namespace: SYSTEM_NAMESPACE },
      data: { 'crl.pem': eastCrlRevoking(eastLeafSerial()) },
    });
    try {
      const facts = await gatherFacts(client, { remoteTimeoutMs: 2000 });
      expect(facts.localGatewayChain).toMatchObject({ ok: true, address: `127.0.0.1:${port}` });
      const result = checkRevocation(facts);
      expect(result.status).toBe('fail');
      expect(result.hints).toEqual([
        expect.stringMatching(
          new RegExp(
            // No identity Deployment in the sandbox: identity is what blocks the replacement.
            `^(?!.*rollout restart)this cluster's gateway certificate \\(serial ${eastLeafSerial()}, presented at 127\\.0\\.0\\.1:${port}\\) is revoked .*; the gateway replaces it by itself, but only with a certificate from isthmus-identity, which does not exist`,
          ),
        ),
      ]);
    } finally {
      await client.delete(R.configMaps, SYSTEM_NAMESPACE, CRL_CONFIGMAP);
    }
  });
});
