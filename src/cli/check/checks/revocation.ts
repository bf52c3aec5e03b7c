/**
 * Does the CRL bundle the gateways load (ConfigMap isthmus-system/isthmus-crl, `isthmus certs
 * revoke`) check out, and does it revoke a linked cluster's gateway? The gateways refuse a bundle
 * they cannot verify (they keep the list in force), and refuse a revoked peer at the handshake,
 * so either explains a Link that is dead although everything else looks right.
 */
import { X509Certificate } from 'node:crypto';
import { describeError } from '../../../errors.js';
import { RevocationList } from '../../../identity/revocation.js';
import { type CheckFacts, type CheckResult, linkLabel } from '../types.js';
import { resultOf, unreadable, withoutGateway } from './result.js';

const WHAT = 'no linked gateway is revoked';

export function checkRevocation(facts: CheckFacts): CheckResult {
  if (!facts.gatewayInstalled) return withoutGateway(WHAT);
  const blocked =
    unreadable(WHAT, 'ConfigMap isthmus-system/isthmus-crl', facts.crlPem) ??
    unreadable(WHAT, 'ConfigMap isthmus-system/isthmus-trust-anchor', facts.anchorPem) ??
    unreadable(WHAT, 'Links', facts.links);
  if (blocked || !facts.crlPem.ok || !facts.anchorPem.ok || !facts.links.ok) return blocked!;
  if (facts.crlPem.value === undefined) return resultOf(WHAT, []); // no CRL: nothing revoked
  let list: RevocationList;
  try {
    list = RevocationList.fromPem(facts.crlPem.value, facts.anchorPem.value);
  } catch (err) {
    return resultOf(WHAT, [
      `the gateways refuse the CRL bundle in isthmus-crl (${describeError(err)}); rebuild it with \`isthmus certs revoke\` from the directory of \`isthmus certs\``,
    ]);
  }
  const failures: string[] = [];
  for (const { link, gatewayChain: chain } of facts.links.value) {
    if (!chain?.ok || chain.chainPem.length === 0) continue; // the trust-anchor check reports these
    const [leaf, issuer] = chain.chainPem.map((pem) => new X509Certificate(pem));
    const reason = list.check(leaf!, issuer);
    if (reason) {
      failures.push(
        `Link ${linkLabel(link)}: gateway ${chain.address} is revoked here (${reason}); its tunnels are refused until it has a new certificate from an issuer that is not revoked`,
      );
    }
  }
  return resultOf(WHAT, failures);
}
