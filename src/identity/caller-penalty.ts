/**
 * Penalties of caller addresses refused for their credentials. An address whose Certify call was
 * just refused UNAUTHENTICATED or PERMISSION_DENIED may hold only PENALISED_SHARE of the slots for
 * a while: each garbage token costs the API server a TokenReview, and without this eight attacking
 * pods (4 slots each) held all 32 slots and the gateways' renewals were refused "busy". A gateway
 * whose token the API server takes is never penalised; a success clears its address's penalty.
 * Pure apart from the injected clock, so the decisions are tested with tables.
 */
import type { CertifyOutcome } from './certify-outcome.js';

/**
 * How long a refused address stays penalised. Longer than the gateway's retry backoff tops out
 * (30 s, rotation-policy.ts), so an attacker that retries as a gateway does stays penalised; short
 * enough that a gateway refused while its token was being rotated has its share back soon even if
 * its next call fails for another reason (any success clears it at once).
 */
export const PENALTY_MS = 60_000;

/** Calls a penalised address may have in flight or waiting: enough for one renewal. */
export const PENALISED_SHARE = 1;

/**
 * Penalised addresses remembered at once (~100 bytes each). Far more addresses than a cluster has
 * pods that reach :8080; past it the oldest penalty goes first, so a flood from ever new addresses
 * cannot grow the table.
 */
export const MAX_PENALISED_ADDRESSES = 4096;

/**
 * What a call's outcome does to its address's penalty. The refusals of the caller's credentials
 * penalise: `unauthenticated` (the TokenReview refused the token: expired, another audience, not a
 * token; or it was refused before the review as no JWT) and `denied` (the account may hold no
 * identity, or the CSR asks for another one's). `issued` clears. The others say nothing of the
 * caller (the API server failed, the CSR was malformed, the caller gave up, the slots were full).
 */
export function penaltyAfter(outcome: CertifyOutcome): 'impose' | 'clear' | 'keep' {
  if (outcome === 'unauthenticated' || outcome === 'denied') return 'impose';
  return outcome === 'issued' ? 'clear' : 'keep';
}

export interface CallerPenaltyOptions {
  /** A monotonic clock in ms (default performance.now). */
  now?: () => number;
  penaltyMs?: number;
  maxAddresses?: number;
}

/** The penalised addresses, each until when. */
export class CallerPenalties {
  readonly #now: () => number;
  readonly #penaltyMs: number;
  readonly #max: number;
  /** In the order penalties were (re)imposed, so also of their ends: the expired are at the front. */
  readonly #until = new Map<string, number>();

  constructor(options: CallerPenaltyOptions = {}) {
    this.#now = options.now ?? (() => performance.now());
    this.#penaltyMs = options.penaltyMs ?? PENALTY_MS;
    this.#max = options.maxAddresses ?? MAX_PENALISED_ADDRESSES;
  }

  isPenalised(address: string): boolean {
    const until = this.#until.get(address);
    return until !== undefined && this.#now() < until;
  }

  /** Addresses remembered as penalised (some perhaps expired, until the table next fills). */
  get size(): number {
    return this.#until.size;
  }

  /**
   * Applies `outcome` to `address`'s penalty. `imposed`: the address was not penalised before
   * (a renewed penalty is not a new one).
   */
  record(address: string, outcome: CertifyOutcome): 'imposed' | undefined {
    const change = penaltyAfter(outcome);
    if (change === 'clear') this.#until.delete(address);
    if (change !== 'impose') return undefined;
    const t = this.#now();
    const was = this.isPenalised(address);
    this.#until.delete(address);
    if (this.#until.size >= this.#max) this.#evict(t);
    this.#until.set(address, t + this.#penaltyMs);
    return was ? undefined : 'imposed';
  }

  /** Makes room for one: the expired penalties go, else the oldest one. */
  #evict(t: number): void {
    for (const [address, until] of this.#until) {
      if (until > t) break;
      this.#until.delete(address);
    }
    const oldest = this.#until.keys().next();
    if (this.#until.size >= this.#max && !oldest.done) this.#until.delete(oldest.value);
  }
}
