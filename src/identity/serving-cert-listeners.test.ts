/**
 * A serving certificate the listener could not load is not reported as served (review: a
 * setSecureContext that threw left servingCertificate() naming a certificate no handshake got). The
 * failure is a failed renewal: the certificate in force stays current, onError hears it, and the
 * renewal is retried.
 */
import { expect, it } from 'vitest';
import type { IsthmusError } from '../errors.js';
import { createIssuer, createTrustAnchor } from './ca.js';
import { ServingCertificateProvider } from './serving-cert.js';

/** West's serving certificate provider under a new anchor, with the errors it reports. */
async function westProvider() {
  const anchor = createTrustAnchor({ trustDomain: 'cluster.local', keyBits: 2048 });
  const issuer = createIssuer(anchor, { cluster: 'west', trustDomain: 'cluster.local' });
  const errors: IsthmusError[] = [];
  const provider = await ServingCertificateProvider.start({
    issuer: () => issuer,
    trustDomain: 'cluster.local',
    cluster: 'west',
    dnsNames: ['isthmus-identity'],
    onError: (err) => errors.push(err),
  });
  return { provider, errors };
}

it('keeps the certificate in force when a listener cannot load the new one', async () => {
  const { provider, errors } = await westProvider();
  try {
    const first = provider.current;
    let refuse = false;
    const loaded: string[] = [];
    provider.addIdentityCertificateListener((update) => {
      if (refuse) throw new Error('setSecureContext: key values mismatch');
      if (update) loaded.push(update.certificate.toString());
    });
    // The certificate in force reaches a new listener on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
    expect(loaded).toEqual([first.chainPem]);
    refuse = true;
    const after = await provider.renewNow();
    expect(after.serial).toBe(first.serial);
    expect(provider.current.serial).toBe(first.serial);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(/key values mismatch/);

    // Once the listener loads it, the renewal goes through.
    refuse = false;
    const renewed = await provider.renewNow();
    expect(renewed.serial).not.toBe(first.serial);
    expect(loaded.at(-1)).toBe(renewed.chainPem);
  } finally {
    provider.stop();
  }
});

it('reports a listener that cannot load the certificate in force when it is added, without throwing', async () => {
  const { provider, errors } = await westProvider();
  try {
    provider.addIdentityCertificateListener(() => {
      throw new Error('setSecureContext: key values mismatch');
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/key values mismatch/)]);
  } finally {
    provider.stop();
  }
});
