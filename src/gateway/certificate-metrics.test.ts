/**
 * The gateway's certificate metrics as a running gateway sets them (127.0.132.1 is this file's
 * own): the expiry and lifetime of the certificate in use from the first load on, and every
 * renewal by result, so a renewal that keeps failing shows hours before tunnels do; and whether it
 * holds a valid certificate at all, 0 from the start, so a gateway that never got one alerts.
 */
import { writeFile } from 'node:fs/promises';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueGatewayCertificate } from '../identity/ca.js';
import { certificateInfo } from '../identity/certificate-info.js';
import { startIdentityServer, type TokenReviewer } from '../identity/certify-service.js';
import { samplesOf, TEST_TRUST_DOMAIN, testGatewayCertificate, testPki } from '../identity/testing.js';
import { certificateMetrics } from './certificate-metrics.js';
import { gatewayOptionsFromFlags } from './config.js';
import { freePort, gatewayFlags, waitFor } from './e2e/fixtures.js';
import { type RunningGateway, runGateway } from './run-gateway.js';
import { gatewayClusterLifecycle } from './test-support/lifecycle.js';

const HOST = '127.0.132.1';
const HOUR = 3_600_000;

/** The certificate lines of the gateway's exposition. */
async function certificateSeries(gateway: RunningGateway): Promise<string[]> {
  const text = await gateway.metrics.render();
  return text.split('\n').filter((l) => l.startsWith('isthmus_gateway_certificate_'));
}

const seconds = (d: Date): number => d.getTime() / 1000;

const cluster = gatewayClusterLifecycle('west');

describe('certificate metrics of a running gateway (--cert-file)', () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    const flags = gatewayFlags(cluster(), 'west', HOST);
    gateway = await runGateway(gatewayOptionsFromFlags(flags), {
      logger: pino({ level: 'silent' }),
      processMetrics: false,
    });
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  it('exports the expiry and lifetime of the certificate in use, from the first load and after each renewal', async () => {
    const first = certificateInfo(testGatewayCertificate('west').certPem);
    expect(await certificateSeries(gateway)).toEqual([
      `isthmus_gateway_certificate_expiration_timestamp_seconds ${seconds(first.notAfter)}`,
      `isthmus_gateway_certificate_lifetime_seconds ${seconds(first.notAfter) - seconds(first.notBefore)}`,
      'isthmus_gateway_certificate_renewals_total{result="ok"} 1',
      'isthmus_gateway_certificate_renewals_total{result="error"} 0',
      'isthmus_gateway_certificate_valid 1',
    ]);

    // cert-manager (or a script) replaced the files with a two-hour certificate; SIGHUP renews.
    const next = issueGatewayCertificate(testPki().issuers.west, {
      trustDomain: TEST_TRUST_DOMAIN,
      cluster: 'west',
      lifetimeMs: 2 * HOUR,
    });
    await writeFile(cluster().certs.certFile, next.chainPem);
    await writeFile(cluster().certs.keyFile, next.keyPem);
    expect(await gateway.renewCertificates()).toBe(true);
    const renewed = certificateInfo(next.certPem);
    expect(await certificateSeries(gateway)).toEqual([
      `isthmus_gateway_certificate_expiration_timestamp_seconds ${seconds(renewed.notAfter)}`,
      `isthmus_gateway_certificate_lifetime_seconds ${seconds(renewed.notAfter) - seconds(renewed.notBefore)}`,
      'isthmus_gateway_certificate_renewals_total{result="ok"} 2',
      'isthmus_gateway_certificate_renewals_total{result="error"} 0',
      'isthmus_gateway_certificate_valid 1',
    ]);

    // A renewal that fails is counted; the certificate in use, and so its expiry, stays.
    await writeFile(cluster().certs.certFile, 'not a certificate\n');
    expect(await gateway.renewCertificates()).toBe(false);
    expect(await certificateSeries(gateway)).toEqual([
      `isthmus_gateway_certificate_expiration_timestamp_seconds ${seconds(renewed.notAfter)}`,
      `isthmus_gateway_certificate_lifetime_seconds ${seconds(renewed.notAfter) - seconds(renewed.notBefore)}`,
      'isthmus_gateway_certificate_renewals_total{result="ok"} 2',
      'isthmus_gateway_certificate_renewals_total{result="error"} 1',
      'isthmus_gateway_certificate_valid 1',
    ]);
  });
});

describe('isthmus_gateway_certificate_valid', () => {
  const at = (offsetMs: number) => new Date(Date.now() + offsetMs);
  it.each([
    ['0 before any certificate', undefined, 0],
    ['1 for a certificate valid now', { notBefore: at(-HOUR), notAfter: at(HOUR) }, 1],
    ['0 for one that expired, not renewed', { notBefore: at(-2 * HOUR), notAfter: at(-HOUR) }, 0],
    ['0 for one not valid yet (a clock behind)', { notBefore: at(HOUR), notAfter: at(2 * HOUR) }, 0],
  ])('is %s', async (_what, validity, expected) => {
    const registry = new Registry();
    const metrics = certificateMetrics(registry);
    if (validity) metrics.renewed('ok', validity);
    expect(samplesOf(await registry.metrics(), 'isthmus_gateway_certificate_valid')).toEqual({
      '': expected,
    });
  });
});

describe('isthmus_gateway_certificate_valid of a gateway certified by the identity service', () => {
  it('is 0 while the gateway waits for its first certificate, 1 once it has one', async () => {
    // The TokenReview answers only when released: the gateway's first Certify call is held there.
    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    let reviews = 0;
    const reviewer: TokenReviewer = async () => {
      reviews++;
      await released;
      return { authenticated: true, username: 'system:serviceaccount:isthmus-system:isthmus-gateway' };
    };
    const identity = await startIdentityServer({
      issuer: testPki().issuers.west,
      trustDomain: TEST_TRUST_DOMAIN,
      cluster: 'west',
      reviewer,
      host: HOST,
      port: 0,
    });
    const admin = await freePort(HOST);
    const { certFile: _c, keyFile: _k, ...rest } = gatewayFlags(cluster(), 'west', HOST, { admin });
    const config = gatewayOptionsFromFlags({
      ...rest,
      identityAddress: `${HOST}:${identity.port}`,
      tokenFile: cluster().kubeconfigFile,
    });
    const running = runGateway(config, { logger: pino({ level: 'silent' }), processMetrics: false });
    let gateway: RunningGateway | undefined;
    try {
      await waitFor('the first Certify call held in its TokenReview', () => reviews === 1);
      // A series at 0, not an absent one: an alert on `== 0` fires for a gateway that never got one.
      const waiting = await (await fetch(`http://${HOST}:${admin}/metrics`)).text();
      expect(samplesOf(waiting, 'isthmus_gateway_certificate_valid')).toEqual({ '': 0 });
      expect(samplesOf(waiting, 'isthmus_gateway_certificate_expiration_timestamp_seconds')).toEqual({});
      release();
      gateway = await running;
      expect(samplesOf(await gateway.metrics.render(), 'isthmus_gateway_certificate_valid')).toEqual({
        '': 1,
      });
    } finally {
      release();
      await (gateway ?? (await running.catch(() => undefined)))?.stop();
      await identity.close();
    }
  });
});
