import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { IsthmusError } from '../errors.js';
import { waitFor } from '../wait-for.js';
import { createIssuer, type KeyPairPem } from './ca.js';
import { createCertifyHandler } from './certify-service.js';
import { createCsr } from './csr.js';
import { type IssuerWatcher, watchIssuer } from './issuer-watch.js';
import { splitPem } from './pem.js';
import { foreignTestPki, SecretVolume, TEST_TRUST_DOMAIN, testLeafKey, testPki } from './testing.js';

const pki = testPki();
const reviewer = async () => ({
  authenticated: true,
  username: 'system:serviceaccount:isthmus-system:isthmus-gateway',
});
const GATEWAY = `spiffe://${TEST_TRUST_DOMAIN}/cluster/east/gateway`;

let watcher: IssuerWatcher | undefined;
const dirs: string[] = [];
afterEach(() => {
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
    const anchor = new SecretVolume({ 'ca.crt': pki.anchor.certPem });
    const a = pki.issuers.east;
    const secret = new SecretVolume({ 'tls.crt': a.certPem, 'tls.key': a.keyPem });
    dirs.push(anchor.dir, secret.dir);
    const changes: KeyPairPem[] = [];
    const errors: IsthmusError[] = [];
    watcher = await watchIssuer({
      anchorFile: join(anchor.dir, 'ca.crt'),
      certFile: join(secret.dir, 'tls.crt'),
      keyFile: join(secret.dir, 'tls.key'),
      scope: { cluster: 'east', trustDomain: TEST_TRUST_DOMAIN },
      intervalMs: 20,
      onChange: (i) => changes.push(i),
      onError: (e) => errors.push(e),
    });
    const handle = createCertifyHandler({
      issuer: watcher.current,
      trustDomain: TEST_TRUST_DOMAIN,
      cluster: 'east',
      reviewer,
    });
    expect(await signer(handle)).toBe(a.certPem);
    expect(watcher.refused()).toBe(false);

    // Renewed, as cert-manager writes it: the issuer followed by its CA in tls.crt.
    const b = createIssuer(pki.anchor, { cluster: 'east', trustDomain: TEST_TRUST_DOMAIN });
    secret.publish({ 'tls.crt': b.certPem + pki.anchor.certPem, 'tls.key': b.keyPem });
    await waitFor('the renewed issuer', () => changes.length === 1, 5000);
    expect(watcher.current().certPem).toBe(b.certPem);
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
    expect(watcher.refused()).toBe(true); // isthmus_identity_issuer_file_refused, until good files load

    // Anchor rotation: the foreign issuer is accepted once its anchor joins the bundle.
    anchor.publish({ 'ca.crt': pki.anchor.certPem + foreignTestPki().anchor.certPem });
    await waitFor('the issuer under the new anchor', () => changes.length === 2, 5000);
    expect(await signer(handle)).toBe(foreign.certPem);
    expect(watcher.refused()).toBe(false);

    // West's issuer, mounted in east by mistake: every gateway would refuse what it signs.
    const west = pki.issuers.west;
    secret.publish({ 'tls.crt': west.certPem, 'tls.key': west.keyPem });
    await waitFor("west's issuer refused", () => errors.length === 3, 5000);
    expect(errors[2]?.message).toMatch(
      /the issuer of cluster "west" \(CN=identity\.west\.cluster\.local\), not of "east"/,
    );
    expect(changes).toHaveLength(2);
    expect(await signer(handle)).toBe(foreign.certPem);
    expect(watcher.refused()).toBe(true);

    // Fixed by putting the issuer in force back: loaded again, nothing refused any more.
    secret.publish({ 'tls.crt': foreign.certPem, 'tls.key': foreign.keyPem });
    await waitFor('the issuer in force put back', () => changes.length === 3, 5000);
    expect(watcher.refused()).toBe(false);
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
});
