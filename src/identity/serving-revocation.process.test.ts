/**
 * The real `isthmus identity --crl-file` process follows the CRL file as the gateways do (no file:
 * nothing revoked; a malformed one at start is logged and served through; a malformed update keeps the list in force)
 * and replaces its serving certificate as soon as the list revokes it, logging both serials, with
 * no restart. A revoked issuer is logged as an error naming the fix, once per load, and nothing is
 * renewed. No Certify call is made here (serving-revocation.test.ts makes them), so the kubeconfig
 * points at no API server.
 */
import type { ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../wait-for.js';
import { normaliseSerial } from './crl.js';
import { presentedChain, samplesOf, testCrlBundle, testPki } from './testing.js';
import { type ProcessLogs, spawnIdentity } from './testing-process.js';

const pki = testPki();
const dir = mkdtempSync(join(tmpdir(), 'isthmus-identity-crl-'));
const files = {
  anchor: join(dir, 'ca.crt'),
  cert: join(dir, 'issuer.crt'),
  key: join(dir, 'issuer.key'),
  kubeconfig: join(dir, 'kubeconfig'),
};
writeFileSync(files.anchor, pki.anchor.certPem);
writeFileSync(files.cert, pki.issuers.east.certPem);
writeFileSync(files.key, pki.issuers.east.keyPem);
writeFileSync(
  files.kubeconfig,
  `apiVersion: v1
kind: Config
clusters: [{ name: none, cluster: { server: "https://127.0.0.1:9" } }]
users: [{ name: none, user: { token: none } }]
contexts: [{ name: none, context: { cluster: none, user: none } }]
current-context: none
`,
);

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `isthmus identity` on loopback with `--crl-file=crlFile`; its stdout and stderr as they come. */
function identity(crlFile: string): ProcessLogs {
  const { child, logs } = spawnIdentity(files, `--crl-file=${crlFile}`, '--issuer-check-interval=50ms');
  children.push(child);
  return logs;
}

/** As kubelet updates a ConfigMap mount: a new file swapped in, never a half-written one. */
function replace(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

const count = (text: string, re: RegExp) => text.match(new RegExp(re, 'g'))?.length ?? 0;

describe('isthmus identity --crl-file', () => {
  it('replaces its serving certificate once the CRL revokes it; keeps the list through a bad update; reports a revoked issuer without renewing', async () => {
    const crl = join(dir, 'crl.pem');
    const logs = identity(crl);
    const [, port, first] = await waitFor(
      'identity serving',
      () => /serving Certify on 127\.0\.0\.1:(\d+) over TLS as \S+ serial=([0-9a-f]+)/.exec(logs.out),
      { timeoutMs: 30_000, intervalMs: 50 },
    );
    const address = `127.0.0.1:${port}`;
    const serving = async () =>
      normaliseSerial((await presentedChain(address, pki.anchor.certPem)).leaf.serialNumber);
    expect(logs.out).toContain(`identity: no CRL file ${crl} (yet): nothing is revoked until it appears`);
    expect(await serving()).toBe(first);

    replace(crl, testCrlBundle(pki.issuers.east, [first!]));
    const [, second] = await waitFor('the serving certificate replaced', () =>
      new RegExp(
        `identity: serving certificate serial=${first} is revoked \\(certificate serial [0-9A-F]+ is revoked by its issuer's CRL \\(keyCompromise, since [^)]+\\)\\): replaced by serial=([0-9a-f]+) notAfter=`,
      ).exec(logs.out),
    );
    expect(second).not.toBe(first);
    expect(logs.out).toMatch(/identity: CRL reloaded from .*crl\.pem: 1 revoked/);
    expect(logs.out).toContain(`identity: serving certificate renewed: serial=${second} `);
    expect(await serving()).toBe(second);

    replace(crl, 'not a CRL\n');
    await waitFor('the bad update refused', () => logs.err.includes('CRL update refused'));
    expect(logs.err).toMatch(
      /identity: CRL update refused, the list in force stays: CRL file .*crl\.pem: no "-----BEGIN X509 CRL-----" block/,
    );
    expect(await serving()).toBe(second);

    const issuerSerial = normaliseSerial(new X509Certificate(pki.issuers.east.certPem).serialNumber);
    // As `certs revoke --issuer-of` writes it: the revoked issuer's certificate stays in the bundle
    // (cut out with its CRL, the drop would be refused: its leaves would pass where no issuer is shown).
    replace(crl, pki.issuers.east.certPem + testCrlBundle(pki.anchor, [issuerSerial]));
    await waitFor('the revoked issuer reported', () => logs.err.includes('Renew the issuer'));
    expect(logs.err).toContain(
      `identity: serving certificate serial=${second} is refused by the CRL and a new one would be too: the issuer in force (serial ${issuerSerial}) is revoked`,
    );
    // Another load that still revokes the issuer: one more report, and no renewal came between.
    replace(crl, pki.issuers.east.certPem + testCrlBundle(pki.anchor, [issuerSerial, '4a11ce']));
    await waitFor('the second report', () => count(logs.err, /Renew the issuer/) === 2);
    expect(count(logs.out, /serving certificate renewed/)).toBe(1);
    expect(await serving()).toBe(second);
    expect(logs.exit).toBeUndefined();
  });

  it('serves on a malformed CRL file at start, saying so, and follows the next good one', async () => {
    const crl = join(dir, 'garbage.pem');
    writeFileSync(crl, 'not a CRL\n');
    const logs = identity(crl);
    const [, , first] = await waitFor(
      'identity serving',
      () => /serving Certify on 127\.0\.0\.1:(\d+) over TLS as \S+ serial=([0-9a-f]+)/.exec(logs.out),
      { timeoutMs: 30_000, intervalMs: 50 },
    );
    expect(logs.err).toMatch(
      /identity: CRL refused, nothing is revoked until a good one appears: CRL file .*garbage\.pem: no "-----BEGIN X509 CRL-----" block/,
    );
    // Said on the admin port too, for as long as the refused file stays (the alert fires on it).
    const [, adminPort] = await waitFor('admin serving', () =>
      /serving admin \(\/metrics, \/live, \/ready\) on 127\.0\.0\.1:(\d+)/.exec(logs.out),
    );
    const crlState = async () => {
      const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
      return {
        refused: samplesOf(text, 'isthmus_identity_crl_file_refused')[''],
        revoked: samplesOf(text, 'isthmus_identity_crl_revoked_certificates')[''],
      };
    };
    expect(await crlState()).toEqual({ refused: 1, revoked: 0 });
    replace(crl, testCrlBundle(pki.issuers.east, [first!]));
    await waitFor('the serving certificate replaced', () =>
      logs.out.includes(`identity: serving certificate serial=${first} is revoked`),
    );
    expect(await crlState()).toEqual({ refused: 0, revoked: 1 });
    expect(logs.exit).toBeUndefined();
  });
});
