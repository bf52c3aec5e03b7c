/**
 * The gateway's certificate metrics as a running gateway sets them (127.0.132.1 is this file's
 * own): the expiry and lifetime of the certificate in use from the first load on, and every
 * renewal by result, so a renewal that keeps failing shows hours before tunnels do.
 */
import { writeFile } from 'node:fs/promises';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueGatewayCertificate } from '../identity/ca.js';
import { certificateInfo } from '../identity/certificate-info.js';
import { TEST_TRUST_DOMAIN, testGatewayCertificate, testPki } from '../identity/testing.js';
import { SYSTEM_NAMESPACE } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import { gatewayOptionsFromFlags } from './config.js';
import { type Cluster, gatewayFlags, namespace, startCluster } from './e2e/fixtures.js';
import { type RunningGateway, runGateway } from './run-gateway.js';

const HOST = '127.0.132.1';
const HOUR = 3_600_000;

/** The certificate lines of the gateway's exposition. */
async function certificateSeries(gateway: RunningGateway): Promise<string[]> {
  const text = await gateway.metrics.render();
  return text.split('\n').filter((l) => l.startsWith('isthmus_gateway_certificate_'));
}

const seconds = (d: Date): number => d.getTime() / 1000;

describe('certificate metrics of a running gateway (--cert-file)', () => {
  let cluster: Cluster;
  let gateway: RunningGateway;
  beforeAll(async () => {
    cluster = await startCluster('west');
    await cluster.kube.create(R.namespaces, namespace(SYSTEM_NAMESPACE));
    const flags = gatewayFlags(cluster, 'west', HOST);
    gateway = await runGateway(gatewayOptionsFromFlags(flags), {
      logger: pino({ level: 'silent' }),
      processMetrics: false,
    });
  });
  afterAll(async () => {
    await gateway?.stop();
    cluster.kube.close();
    await cluster.sandbox.close();
    await cluster.certs.remove();
  });

  it('exports the expiry and lifetime of the certificate in use, from the first load and after each renewal', async () => {
    const first = certificateInfo(testGatewayCertificate('west').certPem);
    expect(await certificateSeries(gateway)).toEqual([
      `isthmus_gateway_certificate_expiration_timestamp_seconds ${seconds(first.notAfter)}`,
      `isthmus_gateway_certificate_lifetime_seconds ${seconds(first.notAfter) - seconds(first.notBefore)}`,
      'isthmus_gateway_certificate_renewals_total{result="ok"} 1',
      'isthmus_gateway_certificate_renewals_total{result="error"} 0',
    ]);

    // cert-manager (or a script) replaced the files with a two-hour certificate; SIGHUP renews.
    const next = issueGatewayCertificate(testPki().issuers.west, {
      trustDomain: TEST_TRUST_DOMAIN,
      cluster: 'west',
      lifetimeMs: 2 * HOUR,
    });
    await writeFile(cluster.certs.certFile, next.chainPem);
    await writeFile(cluster.certs.keyFile, next.keyPem);
    expect(await gateway.renewCertificates()).toBe(true);
    const renewed = certificateInfo(next.certPem);
    expect(await certificateSeries(gateway)).toEqual([
      `isthmus_gateway_certificate_expiration_timestamp_seconds ${seconds(renewed.notAfter)}`,
      `isthmus_gateway_certificate_lifetime_seconds ${seconds(renewed.notAfter) - seconds(renewed.notBefore)}`,
      'isthmus_gateway_certificate_renewals_total{result="ok"} 2',
      'isthmus_gateway_certificate_renewals_total{result="error"} 0',
    ]);

    // A renewal that fails is counted; the certificate in use, and so its expiry, stays.
    await writeFile(cluster.certs.certFile, 'not a certificate\n');
    expect(await gateway.renewCertificates()).toBe(false);
    expect(await certificateSeries(gateway)).toEqual([
      `isthmus_gateway_certificate_expiration_timestamp_seconds ${seconds(renewed.notAfter)}`,
      `isthmus_gateway_certificate_lifetime_seconds ${seconds(renewed.notAfter) - seconds(renewed.notBefore)}`,
      'isthmus_gateway_certificate_renewals_total{result="ok"} 2',
      'isthmus_gateway_certificate_renewals_total{result="error"} 1',
    ]);
  });
});
