/**
 * A trust-anchor rotation on the wire: gateways whose anchor file bundles the old and the new
 * anchor accept peers of either, so clusters can move to the new anchor one at a time; with one
 * anchor only, the other side's chain is refused at the handshake, both ways.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createIssuer, createTrustAnchor, issueGatewayCertificate, type KeyPairPem } from '../identity/ca.js';
import { joinPem } from '../identity/pem.js';
import { PROBE_PATH, startHarness } from './test-support/harness.js';
import { makePki, TRUST_DOMAIN } from './test-support/pki.js';
import type { TunnelSecureContext } from './tunnel-settings.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const oldAnchor = createTrustAnchor({ trustDomain: TRUST_DOMAIN, keyBits: 2048 });
const newAnchor = createTrustAnchor({ trustDomain: TRUST_DOMAIN, keyBits: 2048 });
const BUNDLE = joinPem([newAnchor.certPem, oldAnchor.certPem]);
const pki = makePki();

/** The gateway certificate of `cluster` from an issuer under `anchor`, trusting `ca`. */
function gateway(anchor: KeyPairPem, cluster: string, ca: string): TunnelSecureContext {
  const issuer = createIssuer(anchor, { cluster, trustDomain: TRUST_DOMAIN });
  const cert = issueGatewayCertificate(issuer, { trustDomain: TRUST_DOMAIN, cluster });
  return { key: cert.keyPem, cert: cert.chainPem, ca };
}

/** East (pool) probes west (ingress) through mTLS. */
async function probe(east: TunnelSecureContext, west: TunnelSecureContext) {
  const h = await startHarness(pki, { ingressContext: west, pool: { secureContext: () => east } });
  cleanups.push(() => h.close());
  return h.pool.probe(h.ingress.address, PROBE_PATH, 3_000);
}

describe('a trust anchor bundle', () => {
  it('lets a gateway under the old anchor and one under the new talk both ways', async () => {
    expect(await probe(gateway(oldAnchor, 'east', BUNDLE), gateway(newAnchor, 'west', BUNDLE))).toMatchObject(
      {
        alive: true,
      },
    );
    expect(await probe(gateway(newAnchor, 'east', BUNDLE), gateway(oldAnchor, 'west', BUNDLE))).toMatchObject(
      {
        alive: true,
      },
    );
  });

  it('is what makes it work: with one anchor only, a peer under the other is refused', async () => {
    // West already dropped the old anchor while east still presents a chain to it.
    expect(
      await probe(gateway(oldAnchor, 'east', BUNDLE), gateway(newAnchor, 'west', newAnchor.certPem)),
    ).toMatchObject({
      alive: false,
      error: expect.stringMatching(/refused this cluster's gateway certificate at the TLS handshake/),
    });
    // East never took the bundle, and west already presents a chain to the new anchor.
    expect(
      await probe(gateway(oldAnchor, 'east', oldAnchor.certPem), gateway(newAnchor, 'west', BUNDLE)),
    ).toMatchObject({ alive: false, error: expect.stringMatching(/unable to (get|verify)|certificate/i) });
  });
});
