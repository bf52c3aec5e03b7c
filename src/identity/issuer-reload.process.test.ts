/**
 * The real `isthmus identity` process follows its issuer Secret: kubelet-style updates of the
 * mounted files (a `..data` symlink swap) make it sign with the renewed issuer without a restart,
 * and serve Certify with a certificate of that issuer too; a bad update is refused on stderr
 * while the issuer in force keeps signing. It reviews tokens with the sandbox's TokenReview: only
 * one bound to the identity audience gets a certificate. The kubelet's plaintext health check
 * answers on its own port, and the admin port serves the metrics of those calls and of the issuer
 * in force over HTTP.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../kube/client.js';
import { IDENTITY_TOKEN_AUDIENCE, SYSTEM_NAMESPACE } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import { requestServiceAccountToken } from '../kube/token-request.js';
import { type Sandbox, startSandbox } from '../sandbox/index.js';
import { waitFor } from '../wait-for.js';
import { createIssuer } from './ca.js';
import { requestCertificate } from './certify-client.js';
import { normaliseSerial } from './crl.js';
import { checkHealth, ServingStatus } from './health.js';
import { splitPem } from './pem.js';
import {
  presentedChain,
  SecretVolume,
  samplesOf,
  TEST_TRUST_DOMAIN,
  testIdentityTrust,
  testPki,
} from './testing.js';

const pki = testPki();
let sandbox: Sandbox;
let admin: KubeClient;
let child: ChildProcess | undefined;
let out = '';
let err = '';
const volumes: SecretVolume[] = [];

beforeAll(async () => {
  sandbox = await startSandbox({ name: 'east', tls: false });
  admin = KubeClient.fromKubeconfigString(sandbox.kubeconfig());
  await admin.create(R.namespaces, { metadata: { name: SYSTEM_NAMESPACE } });
  await admin.create(R.serviceAccounts, {
    metadata: { name: 'isthmus-gateway', namespace: SYSTEM_NAMESPACE },
  });
});

afterAll(async () => {
  child?.kill('SIGKILL');
  admin?.close();
  await sandbox?.close();
  for (const v of volumes) rmSync(v.dir, { recursive: true, force: true });
});

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
    const anchor = new SecretVolume({ 'ca.crt': pki.anchor.certPem });
    const a = pki.issuers.east;
    const secret = new SecretVolume({ 'tls.crt': a.certPem, 'tls.key': a.keyPem });
    volumes.push(anchor, secret);
    const kubeconfig = join(secret.dir, '..kubeconfig');
    writeFileSync(kubeconfig, sandbox.kubeconfig());
    child = spawn(
      process.execPath,
      [
        'bin/isthmus.mjs',
        'identity',
        '--cluster=east',
        `--trust-domain=${TEST_TRUST_DOMAIN}`,
        `--kubeconfig=${kubeconfig}`,
        '--listen=127.0.0.1:0',
        '--health-listen=127.0.0.1:0',
        '--admin-listen=127.0.0.1:0',
        `--issuer-cert=${join(secret.dir, 'tls.crt')}`,
        `--issuer-key=${join(secret.dir, 'tls.key')}`,
        `--trust-anchor=${join(anchor.dir, 'ca.crt')}`,
        '--issuer-check-interval=100ms',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const port = await waitFor(
      'identity serving',
      () => /serving Certify on 127\.0\.0\.1:(\d+)/.exec(out)?.[1],
      {
        timeoutMs: 30_000,
        intervalMs: 50,
      },
    );
    const address = `127.0.0.1:${port}`;
    const healthPort = await waitFor(
      'health serving',
      () => /serving health \(plaintext\) on 127\.0\.0\.1:(\d+)/.exec(out)?.[1],
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
    expect(out).toContain(`serial=${first.serial}`);
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
    await waitFor('issuer reloaded', () => out.includes('issuer reloaded'), 10_000);
    // The serial as the audit log and `certs revoke --serial` write it: lowercase, no leading zeros.
    expect(out).toContain(`serial ${normaliseSerial(new X509Certificate(b.certPem).serialNumber)}`);
    expect(await signerOf(address, token)).toBe(b.certPem);
    // The serving certificate follows the issuer: renewed from b, without a restart.
    await waitFor('serving certificate renewed', () => out.includes('serving certificate renewed'), 10_000);
    const second = await serving();
    expect(second.serial).not.toBe(first.serial);
    expect(second.signer).toBe(fingerprintOf(b.certPem));
    expect(out).toContain(`serving certificate renewed: serial=${second.serial}`);

    secret.publish({ 'tls.crt': b.certPem, 'tls.key': a.keyPem });
    await waitFor('update refused', () => err.includes('issuer update refused'), 10_000);
    expect(err).toMatch(/the issuer in force keeps signing: .*does not match the certificate/);
    expect(await signerOf(address, token)).toBe(b.certPem);

    // The admin port: every call above counted once, by result, and the issuer in force is b.
    const adminPort = await waitFor(
      'admin serving',
      () => /serving admin \(\/metrics, \/live, \/ready\) on 127\.0\.0\.1:(\d+)/.exec(out)?.[1],
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
    for (const path of ['/live', '/ready']) expect((await fetch(`${adminUrl}${path}`)).status).toBe(200);
  });
});
