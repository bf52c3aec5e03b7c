/**
 * The real `isthmus identity` process follows its issuer Secret: kubelet-style updates of the
 * mounted files (a `..data` symlink swap) make it sign with the renewed issuer without a restart,
 * and serve Certify with a certificate of that issuer too; a bad update is refused on stderr
 * while the issuer in force keeps signing, and said on the admin port until the files are fixed
 * (a restart would fail on them, and does). It reviews tokens with the sandbox's TokenReview: only
 * one bound to the identity audience gets a certificate. The kubelet's plaintext health check
 * answers on its own port, and the admin port serves the metrics of those calls and of the issuer
 * in force over HTTP.
 */
import type { ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { KubeClient } from '../kube/client.js';
import { IDENTITY_TOKEN_AUDIENCE, SYSTEM_NAMESPACE } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import { requestServiceAccountToken } from '../kube/token-request.js';
import { type Sandbox, startSandbox } from '../sandbox/index.js';
import { waitFor } from '../wait-for.js';
import { createIssuer, createTrustAnchor, type KeyPairPem } from './ca.js';
import { requestCertificate } from './certify-client.js';
import { normaliseSerial } from './crl.js';
import { checkHealth, ServingStatus } from './health.js';
import { splitPem } from './pem.js';
import {
  foreignTestPki,
  presentedChain,
  SecretVolume,
  samplesOf,
  TEST_TRUST_DOMAIN,
  testCrlBundle,
  testIdentityTrust,
  testPki,
} from './testing.js';
import { type ProcessLogs, spawnIdentity } from './testing-process.js';

const pki = testPki();
let sandbox: Sandbox;
let admin: KubeClient;
const children: ChildProcess[] = [];
const volumes: SecretVolume[] = [];

beforeAll(async () => {
  sandbox = await startSandbox({ name: 'east', tls: false });
  admin = KubeClient.fromKubeconfigString(sandbox.kubeconfig());
  await admin.create(R.namespaces, { metadata: { name: SYSTEM_NAMESPACE } });
  await admin.create(R.serviceAccounts, {
    metadata: { name: 'isthmus-gateway', namespace: SYSTEM_NAMESPACE },
  });
});

afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

afterAll(async () => {
  admin?.close();
  await sandbox?.close();
  for (const v of volumes) rmSync(v.dir, { recursive: true, force: true });
});

/** An anchor and an issuer Secret mounted as kubelet does, removed after the tests. */
function mounted(issuer: KeyPairPem): { anchor: SecretVolume; secret: SecretVolume } {
  const anchor = new SecretVolume({ 'ca.crt': pki.anchor.certPem });
  const secret = new SecretVolume({ 'tls.crt': issuer.certPem, 'tls.key': issuer.keyPem });
  volumes.push(anchor, secret);
  return { anchor, secret };
}

/** `isthmus identity` with the issuer of `secret` under `anchor`; its output as it comes. */
function identity(anchor: SecretVolume, secret: SecretVolume, ...flags: string[]): ProcessLogs {
  const kubeconfig = join(secret.dir, '..kubeconfig');
  writeFileSync(kubeconfig, sandbox.kubeconfig());
  const files = {
    kubeconfig,
    anchor: join(anchor.dir, 'ca.crt'),
    cert: join(secret.dir, 'tls.crt'),
    key: join(secret.dir, 'tls.key'),
  };
  const { child, logs } = spawnIdentity(files, ...flags);
  children.push(child);
  return logs;
}

/** An anchor that expired yesterday, as an old anchor left in a bundle after its rotation. */
function expiredAnchor(): KeyPairPem {
  vi.useFakeTimers({ toFake: ['Date'] });
  try {
    vi.setSystemTime(Date.now() - 11 * 86_400_000);
    return createTrustAnchor({ trustDomain: TEST_TRUST_DOMAIN, keyBits: 2048, validityDays: 10 });
  } finally {
    vi.useRealTimers();
  }
}

const fingerprintOf = (pem: string) => new X509Certificate(pem).fingerprint256;

/** The issuer certificate in the chain the identity process answers with. */
async function signerOf(address: string, token: string): Promise<string | undefined> {
  const issued = await requestCertificate({
    address,
    token,
    server: testIdentityTrust('east'),
    timeoutMs: 5000,
  });
  return splitPem(issued.chainPem)[1];
}

describe('isthmus identity', () => {
  it('signs with a renewed issuer once its Secret mount is updated, and refuses a bad update', async () => {
    const a = pki.issuers.east;
    const { anchor, secret } = mounted(a);
    const logs = identity(anchor, secret, '--issuer-check-interval=100ms');
    const port = await waitFor(
      'identity serving',
      () => /serving Certify on 127\.0\.0\.1:(\d+)/.exec(logs.out)?.[1],
      {
        timeoutMs: 30_000,
        intervalMs: 50,
      },
    );
    const address = `127.0.0.1:${port}`;
    const healthPort = await waitFor(
      'health serving',
      () => /serving health \(plaintext\) on 127\.0\.0\.1:(\d+)/.exec(logs.out)?.[1],
      10_000,
    );
    // What the kubelet's gRPC probe does: plaintext, on the health port.
    expect(await checkHealth(`127.0.0.1:${healthPort}`)).toBe(ServingStatus.SERVING);
    /** The serial and the signer of the certificate Certify is served with, as a new client sees it. */
    const serving = async () => {
      const { leaf, issuer } = await presentedChain(address, pki.anchor.certPem);
      return { serial: normaliseSerial(leaf.serialNumber), signer: issuer?.fingerprint256 };
    };
    const first = await serving();
    expect(logs.out).toContain(`serial=${first.serial}`);
    expect(first.signer).toBe(fingerprintOf(a.certPem));
    const { token } = await requestServiceAccountToken(admin, SYSTEM_NAMESPACE, 'isthmus-gateway', {
      audiences: [IDENTITY_TOKEN_AUDIENCE],
      expirationSeconds: 3600,
    });
    expect(await signerOf(address, token)).toBe(a.certPem);
    // The account's API token (audience: the API server) is refused: only the identity audience is.
    const apiToken = await requestServiceAccountToken(admin, SYSTEM_NAMESPACE, 'isthmus-gateway', {
      audiences: [],
      expirationSeconds: 3600,
    });
    await expect(signerOf(address, apiToken.token)).rejects.toThrow(
      /is invalid for the target audiences \["identity.isthmus.dev"\]/,
    );

    const b = createIssuer(pki.anchor, { cluster: 'east', trustDomain: TEST_TRUST_DOMAIN });
    secret.publish({ 'tls.crt': b.certPem, 'tls.key': b.keyPem });
    await waitFor('issuer reloaded', () => logs.out.includes('issuer reloaded'), 10_000);
    // The serial as the audit log and `certs revoke --serial` write it: lowercase, no leading zeros.
    expect(logs.out).toContain(`serial ${normaliseSerial(new X509Certificate(b.certPem).serialNumber)}`);
    expect(await signerOf(address, token)).toBe(b.certPem);
    // The serving certificate follows the issuer: renewed from b, without a restart.
    await waitFor(
      'serving certificate renewed',
      () => logs.out.includes('serving certificate renewed'),
      10_000,
    );
    const second = await serving();
    expect(second.serial).not.toBe(first.serial);
    expect(second.signer).toBe(fingerprintOf(b.certPem));
    expect(logs.out).toContain(`serving certificate renewed: serial=${second.serial}`);

    secret.publish({ 'tls.crt': b.certPem, 'tls.key': a.keyPem });
    await waitFor('update refused', () => logs.err.includes('issuer update refused'), 10_000);
    expect(logs.err).toMatch(/the issuer in force keeps signing: .*does not match the certificate/);
    expect(await signerOf(address, token)).toBe(b.certPem);

    // The admin port: every call above counted once, by result, and the issuer in force is b.
    const adminPort = await waitFor(
      'admin serving',
      () => /serving admin \(\/metrics, \/live, \/ready\) on 127\.0\.0\.1:(\d+)/.exec(logs.out)?.[1],
      10_000,
    );
    const adminUrl = `http://127.0.0.1:${adminPort}`;
    const metrics = await (await fetch(`${adminUrl}/metrics`)).text();
    const gateway = 'spiffe://cluster.local/cluster/east/gateway';
    expect(samplesOf(metrics, 'isthmus_identity_certify_requests_total')).toMatchObject({
      [`{result="issued",identity="${gateway}"}`]: 3,
      '{result="unauthenticated",identity="none"}': 1,
      '{result="denied",identity="none"}': 0,
    });
    expect(samplesOf(metrics, 'isthmus_identity_certify_duration_seconds_count')).toEqual({
      '{result="issued"}': 3,
      '{result="unauthenticated"}': 1,
    });
    expect(
      samplesOf(metrics, 'isthmus_identity_certificate_expiration_timestamp_seconds')[
        '{certificate="issuer"}'
      ],
    ).toBe(new Date(new X509Certificate(b.certPem).validTo).getTime() / 1000);
    expect(metrics).toMatch(/^process_cpu_seconds_total /m);
    expect(metrics).toMatch(/^isthmus_build_info\{/m);
    // The refused files are on the admin port for as long as they stay (the alert fires on it),
    // while identity, still signing with b, stays ready.
    expect(samplesOf(metrics, 'isthmus_identity_issuer_file_refused')).toEqual({ '': 1 });
    for (const path of ['/live', '/ready']) expect((await fetch(`${adminUrl}${path}`)).status).toBe(200);

    // Fixed by putting b's key back: loaded again, and refused no more.
    secret.publish({ 'tls.crt': b.certPem, 'tls.key': b.keyPem });
    await waitFor('issuer reloaded again', () => logs.out.split('issuer reloaded').length === 3, 10_000);
    const fixed = await (await fetch(`${adminUrl}/metrics`)).text();
    expect(samplesOf(fixed, 'isthmus_identity_issuer_file_refused')).toEqual({ '': 0 });
  });

  // Step 1 of an anchor rotation, with step 3 of an earlier one late: an expired extra anchor is
  // logged as a warning (at start and on reload), and the CRL file is checked against the anchor
  // in force, so a CRL under the new anchor refused at start is taken once the bundle is mounted.
  it('warns of an expired extra anchor, and checks the CRL against a reloaded anchor', async () => {
    const expired = expiredAnchor();
    const a = pki.issuers.east;
    const { anchor, secret } = mounted(a);
    anchor.publish({ 'ca.crt': pki.anchor.certPem + expired.certPem });
    const next = foreignTestPki();
    const crlFile = join(secret.dir, '..crl.pem');
    writeFileSync(crlFile, testCrlBundle(next.issuers.east, ['0a']));
    const logs = identity(anchor, secret, '--issuer-check-interval=100ms', `--crl-file=${crlFile}`);
    await waitFor('identity serving', () => logs.out.includes('serving admin'), 30_000);
    const warning = `identity: warning: ${join(anchor.dir, 'ca.crt')}: anchor #2 of the bundle: expired at`;
    expect(logs.err).toContain(warning);
    expect(logs.err).toContain('new-anchor --finish');
    expect(logs.err).toMatch(
      /CRL refused, nothing is revoked until a good one appears: .*not an issuer under this trust anchor/,
    );

    anchor.publish({ 'ca.crt': next.anchor.certPem + pki.anchor.certPem + expired.certPem });
    await waitFor(
      'the CRL taken under the reloaded anchor',
      () => (logs.out.includes('CRL reloaded') ? logs.out : undefined),
      10_000,
    );
    expect(logs.out).toMatch(/CRL reloaded from .* for the reloaded trust anchor: 1 revoked/);
    // Said again on reload, where the expired anchor is now the third.
    expect(logs.err).toContain(warning.replace('#2', '#3'));
  });

  // The walkthrough's repro: an issuer of another anchor copied over the files. The running identity
  // refuses it and signs on; the alert on it says a restart fails on those files, and one does.
  it('a restart fails on the issuer files a running identity refused, with the reason', async () => {
    const a = pki.issuers.east;
    const { anchor, secret } = mounted(a);
    const running = identity(anchor, secret, '--issuer-check-interval=100ms');
    await waitFor('identity serving', () => running.out.includes('serving admin'), 30_000);
    const foreign = foreignTestPki().issuers.east;
    secret.publish({ 'tls.crt': foreign.certPem, 'tls.key': foreign.keyPem });
    await waitFor('update refused', () => running.err.includes('issuer update refused'), 10_000);
    expect(running.err).toMatch(/the issuer in force keeps signing: .*not signed by the trust anchor/);

    const restarted = identity(anchor, secret);
    await waitFor('the restarted identity exited', () => restarted.exit !== undefined, 30_000);
    expect(restarted.exit).toBe(1);
    expect(restarted.err).toMatch(/^error \[CERT_INVALID\]: .*not signed by the trust anchor/m);
    expect(restarted.out).not.toContain('serving Certify');
    expect(running.exit).toBeUndefined();
  });
});
