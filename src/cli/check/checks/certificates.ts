/**
 * Trust anchor and this cluster's issuer (isthmus-system/isthmus-issuer `tls.crt`; the key is never
 * needed) are valid now and not close to expiry. Gateway leaves are short-lived and rotated by the
 * gateway itself, so they are not checked here. During a rotation an anchor of the bundle outside
 * its validity is a warning while another is valid, as install, upgrade and identity take it, unless
 * a gateway chain check read is still under it: that gateway is refused, so a failure. Dates are
 * judged by the API server's clock; an anchor or issuer that starts within minutes of it was minted
 * by a clock that runs ahead (`isthmus certs` backdates only 20 s): a warning, not a new one.
 */
import { certificateInfo, splitPem, verifyChain } from '../../../identity/index.js';
import { type CheckFacts, type CheckResult, type Fetched, linkLabel } from '../types.js';
import {
  clockAheadWarning,
  clusterNow,
  issuerMinter,
  type Minter,
  startsSoon,
  startsWithinSkew,
} from './clock.js';
import {
  namesOf,
  type OwnGatewayChain,
  ownGatewayChains,
  RESTART_GATEWAYS,
  restartOf,
} from './own-gateway.js';
import { resultOf, withoutGateway } from './result.js';
import { signedUnder } from './trust-anchor.js';

const WHAT = 'trust anchor and issuer certificates are not near expiry';
const DAY_MS = 86_400_000;
/** Linkerd warns 60 days ahead; 30 days is still a month to rotate a long-lived certificate. */
export const EXPIRY_WARNING_MS = 30 * DAY_MS;
/** For short-lived certificates 30 days would warn all their life: 10% of it is the bound then. */
export const EXPIRY_WARNING_FRACTION = 0.1;

export type ExpiryVerdict = { status: 'ok' | 'warn' | 'fail'; message: string };

/** A certificate that starts within minutes: whose clock dated it, and what waits on it meanwhile. */
type Ahead = { by: Minter; meanwhile: string };
const ANCHOR_AHEAD: Ahead = {
  by: { name: 'the machine that ran `isthmus certs`', sync: 'that machine' },
  meanwhile: 'a peer whose clock is as far behind refuses the certificates under it',
};
const ISSUER_AHEAD: Ahead = {
  by: issuerMinter(),
  meanwhile: 'isthmus-identity issues no gateway certificate from it',
};

function days(ms: number): string {
  const d = ms / DAY_MS;
  return d >= 2 ? `${Math.floor(d)} days` : `${Math.max(0, Math.floor(ms / 3_600_000))} hours`;
}

/** Pure: warns when less than min(30 days, 10% of the lifetime) remains. */
export function expiryVerdict(notBefore: Date, notAfter: Date, now: Date): ExpiryVerdict {
  const left = notAfter.getTime() - now.getTime();
  if (now < notBefore) return { status: 'fail', message: `not valid before ${notBefore.toISOString()}` };
  if (left <= 0) return { status: 'fail', message: `expired at ${notAfter.toISOString()}` };
  const life = notAfter.getTime() - notBefore.getTime();
  const threshold = Math.min(EXPIRY_WARNING_MS, life * EXPIRY_WARNING_FRACTION);
  if (left < threshold) {
    return { status: 'warn', message: `expires in ${days(left)} (${notAfter.toISOString()})` };
  }
  return { status: 'ok', message: `valid until ${notAfter.toISOString()}` };
}

export function checkCertificates(facts: CheckFacts): CheckResult {
  if (!facts.gatewayInstalled) return withoutGateway(WHAT);
  const failures: string[] = [];
  const warnings: string[] = [];
  const now = clusterNow(facts);
  /** `outOfWindow`: where a certificate outside its validity goes; a failure unless said otherwise. */
  const inspect = (
    what: string,
    pem: Fetched<string>,
    renew: string,
    ahead: Ahead,
    outOfWindow = failures,
  ) => {
    if (!pem.ok) {
      failures.push(`cannot read the ${what}: ${pem.error}`);
      return;
    }
    let verdict: ExpiryVerdict;
    let notBefore: Date;
    try {
      const info = certificateInfo(pem.value);
      notBefore = info.notBefore;
      verdict = expiryVerdict(notBefore, info.notAfter, now);
    } catch (err) {
      failures.push(`the ${what} is not a certificate: ${(err as Error).message}`);
      return;
    }
    // Minted (backdated 20 s) by a clock that runs ahead: `renew` would start as late.
    if (startsWithinSkew(notBefore, now)) {
      warnings.push(clockAheadWarning(facts, `the ${what} is`, notBefore, ahead.by, ahead.meanwhile));
      return;
    }
    if (verdict.status === 'fail') outOfWindow.push(`the ${what} ${verdict.message}; ${renew}`);
    if (verdict.status === 'warn') warnings.push(`the ${what} ${verdict.message}; ${renew}`);
  };
  // During an anchor rotation ca.crt bundles the old anchor and the new one: each is inspected.
  const anchors = facts.anchorPem.ok ? splitPem(facts.anchorPem.value) : [];
  const anchorFiles: Fetched<string>[] =
    anchors.length > 0 ? anchors.map((pem) => ({ ok: true, value: pem })) : [facts.anchorPem];
  const valid = anchors.filter((pem) => validAt(pem, now));
  // As install, upgrade and identity read the bundle (validate.ts reviewAnchorBundle): an anchor
  // outside its validity is unused while another is valid (step 3 of a rotation late), so a warning;
  // unless a gateway chain is still under it (a replica not restarted after step 2): refused, a failure.
  const bundleWarns = anchors.length > 1 && valid.length > 0;
  const own = ownGatewayChains(facts);
  const linked = linkedChains(facts);
  // By signature, not dates: a gateway whose chain the anchor's expiry broke is still under it.
  const usersOf = (anchorPem: string): string[] => {
    const ownUnder = own.filter((c) => signedUnder(c.chainPem, anchorPem));
    return [
      ...(ownUnder.length > 0 ? [ownTodo(ownUnder)] : []),
      ...linked.filter((c) => signedUnder(c.chain, anchorPem)).map((c) => c.todo),
    ];
  };
  // Apart from `failures`: the issuer is still chained below when only a gateway is refused.
  const refused: string[] = [];
  for (const [i, pem] of anchorFiles.entries()) {
    const users = bundleWarns && pem.ok ? usersOf(pem.value) : [];
    inspect(
      `trust anchor${anchorFiles.length > 1 ? ` #${i + 1} of ${anchorFiles.length}` : ''} (isthmus-system/isthmus-trust-anchor ca.crt)`,
      pem,
      users.length > 0
        ? `it is still in use by ${users.join('; and by ')}`
        : anchorFiles.length > 1
          ? bundleWarns && pem.ok && !validAt(pem.value, now)
            ? 'finish the rotation: isthmus certs new-anchor --finish, then step 3 in every cluster'
            : 'finish the rotation: drop the old anchor from the bundle (isthmus certs new-anchor --finish)'
          : 'rotate the anchor in every linked cluster (isthmus certs new-anchor)',
      ANCHOR_AHEAD,
      !bundleWarns ? failures : users.length > 0 ? refused : warnings,
    );
  }
  inspect(
    'issuer certificate (isthmus-system/isthmus-issuer tls.crt)',
    facts.issuerPem,
    'issue a new issuer under the same anchor (isthmus certs) and re-install',
    ISSUER_AHEAD,
  );
  // An issuer from another anchor signs gateway certificates no linked cluster will accept. The
  // valid anchors first, as validate.ts issuerProblems: an expired one renewed with the same name
  // and key must not hide the renewed one.
  if (facts.anchorPem.ok && facts.issuerPem.ok) {
    const issuerPem = facts.issuerPem.value;
    // One that passes once a certificate starting within minutes starts: warned of above, as clocks.
    const chainsTo = (bundle: string[]) => {
      const verify = (at: Date) => verifyChain(issuerPem, [], bundle, at);
      const verdict = verify(now);
      return verdict.ok || !startsSoon([issuerPem, ...bundle], verify, now)
        ? verdict
        : ({ ok: true } as const);
    };
    const first = valid.length > 0 ? chainsTo(valid) : undefined;
    const chained = first?.ok ? first : chainsTo(anchors);
    if (!chained.ok && failures.length === 0) {
      failures.push(
        `the issuer does not chain to the trust anchor (${chained.reason}); re-install with matching certificates`,
      );
    }
  }
  return resultOf(WHAT, [...refused, ...failures], warnings);
}

/**
 * Whether a certificate of the bundle is within its validity at `at` (unreadable: not); one that
 * starts within minutes counts, its start being a matter of clocks.
 */
function validAt(pem: string, at: Date): boolean {
  try {
    const info = certificateInfo(pem);
    return (info.notBefore <= at || startsWithinSkew(info.notBefore, at)) && at <= info.notAfter;
  } catch {
    return false;
  }
}

/** This cluster's gateway replicas under an anchor out of its validity, and how to replace their certificates. */
function ownTodo(chains: readonly OwnGatewayChain[]): string {
  const r = restartOf(chains);
  return `${namesOf(chains)}, whose ${chains.length === 1 ? 'certificate' : 'certificates'} every peer refuses: restart ${r.whom} so ${r.each} a certificate of the issuer in force (${r.command})`;
}

/** The linked gateways' chains check read, each with what to do about it. */
function linkedChains(facts: CheckFacts): Array<{ chain: string[]; todo: string }> {
  const linked = facts.links.ok ? facts.links.value : [];
  return linked.flatMap(({ link, gatewayChain: c }) =>
    c?.ok
      ? [
          {
            chain: c.chainPem,
            todo: `Link ${linkLabel(link)}'s gateway (${c.address}), which this cluster refuses: in cluster ${link.spec?.targetClusterName ?? linkLabel(link)}, issue from the new anchor (step 2) and restart every gateway replica (${RESTART_GATEWAYS})`,
          },
        ]
      : [],
  );
}
