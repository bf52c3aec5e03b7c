/**
 * `isthmus check` and a CRL file a running gateway refused against the list it holds: a real
 * gateway (in process, its admin port at its pod's loopback address, which the sandbox's pod proxy
 * reaches) loads CRL number 2 of east's issuer; the file, and the isthmus-crl ConfigMap, are then
 * replaced by number 1 (a rollback, which the check cannot tell from the file alone). The gateway
 * keeps number 2 and says so on /metrics (`isthmus_gateway_crl_file_refused 1`): the revocation
 * check fails naming its pod; with number 3 in place, it passes again. 127.0.177.x is this file's.
 */
import { rename, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayOptionsFromFlags } from '../../gateway/config.js';
import { gatewayFlags, waitFor } from '../../gateway/e2e/fixtures.js';
import { type RunningGateway, runGateway } from '../../gateway/run-gateway.js';
import { gatewayClusterLifecycle } from '../../gateway/test-support/lifecycle.js';
import { createCrl } from '../../identity/crl.js';
import { testPki } from '../../identity/testing.js';
import type { KubeClient } from '../../kube/client.js';
import { PORTS, SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { V1ConfigMap, V1Pod } from '../../kube/types.js';
import { checkRevocation } from './checks/revocation.js';
import { gatherFacts } from './gather.js';
import { pod, podStatus } from './test-builders.js';
import { checkClient, installTrust } from './test-sandbox.js';

const HOST = '127.0.177.1';
const POD = 'isthmus-gateway-7d9f-aaaaa';

/** Identity's pod (its admin port a stand-in serving only the gauge) and a gateway pod that answers nothing. */
const IDENTITY_HOST = '127.0.177.2';
const IDENTITY_POD = 'isthmus-identity-5c4b-ccccc';
const SILENT_HOST = '127.0.177.3';
const SILENT_POD = 'isthmus-gateway-7d9f-bbbbb';

const cluster = gatewayClusterLifecycle('east');
let client: KubeClient;
let gateway: RunningGateway;
let crlFile: string;

/** East's issuer's certificate and its CRL number `n` revoking `serials`, as `certs revoke` writes it. */
function numbered(n: bigint, serials: string[]): string {
  const issuer = testPki().issuers.east;
  const crl = createCrl({
    issuerCertPem: issuer.certPem,
    issuerKeyPem: issuer.keyPem,
    revoked: serials.map((serial) => ({ serial, revokedAt: new Date(), reason: 'keyCompromise' as const })),
    crlNumber: n,
  });
  return issuer.certPem + crl;
}

/** The file replaced as kubelet swaps a ConfigMap mount (a rename), and the ConfigMap it comes from. */
async function publish(bundle: string): Promise<void> {
  await writeFile(`${crlFile}.tmp`, bundle);
  await rename(`${crlFile}.tmp`, crlFile);
  await client.replace<V1ConfigMap>(R.configMaps, {
    metadata: { name: 'isthmus-crl', namespace: SYSTEM_NAMESPACE },
    data: { 'crl.pem': bundle },
  });
}

const refusedGauge = async (): Promise<string | undefined> =>
  (await gateway.metrics.render()).split('\n').find((l) => l.startsWith('isthmus_gateway_crl_file_refused '));

beforeAll(async () => {
  const east = cluster();
  client = checkClient(east.sandbox);
  await installTrust(client, testPki().anchor.certPem, testPki().issuers.east);
  crlFile = join(east.certs.dir, 'crl.pem');
  const first = numbered(2n, ['0e']);
  await writeFile(crlFile, first);
  await client.create<V1ConfigMap>(R.configMaps, {
    metadata: { name: 'isthmus-crl', namespace: SYSTEM_NAMESPACE },
    data: { 'crl.pem': first },
  });
  const config = gatewayOptionsFromFlags({
    ...gatewayFlags(east, 'east', HOST, { admin: PORTS.admin }),
    crlFile,
  });
  gateway = await runGateway(config, {
    logger: pino({ level: 'silent' }),
    processMetrics: false,
    crlIntervalMs: 20,
  });
  await runningPod(POD, HOST);
});

async function runningPod(name: string, ip: string): Promise<void> {
  const created = await client.create<V1Pod>(R.pods, { ...pod(name, {}), status: undefined });
  await client.replaceStatus(R.pods, {
    ...created,
    status: { ...podStatus.running(true), podIP: ip, podIPs: [{ ip }] },
  });
}

afterAll(async () => {
  await gateway?.stop();
  client?.close();
});

describe('isthmus check with a gateway that refused the CRL file against the list it holds', () => {
  it('fails on revocation naming the refusing pod after a rollback, and passes once a newer file loads', async () => {
    expect(await refusedGauge()).toBe('isthmus_gateway_crl_file_refused 0');
    await publish(numbered(1n, []));
    await waitFor('the gateway refuses the rollback', async () =>
      (await refusedGauge()) === 'isthmus_gateway_crl_file_refused 1' ? true : undefined,
    );

    const refused = checkRevocation(await gatherFacts(client, { remoteTimeoutMs: 2000 }));
    expect(refused.status).toBe('fail');
    expect(refused.hints).toEqual([
      expect.stringMatching(
        new RegExp(
          `^gateway pod ${POD} refused the CRL file of isthmus-crl against the list it holds \\(isthmus_gateway_crl_file_refused 1\\): .*a rollback`,
        ),
      ),
    ]);

    await publish(numbered(3n, ['0e']));
    await waitFor('the gateway loads the newer file', async () =>
      (await refusedGauge()) === 'isthmus_gateway_crl_file_refused 0' ? true : undefined,
    );
    expect(checkRevocation(await gatherFacts(client, { remoteTimeoutMs: 2000 }))).toMatchObject({
      status: 'ok',
      hints: [],
    });
  });
});

describe("identity's gauge, on its own admin port, and a replica that does not answer", () => {
  it('fails naming the identity pod that refused the file, and warns naming the replica it could not read', async () => {
    const admin = createServer((req, res) => {
      if (req.url !== '/metrics') res.writeHead(404).end();
      else res.writeHead(200, { 'content-type': 'text/plain' }).end('isthmus_identity_crl_file_refused 1\n');
    });
    await new Promise<void>((r) => admin.listen(PORTS.identityAdmin, IDENTITY_HOST, r));
    try {
      await runningPod(IDENTITY_POD, IDENTITY_HOST);
      await runningPod(SILENT_POD, SILENT_HOST);
      const facts = await gatherFacts(client, { remoteTimeoutMs: 2000 });
      const result = checkRevocation(facts);
      expect(result.status).toBe('fail');
      expect(result.hints).toEqual([
        expect.stringMatching(
          new RegExp(
            `^identity pod ${IDENTITY_POD} refused the CRL file of isthmus-crl \\(isthmus_identity_crl_file_refused 1\\): `,
          ),
        ),
        expect.stringMatching(
          new RegExp(
            `^cannot read whether gateway pod ${SILENT_POD} refused the CRL file \\(/metrics on its admin port\\): .*`,
          ),
        ),
      ]);
      expect(JSON.stringify(result.hints)).not.toContain(POD);
    } finally {
      await new Promise((r) => admin.close(r));
      for (const name of [IDENTITY_POD, SILENT_POD]) await client.delete(R.pods, SYSTEM_NAMESPACE, name);
    }
  });
});
