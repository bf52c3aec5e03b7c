/**
 * `isthmus check` during an anchor rotation reads the certificate this cluster's own gateway
 * presents, CRL or not: after step 2 the issuer Secret holds the new issuer, but a gateway replica
 * not restarted since keeps a leaf under the old anchor, and finishing the rotation then cuts it off.
 */
import type { Server as TlsServer } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient } from '../../kube/client.js';
import { SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import { type Sandbox, startSandbox } from '../../sandbox/index.js';
import { checkTrustAnchor } from './checks/trust-anchor.js';
import { gatherFacts } from './gather.js';
import {
  checkClient,
  eastMintedAt,
  gatewayIngress,
  installGatewayService,
  installTrust,
  portOf,
} from './test-sandbox.js';

const HOUR = 3600_000;

let sandbox: Sandbox;
let client: KubeClient;
let gateway: TlsServer;
let old: ReturnType<typeof eastMintedAt>;
let next: ReturnType<typeof eastMintedAt>;

beforeAll(async () => {
  old = eastMintedAt(new Date(Date.now() - 2 * HOUR));
  next = eastMintedAt(new Date(Date.now() - HOUR));
  sandbox = await startSandbox({ name: 'east' });
  client = checkClient(sandbox);
  // A replica not restarted since step 2: it still presents its leaf of the old issuer.
  gateway = await gatewayIngress(old.leaf, next.anchor.certPem + old.anchor.certPem);
  await client.create(R.namespaces, { metadata: { name: SYSTEM_NAMESPACE } });
  // Step 2 done in east: both anchors trusted, the new issuer in the Secret; no CRL anywhere.
  await installTrust(client, next.anchor.certPem + old.anchor.certPem, next.issuer);
  await installGatewayService(client, portOf(gateway));
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
