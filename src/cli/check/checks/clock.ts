/**
 * The clock check dates things by: the API server's (its Date header, facts.apiNow), which the
 * cluster's components and its peers run close to, else this machine's. A jump host's clock a
 * minute behind would otherwise make every gateway leaf issued a moment ago (backdated only 20 s,
 * CLOCK_SKEW_ALLOWANCE_MS) look not valid yet, and every Lease look expired.
 */
import { certificateInfo } from '../../../identity/index.js';
import type { ChainVerdict } from '../../../identity/verify-chain.js';
import type { CheckFacts } from '../types.js';

type Clocks = Pick<CheckFacts, 'now' | 'apiNow'>;

export function clusterNow(facts: Clocks): Date {
  return facts.apiNow ?? facts.now;
}

/** How a message names the clock of clusterNow. */
export function clockName(facts: Clocks): string {
  return facts.apiNow ? "the API server's clock" : "this machine's clock (the API server's was not read)";
}

/** How far past the clock a certificate may start and be put down to clocks rather than to it. */
export const CLOCK_SKEW_TOLERANCE_MS = 5 * 60_000;

/**
 * Whether `notBefore` is past `now` by at most CLOCK_SKEW_TOLERANCE_MS: what was dated by a clock
 * that runs ahead (backdated only 20 s), not a certificate or token to replace, since a new one
 * would start as late.
 */
export function startsWithinSkew(notBefore: Date, now: Date): boolean {
  const ahead = notBefore.getTime() - now.getTime();
  return ahead > 0 && ahead <= CLOCK_SKEW_TOLERANCE_MS;
}

/** A certificate of a chain that starts soon: when, and its place in the chain (0: the leaf). */
export type SoonStart = { at: Date; index: number };

/**
 * When `verify` refuses a chain at `now` only because certificates of it start within
 * CLOCK_SKEW_TOLERANCE_MS after `now`: the earliest start at which it passes, and which certificate
 * starts then. The chain is sound; the clock that issued it runs ahead, and the refusal ends by itself.
 */
export function startsSoon(
  chainPem: readonly string[],
  verify: (at: Date) => ChainVerdict,
  now: Date,
): SoonStart | undefined {
  const starts = chainPem.flatMap((pem, index) => {
    try {
      const { notBefore } = certificateInfo(pem);
      return startsWithinSkew(notBefore, now) ? [{ at: notBefore, index }] : [];
    } catch {
      return []; // not a certificate: the verdict at `now` says so
    }
  });
  starts.sort((a, b) => a.at.getTime() - b.at.getTime());
  return starts.find((s) => verify(s.at).ok);
}

/** Whose clock dated a certificate, and whose time sync to check if it recurs. */
export type Minter = { name: string; sync: string };

/** Gateway leaves: isthmus-identity, on a node of the cluster (`cluster`: a linked one). */
export function identityMinter(cluster?: string): Minter {
  return { name: `isthmus-identity's node${cluster ? ` in cluster ${cluster}` : ''}`, sync: 'the nodes' };
}

/** An issuer: `isthmus certs` on whatever machine ran it, or cert-manager (--external-issuer). */
export function issuerMinter(cluster?: string): Minter {
  const name = cluster
    ? `the machine that ran \`isthmus certs\` for cluster ${cluster}, or cert-manager's controller there with --external-issuer`
    : "the machine that ran `isthmus certs`, or cert-manager's controller with --external-issuer";
  return { name, sync: 'that machine' };
}

/** `what` starts at `start`, within minutes past clusterNow: whose clock to blame, and what waits meanwhile. */
export function clockAheadWarning(
  facts: Clocks,
  what: string,
  start: Date,
  issuedBy: Minter,
  meanwhile: string,
): string {
  const ahead = Math.ceil((start.getTime() - clusterNow(facts).getTime()) / 1000);
  return `${what} not valid before ${start.toISOString()}, ${ahead}s past ${clockName(facts)}: the clock it was issued by (${issuedBy.name}) runs ahead, and ${meanwhile} until then. It passes by itself; if this recurs, check the time sync (NTP) of ${issuedBy.sync}`;
}

/**
 * The warning for a gateway chain startsSoon found: what presents it, and whose clock issued the
 * certificate that starts last, the leaf's (identity) or the issuer's (its maker).
 */
export function startsSoonWarning(
  facts: Clocks,
  presenter: string,
  soon: SoonStart,
  cluster?: string,
): string {
  const leaf = soon.index === 0;
  return clockAheadWarning(
    facts,
    `${presenter} presents a certificate${leaf ? '' : ' whose issuer is'}`,
    soon.at,
    leaf ? identityMinter(cluster) : issuerMinter(cluster),
    'a peer whose clock is as far behind refuses it',
  );
}
