/**
 * A running gateway's admin `/certificate` (127.0.133.1 is this file's own): the chain its ingress
 * presents to peers, from the first load on and after a rotation, so that `isthmus check` can read
 * every replica's rather than the one a handshake through the Service lands on.
 */
import { X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchPeerChain } from '../cli/check/peer-chain.js';
import { issueGatewayCertificate } from '../identity/ca.js';
import { TEST_TRUST_DOMAIN, testGatewayCertificate, testPki } from '../identity/testing.js';
import { gatewayOptionsFromFlags } from './config.js';
import { gatewayFlags } from './e2e/fixtures.js';
import { type RunningGateway, runGateway } from './run-gateway.js';
import { gatewayClusterLifecycle } from './test-support/lifecycle.js';

const HOST = '127.0.133.1';

const serialOf = (pem: string): string => new X509Certificate(pem).serialNumber;

const cluster = gatewayClusterLifecycle('west');

describe('/certificate of a running gateway (--cert-file)', () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await runGateway(gatewayOptionsFromFlags(gatewayFlags(cluster(), 'west', HOST)), {
      logger: pino({ level: 'silent' }),
      processMetrics: false,
    });
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  /** `/certificate`'s leaf serial and chain, and the serial a handshake with the ingress shows. */
  async function seen(): Promise<{ served: string; chain: number; presented: string | undefined }> {
    const res = await fetch(`http://${HOST}:${gateway.admin.address.port}/certificate`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { chain: string[]; serial: string };
    expect(serialOf(body.chain[0]!)).toBe(body.serial);
    const handshake = await fetchPeerChain(HOST, gateway.ingress.address.port, { timeoutMs: 5000 });
    return {
      served: body.serial,
      chain: body.chain.length,
      presented: handshake.ok ? serialOf(handshake.chainPem[0]!) : undefined,
    };
  }

  it('shows the chain the ingress presents, and the new one after a rotation', async () => {
    const first = serialOf(testGatewayCertificate('west').certPem);
    expect(await seen()).toEqual({ served: first, chain: 2, presented: first });

    // The files replaced (cert-manager, a script), then SIGHUP: new handshakes take the new one.
    const next = issueGatewayCertificate(testPki().issuers.west, {
      trustDomain: TEST_TRUST_DOMAIN,
      cluster: 'west',
    });
    await writeFile(cluster().certs.certFile, next.chainPem);
    await writeFile(cluster().certs.keyFile, next.keyPem);
    expect(await gateway.renewCertificates()).toBe(true);
    const renewed = serialOf(next.certPem);
    expect(await seen()).toEqual({ served: renewed, chain: 2, presented: renewed });
  });
});
