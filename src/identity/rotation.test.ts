import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { IsthmusError } from '../errors.js';
import { certificateInfo, gatewayIdentityOf, issueGatewayCertificate } from './ca.js';
import type { IssuedCertificate } from './certify-client.js';
import { type IdentityServer, startIdentityServer } from './certify-service.js';
import { joinPem } from './pem.js';
import {
  CertificateRotator,
  certifySource,
  fileSource,
  secureContextOptions,
  type TlsMaterial,
} from './rotation.js';
import {
  foreignTestPki,
  TEST_TRUST_DOMAIN,
  testGatewayCertificate,
  testIdentityTrust,
  testPki,
} from './testing.js';

const EAST = 'spiffe://cluster.local/cluster/east/gateway';
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function rotator(
  source: () => Promise<IssuedCertificate>,
  opts: Partial<ConstructorParameters<typeof CertificateRotator>[0]> = {},
) {
  const r = new CertificateRotator({ source, anchorPem: testPki().anchor.certPem, ...opts });
  const errors: IsthmusError[] = [];
  r.on('error', (e) => errors.push(e));
  cleanups.push(() => r.stop());
  return { r, errors };
}

/** Polls `predicate` until true or the deadline passes. */
async function until(predicate: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** `promise`, or a rejection once `ms` pass: a test never waits on the rotator unboundedly. */
function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  const signal = AbortSignal.timeout(ms);
  return Promise.race([
    promise,
    new Promise<never>((_, reject) =>
      signal.addEventListener('abort', () => reject(new Error(`no result in ${ms} ms`))),
    ),
  ]);
}

const mintEast = (lifetimeMs?: number) =>
  issueGatewayCertificate(testPki().issuers.east, {
    trustDomain: TEST_TRUST_DOMAIN,
    cluster: 'east',
    ...(lifetimeMs === undefined ? {} : { lifetimeMs }),
  });

describe('CertificateRotator', () => {
  it('renews a short-lived certificate from the Certify service at ~70% of its lifetime', async () => {
    const server: IdentityServer = await startIdentityServer({
      issuer: testPki().issuers.east,
      trustDomain: TEST_TRUST_DOMAIN,
      cluster: 'east',
      reviewer: async () => ({
        authenticated: true,
        username: 'system:serviceaccount:isthmus-system:isthmus-gateway',
      }),
      host: '127.0.0.1',
      port: 0,
      // 8 s: its renewal at ~70 % (±10 % jitter) leaves the timer some 2 s to fire before expiry
      // on a loaded machine.
      lifetimeMs: 8_000,
    });
    cleanups.push(() => server.close());
    const certify = certifySource({
      address: `127.0.0.1:${server.port}`,
      server: testIdentityTrust('east'),
      token: 't',
      identity: EAST,
    });
    const calls: number[] = [];
    const { r, errors } = rotator(() => {
      calls.push(Date.now());
      return certify();
    });
    const first = await withDeadline(r.start(), 10_000);
    const [second] = (await once(r, 'rotated', { signal: AbortSignal.timeout(20_000) })) as [TlsMaterial];
    // The renewal starts at ~70% of the lifetime left once the first certificate arrived: well
    // after issuance, well before expiry. Measured from the first request, which came before that
    // arrival, so a slow first request or a late start() return cannot move it out of the window.
    // (When it completes depends on key generation, slow on a loaded machine, so that is not asserted.)
    const renewalStartedAfter = calls[1]! - calls[0]!;
    const lifetime = first.notAfter.getTime() - calls[0]!;
    expect(renewalStartedAfter).toBeGreaterThan(lifetime * 0.5);
    expect(renewalStartedAfter).toBeLessThan(lifetime);
    expect(second.notAfter.getTime()).toBeGreaterThan(first.notAfter.getTime());
    expect(certificateInfo(second.certPem).fingerprintSha256).not.toBe(
      certificateInfo(first.certPem).fingerprintSha256,
    );
    expect(gatewayIdentityOf(second.certPem)).toBe(EAST);
    expect(r.current).toBe(second);
    expect(second.anchorPem).toBe(testPki().anchor.certPem);
    expect(errors).toEqual([]);
  });

  it('retries with backoff, reporting every failure, until the source recovers', async () => {
    let calls = 0;
    const { r, errors } = rotator(
      async () => {
        calls++;
        if (calls <= 2) throw new Error(`identity service down (${calls})`);
        return testGatewayCertificate('east');
      },
      { policy: { retryInitialMs: 20 } },
    );
    const material = await withDeadline(r.start(), 10_000);
    expect(gatewayIdentityOf(material.certPem)).toBe(EAST);
    expect(errors.map((e) => e.message)).toEqual([
      expect.stringMatching(/attempt 1; no certificate yet\): identity service down \(1\)/),
      expect.stringMatching(/attempt 2; no certificate yet\): identity service down \(2\)/),
    ]);
  });

  it('refuses material that does not chain to the anchor and keeps the old one', async () => {
    const foreign = issueGatewayCertificate(foreignTestPki().issuers.east, {
      trustDomain: TEST_TRUST_DOMAIN,
      cluster: 'east',
    });
    const queue = [testGatewayCertificate('east'), foreign];
    const { r, errors } = rotator(async () => queue.shift() ?? testGatewayCertificate('east'));
    const first = await withDeadline(r.start(), 10_000);
    expect(await r.renewNow()).toBe(first);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.code).toBe('CERT_INVALID');
    expect(errors[0]!.message).toMatch(/new certificate refused: .* not signed by any given trust anchor/);
  });

  it('accepts material under either anchor of a bundle (a trust-anchor rotation)', async () => {
    const bundle = joinPem([foreignTestPki().anchor.certPem, testPki().anchor.certPem]);
    let next: IssuedCertificate = testGatewayCertificate('east');
    const { r, errors } = rotator(async () => next, { anchorPem: bundle });
    await withDeadline(r.start(), 10_000);
    // Issued after the first, so it is the newer one: from an issuer under the other anchor.
    next = issueGatewayCertificate(foreignTestPki().issuers.east, {
      trustDomain: TEST_TRUST_DOMAIN,
      cluster: 'east',
    });
    const renewed = await r.renewNow();
    expect(errors).toEqual([]);
    expect(certificateInfo(renewed!.certPem).fingerprintSha256).toBe(
      certificateInfo(next.certPem).fingerprintSha256,
    );
  });

  it('never lets a certificate expire silently: errors keep coming and say EXPIRED', async () => {
    let calls = 0;
    let offsetMs = 0;
    const { r, errors } = rotator(
      async () => {
        if (calls++ === 0) return testGatewayCertificate('east');
        throw new Error('issuer unreachable');
      },
      { policy: { retryInitialMs: 20, retryMaxMs: 40 }, now: () => Date.now() + offsetMs },
    );
    const first = await withDeadline(r.start(), 10_000);
    await r.renewNow();
    expect(errors[0]!.message).toMatch(
      /attempt 1; the current certificate expires at .*: issuer unreachable/,
    );
    offsetMs = first.notAfter.getTime() - Date.now() + 60_000; // the clock passes notAfter
    await until(
      () => errors.filter((e) => /EXPIRED at/.test(e.message)).length >= 3,
      10_000,
      'EXPIRED errors',
    );
    expect(r.current).toBe(first);
  });

  it('retries an unchanged --cert/--key quietly while fresh, loudly near expiry', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'isthmus-rot-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const cert = testGatewayCertificate('east');
    await writeFile(join(dir, 'tls.crt'), cert.chainPem);
    await writeFile(join(dir, 'tls.key'), cert.keyPem);
    let offsetMs = 0;
    const { r, errors } = rotator(
      fileSource({ certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') }),
      {
        now: () => Date.now() + offsetMs,
      },
    );
    const first = await withDeadline(r.start(), 10_000);
    expect(first.chainPem).toBe(cert.chainPem);
    await r.renewNow();
    expect(errors).toEqual([]);
    offsetMs = cert.notAfter.getTime() - Date.now() - 30 * 60_000; // 30 min left of 24 h
    await r.renewNow();
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(/no newer certificate/);
    expect(r.current).toBe(first);
  });

  it('takes a renewed certificate that ends sooner than the current one (--cert-lifetime lowered)', async () => {
    let lifetimeMs = 24 * 3600_000;
    let calls = 0;
    const { r, errors } = rotator(async () => {
      calls++;
      return mintEast(lifetimeMs);
    });
    const first = await withDeadline(r.start(), 10_000);
    lifetimeMs = 3600_000; // the identity service now issues 1 h certificates
    const rotated = once(r, 'rotated', { signal: AbortSignal.timeout(10_000) });
    const renewed = await r.renewNow();
    expect(renewed).not.toBe(first);
    expect(renewed!.notAfter.getTime()).toBeLessThan(first.notAfter.getTime());
    expect(((await rotated) as [TlsMaterial])[0]).toBe(renewed);
    expect(r.current).toBe(renewed);
    expect(calls).toBe(2);
    expect(errors).toEqual([]);
  });

  it('renews a certificate longer than setTimeout can wait (90 days) once, not in a loop', async () => {
    // Made before the clock is faked: two distinct 90-day certificates, handed out in turn.
    const certs = [mintEast(90 * 86_400_000), mintEast(90 * 86_400_000)];
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    cleanups.push(() => vi.useRealTimers());
    let calls = 0;
    const { r, errors } = rotator(async () => certs[calls++ % 2]!);
    await r.start();
    // 70% of 90 days is ~63 days, past setTimeout's 2^31-1 ms, which Node turns into 1 ms.
    await vi.advanceTimersByTimeAsync(100);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(70 * 86_400_000);
    expect(calls).toBe(2);
    expect(r.current?.certPem).toBe(certs[1]!.certPem);
    expect(errors).toEqual([]);
  });

  it('renews on time after the machine slept: timers count monotonic time, the certificate wall time', async () => {
    const certs = [mintEast(), mintEast()];
    let wall = Date.now();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    cleanups.push(() => vi.useRealTimers());
    let calls = 0;
    const { r, errors } = rotator(async () => certs[calls++ % 2]!, { now: () => wall });
    await r.start();
    // Suspended for 20 h (a laptop running the lab, a paused VM): CLOCK_MONOTONIC, which Node's
    // timers follow, stood still, so the 16.8 h renewal timer still has all of it to run.
    wall += 20 * 3_600_000;
    await vi.advanceTimersByTimeAsync(5 * 60_000);
    expect(calls).toBe(2);
    expect(r.current?.certPem).toBe(certs[1]!.certPem);
    expect(errors).toEqual([]);
  });

  it('a rotated listener that throws is reported, and the new material stays current', async () => {
    const { r, errors } = rotator(async () => mintEast());
    await withDeadline(r.start(), 10_000);
    r.on('rotated', () => {
      throw new Error('bad key for setSecureContext');
    });
    const renewed = await r.renewNow();
    expect(r.current).toBe(renewed);
    expect(errors.map((e) => e.message)).toEqual([
      expect.stringMatching(/applying the renewed certificate failed: bad key/),
    ]);
  });

  it('stop() before the first certificate rejects start()', async () => {
    const { r } = rotator(() => new Promise<IssuedCertificate>(() => {}));
    const started = r.start();
    r.stop();
    await expect(started).rejects.toThrow(/stopped before the first certificate/);
    await expect(r.start()).rejects.toThrow(/is stopped/);
  });
});

describe('rotation under a live TLS server', () => {
  it('setSecureContext keeps an open tunnel up and serves new connections the new certificate', async () => {
    const { r } = rotator(async () => mintEast());
    const first = await withDeadline(r.start(), 10_000);
    const client = testGatewayCertificate('west');
    const serverSockets: tls.TLSSocket[] = [];
    const server = tls.createServer(
      { ...secureContextOptions(first), requestCert: true, minVersion: 'TLSv1.3' },
      (s) => {
        serverSockets.push(s);
        s.pipe(s); // echo
      },
    );
    cleanups.push(() => {
      for (const s of serverSockets) s.destroy();
      server.close();
    });
    r.on('rotated', (m) => server.setSecureContext(secureContextOptions(m)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;

    const connect = async () => {
      const socket = tls.connect({
        host: '127.0.0.1',
        port,
        key: client.keyPem,
        cert: client.chainPem,
        ca: testPki().anchor.certPem,
        checkServerIdentity: () => undefined,
      });
      cleanups.push(() => socket.destroy());
      await once(socket, 'secureConnect', { signal: AbortSignal.timeout(5000) });
      return socket;
    };
    const echo = async (socket: tls.TLSSocket, text: string) => {
      const reply = once(socket, 'data', { signal: AbortSignal.timeout(5000) });
      socket.write(text);
      return String((await reply)[0]);
    };
    const fingerprint = (m: TlsMaterial) => certificateInfo(m.certPem).fingerprintSha256;

    const tunnel = await connect();
    expect(await echo(tunnel, 'before')).toBe('before');
    expect(tunnel.getPeerCertificate().fingerprint256).toBe(fingerprint(first));

    const rotated = once(r, 'rotated', { signal: AbortSignal.timeout(5000) });
    await r.renewNow();
    const [second] = (await rotated) as [TlsMaterial];
    expect(fingerprint(second)).not.toBe(fingerprint(first));

    expect(await echo(tunnel, 'after')).toBe('after');
    expect(tunnel.getPeerCertificate().fingerprint256).toBe(fingerprint(first));
    const fresh = await connect();
    expect(fresh.getPeerCertificate().fingerprint256).toBe(fingerprint(second));
    expect(await echo(fresh, 'new')).toBe('new');
    expect(serverSockets).toHaveLength(2);
    expect(serverSockets[0]!.destroyed).toBe(false);
  });
});
