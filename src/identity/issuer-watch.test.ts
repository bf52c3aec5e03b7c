import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { IsthmusError } from '../errors.js';
import { waitFor } from '../wait-for.js';
import { createIssuer, createTrustAnchor, type KeyPairPem } from './ca.js';
import { certificateInfo } from './certificate-info.js';
import { createCertifyHandler } from './certify-service.js';
import { createCsr } from './csr.js';
import {
  type IssuerWatcher,
  MAX_NOT_YET_VALID_RETRY_MS,
  notYetValidRetryAt,
  refusedIssuerRetryAt,
  watchIssuer,
} from './issuer-watch.js';
import { splitPem } from './pem.js';
import { foreignTestPki, SecretVolume, TEST_TRUST_DOMAIN, testLeafKey, testPki } from './testing.js';
import { opensslCa, stepLikeIssuer } from './testing-openssl.js';

const pki = testPki();
const reviewer = async () => ({
  authenticated: true,
  username: 'system:serviceaccount:isthmus-system:isthmus-gateway',
});
const GATEWAY = `spiffe://${TEST_TRUST_DOMAIN}/cluster/east/gateway`;

let watcher: IssuerWatcher | undefined;
const dirs: string[] = [];
afterEach(() => {
  vi.useRealTimers();
  watcher?.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The issuer certificate of the chain a Certify call returns. */
async function signer(handle: ReturnType<typeof createCertifyHandler>): Promise<string | undefined> {
  const result = await handle({ token: 't', csrPem: createCsr(testLeafKey().privateKeyPem, GATEWAY) });
  if (!result.ok) throw new Error(result.message);
  return splitPem(result.response.chainPem)[1];
}

describe('watchIssuer', () => {
  it('signs with a renewed issuer once its Secret is updated, and refuses bad updates', async () => {
    const a = pki.issuers.east;
    const { watching, anchor, secret, changes, errors, handle } = await watchEast();
    expect(await signer(handle)).toBe(a.certPem);
    expect(watching.refused()).toBe(false);

    // Renewed, as cert-manager writes it: the issuer followed by its CA in tls.crt.
    const b = createIssuer(pki.anchor, { cluster: 'east', trustDomain: TEST_TRUST_DOMAIN });
    secret.publish({ 'tls.crt': b.certPem + pki.anchor.certPem, 'tls.key': b.keyPem });
    await waitFor('the renewed issuer', () => changes.length === 1, 5000);
    expect(watching.current().certPem).toBe(b.certPem);
    expect(await signer(handle)).toBe(b.certPem);

    // A key that is not the certificate's, then an issuer of another anchor: refused, B signs on.
    secret.publish({ 'tls.crt': b.certPem, 'tls.key': a.keyPem });
    await waitFor('the mismatched key refused', () => errors.length === 1, 5000);
    expect(errors[0]?.message).toMatch(/does not match the certificate/);
    const foreign = foreignTestPki().issuers.east;
    secret.publish({ 'tls.crt': foreign.certPem, 'tls.key': foreign.keyPem });
    await waitFor('the foreign issuer refused', () => errors.length === 2, 5000);
    expect(errors[1]?.message).toMatch(/not signed by the trust anchor/);
    expect(changes).toHaveLength(1);
    expect(await signer(handle)).toBe(b.certPem);
    expect(watching.refused()).toBe(true); // isthmus_identity_issuer_file_refused, until good files load

    // Anchor rotation: the foreign issuer is accepted once its anchor joins the bundle.
    anchor.publish({ 'ca.crt': pki.anchor.certPem + foreignTestPki().anchor.certPem });
    await waitFor('the issuer under the new anchor', () => changes.length === 2, 5000);
    expect(await signer(handle)).toBe(foreign.certPem);
    expect(watching.refused()).toBe(false);

    // West's issuer, mounted in east by mistake: every gateway would refuse what it signs.
    const west = pki.issuers.west;
    secret.publish({ 'tls.crt': west.certPem, 'tls.key': west.keyPem });
    await waitFor("west's issuer refused", () => errors.length === 3, 5000);
    expect(errors[2]?.message).toMatch(
      /the issuer of cluster "west" \(CN=identity\.west\.cluster\.local\), not of "east"/,
    );
    expect(changes).toHaveLength(2);
    expect(await signer(handle)).toBe(foreign.certPem);
    expect(watching.refused()).toBe(true);

    // Fixed by putting the issuer in force back: loaded again, nothing refused any more.
    secret.publish({ 'tls.crt': foreign.certPem, 'tls.key': foreign.keyPem });
    await waitFor('the issuer in force put back', () => changes.length === 3, 5000);
    expect(watching.refused()).toBe(false);
  });

  it('refuses to start on an invalid issuer, with the reason', async () => {
    const anchor = new SecretVolume({ 'ca.crt': pki.anchor.certPem });
    const foreign = foreignTestPki().issuers.east;
    const secret = new SecretVolume({ 'tls.crt': foreign.certPem, 'tls.key': foreign.keyPem });
    dirs.push(anchor.dir, secret.dir);
    await expect(
      watchIssuer({
        anchorFile: join(anchor.dir, 'ca.crt'),
        certFile: join(secret.dir, 'tls.crt'),
        keyFile: join(secret.dir, 'tls.key'),
        onChange: () => {},
        onError: () => {},
      }),
    ).rejects.toThrow(/not signed by the trust anchor/);
  });

  it('takes an ECDSA issuer update (cert-manager with privateKey.algorithm: ECDSA) and signs with it', async () => {
    const { secret, changes, errors, handle } = await watchEast();
    // As Linkerd's docs write the Certificate: the issuer followed by its CA in tls.crt.
    const ec = stepLikeIssuer(pki.anchor, `identity.east.${TEST_TRUST_DOMAIN}`);
    secret.publish({ 'tls.crt': ec.certPem + pki.anchor.certPem, 'tls.key': ec.keyPem });
    await waitFor('the ECDSA issuer taken', () => changes.length === 1, 5000);
    expect(errors).toEqual([]);
    expect(watcher?.refused()).toBe(false);
    expect(await signer(handle)).toBe(ec.certPem);
  });

  it('refuses an Ed25519 issuer update, and the issuer in force keeps signing', async () => {
    const { secret, changes, errors, handle } = await watchEast();
    const ed = opensslCa({
      key: 'ed25519',
      commonName: `identity.east.${TEST_TRUST_DOMAIN}`,
      signer: pki.anchor,
    });
    secret.publish({ 'tls.crt': ed.certPem + pki.anchor.certPem, 'tls.key': ed.keyPem });
    await waitFor('the Ed25519 issuer refused', () => errors.length === 1, 5000);
    expect(errors[0]?.message).toMatch(
      /the issuer key is Ed25519: Isthmus signs with RSA or ECDSA \(P-256, P-384, P-521\) keys only/,
    );
    expect(changes).toHaveLength(0);
    expect(watcher?.refused()).toBe(true);
    expect(await signer(handle)).toBe(pki.issuers.east.certPem);
  });

  it('takes an update that came before its notBefore once that has passed, the files unchanged', async () => {
    // Date only, and it runs on: the watch polls on real timers, the clock is moved by hand.
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    const { secret, changes, errors, handle } = await watchEast();
    // Signed by a clock 10 minutes ahead of this one (cert-manager does not backdate notBefore).
    const startedAt = Date.now();
    vi.setSystemTime(startedAt + 10 * 60_000);
    const early = createIssuer(pki.anchor, { cluster: 'east', trustDomain: TEST_TRUST_DOMAIN });
    vi.setSystemTime(startedAt);
    secret.publish({ 'tls.crt': early.certPem, 'tls.key': early.keyPem });
    await waitFor('the early issuer refused', () => errors.length === 1, 5000);
    expect(errors[0]?.message).toMatch(/not valid before/);
    expect(watcher?.refused()).toBe(true);

    vi.setSystemTime(startedAt + 10 * 60_000);
    await waitFor('the issuer taken once valid', () => changes.length === 1, 5000);
    expect(errors).toHaveLength(1);
    expect(watcher?.refused()).toBe(false);
    expect(await signer(handle)).toBe(early.certPem);
  });

  it('warns, at start, of an expired anchor in the bundle, and signs with the issuer of the valid one', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() - 11 * 86_400_000);
    const old = createTrustAnchor({ trustDomain: TEST_TRUST_DOMAIN, keyBits: 2048, validityDays: 10 });
    vi.useRealTimers();
    const warnings: string[] = [];
    const { handle } = await watchEast({
      anchorPem: pki.anchor.certPem + old.certPem,
      onWarning: (w) => warnings.push(w),
    });
    expect(warnings).toEqual([
      expect.stringMatching(/ca\.crt: anchor #2 of the bundle: expired at .*new-anchor --finish/),
    ]);
    expect(await signer(handle)).toBe(pki.issuers.east.certPem);
  });

  it('anchorPem() is the anchor in force after an anchor reload, not the one it started with', async () => {
    const { watching, anchor, changes } = await watchEast();
    // Step 1 of a rotation: the bundle of the new anchor and the old one.
    const bundle = foreignTestPki().anchor.certPem + pki.anchor.certPem;
    anchor.publish({ 'ca.crt': bundle });
    await waitFor('the anchor reloaded', () => changes.length === 1, 10_000);
    expect(watching.anchorPem()).toBe(bundle);
  });
});

describe('notYetValidRetryAt', () => {
  const now = 1_700_000_000_000;
  it.each([
    ['notBefore passed', now - 1, undefined],
    ['notBefore now', now, undefined],
    ['seconds ahead: then', now + 3000, now + 3000],
    ['a day ahead: within the bound', now + 86_400_000, now + MAX_NOT_YET_VALID_RETRY_MS],
  ])('%s', (_what, notBefore, expected) => {
    expect(notYetValidRetryAt(notBefore, now)).toBe(expected);
  });
});

describe('refusedIssuerRetryAt', () => {
  it('is the notBefore of an issuer refused only for coming early, else undefined', async () => {
    const now = Date.now();
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(now + 10 * 60_000);
    const early = createIssuer(pki.anchor, { cluster: 'east', trustDomain: TEST_TRUST_DOMAIN });
    vi.useRealTimers();
    const notBefore = certificateInfo(early.certPem).notBefore.getTime();
    const anchor = new SecretVolume({ 'ca.crt': pki.anchor.certPem });
    dirs.push(anchor.dir);
    const at = async (pair: KeyPairPem, cluster = 'east') => {
      const secret = new SecretVolume({ 'tls.crt': pair.certPem, 'tls.key': pair.keyPem });
      dirs.push(secret.dir);
      const files = {
        anchorFile: join(anchor.dir, 'ca.crt'),
        certFile: join(secret.dir, 'tls.crt'),
        keyFile: join(secret.dir, 'tls.key'),
      };
      return refusedIssuerRetryAt({ ...files, scope: { cluster, trustDomain: TEST_TRUST_DOMAIN } }, now);
    };
    expect(await at(early)).toBe(notBefore);
    // Early, and with another's key, or for another cluster: not loaded at its notBefore either.
    expect(await at({ ...early, keyPem: pki.issuers.east.keyPem })).toBeUndefined();
    expect(await at(early, 'west')).toBeUndefined();
    // Valid now: refused for something else, nothing to wait for.
    expect(await at(pki.issuers.west)).toBeUndefined();
  });
});

/** East's identity on the test PKI's issuer, followed every 20 ms, with what it reports. */
async function watchEast(opts: { anchorPem?: string; onWarning?: (w: string) => void } = {}) {
  const anchor = new SecretVolume({ 'ca.crt': opts.anchorPem ?? pki.anchor.certPem });
  const a = pki.issuers.east;
  const secret = new SecretVolume({ 'tls.crt': a.certPem, 'tls.key': a.keyPem });
  dirs.push(anchor.dir, secret.dir);
  const changes: KeyPairPem[] = [];
  const errors: IsthmusError[] = [];
  const watching = await watchIssuer({
    anchorFile: join(anchor.dir, 'ca.crt'),
    certFile: join(secret.dir, 'tls.crt'),
    keyFile: join(secret.dir, 'tls.key'),
    scope: { cluster: 'east', trustDomain: TEST_TRUST_DOMAIN },
    intervalMs: 20,
    onChange: (i) => changes.push(i),
    onError: (e) => errors.push(e),
    ...(opts.onWarning ? { onWarning: opts.onWarning } : {}),
  });
  watcher = watching;
  const handle = createCertifyHandler({
    issuer: watching.current,
    trustDomain: TEST_TRUST_DOMAIN,
    cluster: 'east',
    reviewer,
  });
  return { watching, anchor, secret, changes, errors, handle };
}
