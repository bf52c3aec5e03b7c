/** The expiry of a peer's chain and the timer that ends a session's admission then. */

import { X509Certificate } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createIssuer, createTrustAnchor, issueGatewayCertificate } from '../identity/ca.js';
import { joinPem } from '../identity/pem.js';
import { anchorOf, atExpiry, chainNotAfter, parseAnchors, peerChainNotAfter } from './certificate-expiry.js';
import { resigned, TRUST_DOMAIN } from './test-support/pki.js';

/** setTimeout's longest delay (2^31 − 1 ms, ~24.8 days): a longer one would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Cert {
  validTo: string;
  issuer?: Cert;
}
const notAfter = (leaf: Cert | undefined) =>
  chainNotAfter(
    leaf,
    (c) => c.validTo,
    (c) => c.issuer,
  );

describe('chainNotAfter', () => {
  const root: Cert = { validTo: 'Jan  1 00:00:00 2040 GMT' };
  root.issuer = root; // a root names itself
  it.each([
    ['no certificate', undefined, undefined],
    ['a leaf alone', { validTo: 'Mar  1 00:00:00 2030 GMT' }, Date.UTC(2030, 2, 1)],
    ['the leaf first', { validTo: 'Mar  1 00:00:00 2030 GMT', issuer: root }, Date.UTC(2030, 2, 1)],
    [
      'an intermediate that expires first',
      { validTo: 'Mar  1 00:00:00 2030 GMT', issuer: { validTo: 'Feb  1 00:00:00 2030 GMT', issuer: root } },
      Date.UTC(2030, 1, 1),
    ],
    ['an unreadable date is skipped', { validTo: 'never', issuer: root }, Date.UTC(2040, 0, 1)],
  ])('%s', (_what, leaf, expected) => {
    expect(notAfter(leaf)).toBe(expected);
  });

  it('ends on a loop of issuers', () => {
    const a: Cert = { validTo: 'Mar  1 00:00:00 2030 GMT' };
    const b: Cert = { validTo: 'Apr  1 00:00:00 2030 GMT', issuer: a };
    a.issuer = b;
    expect(notAfter(a)).toBe(Date.UTC(2030, 2, 1));
  });
});

describe('atExpiry', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('fires once just past notAfter, also beyond setTimeout range (30 days ahead)', () => {
    vi.useFakeTimers({ now: 0 });
    const day = 86_400_000;
    const fired = vi.fn();
    atExpiry(30 * day, fired);
    vi.advanceTimersByTime(MAX_TIMER_MS);
    expect(fired).not.toHaveBeenCalled(); // a clamped delay re-arms instead of firing at once
    vi.advanceTimersByTime(30 * day - MAX_TIMER_MS);
    expect(fired).not.toHaveBeenCalled(); // still valid through its notAfter
    vi.advanceTimersByTime(2);
    expect(fired).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(60 * day);
    expect(fired).toHaveBeenCalledTimes(1);
  });

  it('notices a wall clock that jumped (a VM resumed, a clock step) within an hour, not at the old timer', () => {
    vi.useFakeTimers({ now: 0 });
    const hour = 3_600_000;
    let wall = 0;
    const fired = vi.fn();
    atExpiry(10 * hour, fired, () => wall);
    vi.advanceTimersByTime(1);
    expect(fired).not.toHaveBeenCalled();
    // Monotonic time moves 1 h while the wall clock leaps past notAfter (a suspend of 9 h).
    wall = 10 * hour + 1;
    vi.advanceTimersByTime(hour);
    expect(fired).toHaveBeenCalledTimes(1);
  });

  it('fires in a later tick for a chain already expired, and not at all once cancelled', () => {
    vi.useFakeTimers({ now: 10_000 });
    const fired = vi.fn();
    atExpiry(5_000, fired);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(0);
    expect(fired).toHaveBeenCalledTimes(1);
    const cancelled = vi.fn();
    const cancel = atExpiry(20_000, cancelled);
    vi.advanceTimersByTime(5_000);
    cancel();
    vi.advanceTimersByTime(20_000);
    expect(cancelled).not.toHaveBeenCalled();
  });
});

describe('anchorOf', () => {
  // Two anchors of one rotation share their name: only the signature tells them apart.
  const oldAnchor = createTrustAnchor({ trustDomain: TRUST_DOMAIN, keyBits: 2048 });
  const newAnchor = createTrustAnchor({ trustDomain: TRUST_DOMAIN, keyBits: 2048 });
  const issuerOf = (anchor: typeof oldAnchor) =>
    new X509Certificate(createIssuer(anchor, { cluster: 'east', trustDomain: TRUST_DOMAIN }).certPem);
  const bundle = parseAnchors(joinPem([newAnchor.certPem, oldAnchor.certPem]));

  it('parses every certificate of a bundle', () => {
    expect(bundle.map((a) => a.fingerprint256)).toEqual(
      [newAnchor, oldAnchor].map((a) => new X509Certificate(a.certPem).fingerprint256),
    );
  });
  it('finds the anchor that signed a certificate, by signature among anchors of one name', () => {
    expect(bundle[0]?.subject).toBe(bundle[1]?.subject);
    expect(anchorOf(issuerOf(oldAnchor), bundle)).toBe(bundle[1]);
    expect(anchorOf(issuerOf(newAnchor), bundle)).toBe(bundle[0]);
  });
  it('takes the latest of an anchor and its renewed copy (same name and key), whatever the order', () => {
    const expiredCopy = resigned(oldAnchor, new Date(Date.now() - 60_000));
    const renewed = parseAnchors(joinPem([expiredCopy, oldAnchor.certPem]));
    expect(anchorOf(issuerOf(oldAnchor), renewed)).toBe(renewed[1]);
    expect(anchorOf(issuerOf(oldAnchor), [...renewed].reverse())).toBe(renewed[1]);
  });
  it('takes a copy valid now over one not yet valid with a later notAfter (the one OpenSSL verified with)', () => {
    const original = new X509Certificate(oldAnchor.certPem);
    const notYet = new X509Certificate(
      resigned(
        oldAnchor,
        new Date(Date.parse(original.validTo) + 86_400_000),
        new Date(Date.now() + 3_600_000),
      ),
    );
    const current = new X509Certificate(oldAnchor.certPem);
    expect(anchorOf(issuerOf(oldAnchor), [notYet, current])).toBe(current);
  });
  it('finds none for a certificate of another anchor, and an anchor is its own', () => {
    expect(anchorOf(issuerOf(oldAnchor), [bundle[0] as X509Certificate])).toBeUndefined();
    expect(anchorOf(bundle[1] as X509Certificate, bundle)).toBe(bundle[1]);
  });
});

describe('peerChainNotAfter: the chain as the ingress sees it, and its anchor', () => {
  const anchor = createTrustAnchor({ trustDomain: TRUST_DOMAIN, keyBits: 2048 });
  const other = createTrustAnchor({ trustDomain: TRUST_DOMAIN, keyBits: 2048, commonName: 'other root' });
  const issuer = createIssuer(anchor, { cluster: 'east', trustDomain: TRUST_DOMAIN });
  const leaf = new X509Certificate(
    issueGatewayCertificate(issuer, { trustDomain: TRUST_DOMAIN, cluster: 'east' }).certPem,
  );
  const inAnHour = Date.now() + 3_600_000;
  const soonOther = new X509Certificate(resigned(other, new Date(inAnHour)));
  const expiredOther = new X509Certificate(resigned(other, new Date(Date.now() - 60_000)));

  it('with the issuer shown (Node 20), the anchor that signed it, not an earlier one of the bundle', () => {
    const shown = new X509Certificate(issuer.certPem);
    const anchors = [soonOther, new X509Certificate(anchor.certPem)];
    expect(peerChainNotAfter(shown, anchors)).toBe(
      Math.min(Date.parse(shown.validTo), Date.parse(anchors[1]!.validTo)),
    );
  });
  it('with the leaf alone (Node 24 keeps no peer chain), the earliest anchor valid now stands for it', () => {
    const anchors = [new X509Certificate(anchor.certPem), soonOther, expiredOther];
    expect(peerChainNotAfter(leaf, anchors)).toBe(Date.parse(soonOther.validTo));
    // An expired anchor verifies nothing: the session is not ended at once for it.
    expect(peerChainNotAfter(leaf, [new X509Certificate(anchor.certPem), expiredOther])).toBe(
      Date.parse(leaf.validTo),
    );
  });
});
