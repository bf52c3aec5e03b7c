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
 * When `verify` refuses a chain at `now` only because one of its certificates starts within
 * CLOCK_SKEW_TOLERANCE_MS after `now`: that start. The certificate is sound; the clock it was
 * issued by runs ahead, and the refusal ends by itself.
 */
export function startsSoon(
  chainPem: readonly string[],
  verify: (at: Date) => ChainVerdict,
  now: Date,
): Date | undefined {
  const starts = chainPem.flatMap((pem) => {
    try {
      const { notBefore } = certificateInfo(pem);
      return notBefore > now ? [notBefore.getTime()] : [];
    } catch {
      return []; // not a certificate: the verdict at `now` says so
    }
  });
  if (starts.length === 0) return undefined;
  const start = new Date(Math.max(...starts));
  if (start.getTime() - now.getTime() > CLOCK_SKEW_TOLERANCE_MS) return undefined;
  return verify(start).ok ? start : undefined;
}

/** The warning for a chain startsSoon found: what presents it, and whose clock issued it. */
export function startsSoonWarning(facts: Clocks, presenter: string, start: Date, issuedBy: string): string {
  const ahead = Math.ceil((start.getTime() - clusterNow(facts).getTime()) / 1000);
  return `${presenter} presents a certificate not valid before ${start.toISOString()}, ${ahead}s past ${clockName(facts)}: the clock it was issued by (${issuedBy}) runs ahead, and a peer whose clock is as far behind refuses it until then. It passes by itself; if this recurs, check the time sync (NTP) of the nodes`;
}
