/**
 * Certify's slots, shared fairly between caller addresses. At most `max` calls are in flight; an
 * address may have its share of them in flight or waiting (4, or 1 while it is penalised for a
 * refused token: caller-penalty.ts). When every slot is busy a call waits, a bounded time in a
 * bounded queue, and the next free slot goes to the waiting address with the fewest calls in
 * flight, addresses in good standing first, the first to come among equals: so a gateway's renewal
 * gets the slot an attacker's refused call gives back, though the attackers waited longer.
 * The decisions are pure functions (tested with tables); FairSlots only applies them.
 */
import { PENALISED_SHARE } from './caller-penalty.js';

/**
 * Calls waiting for a slot at once: as many as there are slots (MAX_CERTIFY_IN_FLIGHT). A healthy
 * call takes milliseconds, so while the slots turn over, each waiter soon has one; while they do
 * not (a hung API server), a longer queue would only hold more requests to refuse later.
 */
export const MAX_CERTIFY_WAITING = 32;

/**
 * The longest a call waits for a slot, less when its deadline is near (waitBudgetMs). The gateway
 * allows 10 s (DEFAULT_CERTIFY_TIMEOUT_MS): 2 s of waiting, a TokenReview of at most 5 s
 * (DEFAULT_REVIEW_TIMEOUT_MS) and 1 s to answer (ANSWER_RESERVE_MS) fit in it. Slots that stay
 * full for 2 s mean hung reviews or a flood, and the gateway had better hear "busy" and back off.
 */
export const MAX_CERTIFY_WAIT_MS = 2000;

export interface SlotLimits {
  /** Calls in flight at once (MAX_CERTIFY_IN_FLIGHT). */
  max: number;
  /** Calls of one address in flight or waiting (MAX_CERTIFY_IN_FLIGHT_PER_CALLER), unless penalised. */
  perCaller: number;
  /** Calls waiting for a slot (MAX_CERTIFY_WAITING). */
  maxWaiting: number;
}

/** One caller address's calls, and whether it is penalised now. */
export interface CallerLoad {
  inFlight: number;
  waiting: number;
  penalised: boolean;
}

/** What the slots hold now, over every address. */
export interface SlotsLoad {
  inFlight: number;
  waiting: number;
  /** Of the waiting calls, those of penalised addresses. */
  penalisedWaiting: number;
}

/** Calls an address may have in flight or waiting. */
export function shareOf(penalised: boolean, perCaller: number): number {
  return penalised ? Math.min(PENALISED_SHARE, perCaller) : perCaller;
}

/**
 * What becomes of a call: it takes a free slot, waits for one (`displace`: in the place of a
 * penalised address's waiting call, as the queue is full), or is refused: its address had its share
 * (`throttled`, or `penalised` while its share is reduced), or no slot and no wait (`busy`).
 * `mayWait`: the call's deadline leaves time to wait.
 */
export type Admission = 'take' | 'wait' | 'displace' | 'throttled' | 'penalised' | 'busy';

export function admission(
  caller: CallerLoad,
  all: SlotsLoad,
  limits: SlotLimits,
  mayWait: boolean,
): Admission {
  if (caller.inFlight + caller.waiting >= shareOf(caller.penalised, limits.perCaller))
    return caller.penalised ? 'penalised' : 'throttled';
  // A free slot has no waiter that may take it: free slots go to the waiters first (FairSlots).
  if (all.inFlight < limits.max) return 'take';
  if (!mayWait) return 'busy';
  if (all.waiting < limits.maxWaiting) return 'wait';
  return !caller.penalised && all.penalisedWaiting > 0 ? 'displace' : 'busy';
}

/**
 * The waiting call the next free slot goes to (its index), or undefined when no waiter's address is
 * within its share now (a penalty imposed while it waited): addresses in good standing first, then
 * the one with the fewest calls in flight, then the first to come.
 */
export function nextWaiter(
  waiters: readonly { caller: string }[],
  loadOf: (caller: string) => CallerLoad,
  perCaller: number,
): number | undefined {
  let best: { index: number; rank: number } | undefined;
  waiters.forEach((w, index) => {
    const load = loadOf(w.caller);
    if (load.inFlight >= shareOf(load.penalised, perCaller)) return;
    // Penalised after any count of calls in flight (at most `perCaller`): one number orders both.
    const rank = (load.penalised ? perCaller + 1 : 0) + load.inFlight;
    if (best === undefined || rank < best.rank) best = { index, rank };
  });
  return best?.index;
}

/** The waiting call a call in good standing takes the place of in a full queue: the last penalised one to come. */
export function displacedWaiter(
  waiters: readonly { caller: string }[],
  loadOf: (caller: string) => CallerLoad,
): number | undefined {
  const index = waiters.findLastIndex((w) => loadOf(w.caller).penalised);
  return index < 0 ? undefined : index;
}

export type SlotRefusal = {
  ok: false;
  outcome: 'throttled' | 'penalised' | 'busy' | 'cancelled';
  message: string;
  /** How long the call waited for a slot, when it did. */
  waitedMs?: number;
};
export type SlotGrant = { ok: true; waitedMs?: number } | SlotRefusal;

interface Waiter {
  caller: string;
  /** Takes the call out of the queue and answers it. */
  leave(answer: SlotGrant): void;
}

/** The slots and the queue: `acquire` a slot, `release` it when the call ends. */
export class FairSlots {
  #inFlight = 0;
  readonly #byCaller = new Map<string, { inFlight: number; waiting: number }>();
  readonly #waiters: Waiter[] = [];

  constructor(
    readonly limits: SlotLimits,
    private readonly isPenalised: (caller: string) => boolean,
    /** A monotonic clock in ms, for how long calls waited. */
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Calls in flight now: all, or those of `caller`. */
  inFlight(caller?: string): number {
    return caller === undefined ? this.#inFlight : (this.#byCaller.get(caller)?.inFlight ?? 0);
  }

  /** Calls waiting for a slot now: all, or those of `caller`. */
  waiting(caller?: string): number {
    return caller === undefined ? this.#waiters.length : (this.#byCaller.get(caller)?.waiting ?? 0);
  }

  /**
   * A slot for `caller`, or why not: at once, or a promise when the call waits, at most `waitMs`.
   * A waiting call joins the queue before this returns, and leaves it when `signal` aborts (the
   * caller cancelled, or its deadline passed). A slot granted must be given back with `release`.
   */
  acquire(caller: string, waitMs: number, signal?: AbortSignal): SlotGrant | Promise<SlotGrant> {
    // A penalty may have ended since the last release: its address's waiters come first.
    this.#dispatch();
    const load = this.#loadOf(caller);
    const all: SlotsLoad = {
      inFlight: this.#inFlight,
      waiting: this.#waiters.length,
      penalisedWaiting: this.#waiters.filter((w) => this.isPenalised(w.caller)).length,
    };
    const decision = admission(load, all, this.limits, waitMs > 0 && !signal?.aborted);
    const held = load.inFlight + load.waiting;
    switch (decision) {
      case 'take':
        this.#count(caller, 'inFlight', 1);
        return { ok: true };
      case 'throttled':
        return refused(
          'throttled',
          `throttled: ${held} Certify calls from ${caller} in flight or waiting, the most one address may have; retry later`,
        );
      case 'penalised':
        return refused(
          'penalised',
          `penalised: ${caller} was refused for its credentials lately, so it may have ${shareOf(true, this.limits.perCaller)} Certify call in flight or waiting, and has ${held}; retry later`,
        );
      case 'busy':
        return refused(
          'busy',
          `busy: ${all.inFlight} Certify calls in flight and ${all.waiting} waiting for a slot; retry later`,
        );
      case 'displace': {
        const index = displacedWaiter(this.#waiters, (c) => this.#loadOf(c));
        this.#waiters[index ?? -1]?.leave({
          ok: false,
          outcome: 'busy',
          message: 'busy: a caller in good standing took its place in the queue for a slot; retry later',
        });
        return this.#wait(caller, waitMs, signal);
      }
      case 'wait':
        return this.#wait(caller, waitMs, signal);
    }
  }

  /** Gives `caller`'s slot back; the queue gets it first. */
  release(caller: string): void {
    this.#count(caller, 'inFlight', -1);
    this.#dispatch();
  }

  #wait(caller: string, waitMs: number, signal: AbortSignal | undefined): Promise<SlotGrant> {
    return new Promise((resolve) => {
      const since = this.now();
      const waiter: Waiter = {
        caller,
        leave: (answer) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          this.#count(caller, 'waiting', -1);
          resolve({ ...answer, waitedMs: this.now() - since });
        },
      };
      const timer = setTimeout(
        () =>
          waiter.leave({
            ok: false,
            outcome: 'busy',
            message: `busy: no Certify slot came free within ${waitMs} ms (${this.#inFlight} calls in flight, ${this.#waiters.length - 1} others waiting); retry later`,
          }),
        waitMs,
      );
      const onAbort = () =>
        waiter.leave({
          ok: false,
          outcome: 'cancelled',
          message: 'the caller cancelled or its deadline passed while it waited for a slot; nothing signed',
        });
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
      this.#count(caller, 'waiting', 1);
    });
  }

  /** Hands free slots to the waiters, as nextWaiter chooses. */
  #dispatch(): void {
    while (this.#inFlight < this.limits.max) {
      const index = nextWaiter(this.#waiters, (c) => this.#loadOf(c), this.limits.perCaller);
      const waiter = index === undefined ? undefined : this.#waiters[index];
      if (waiter === undefined) return;
      waiter.leave({ ok: true });
      this.#count(waiter.caller, 'inFlight', 1);
    }
  }

  #loadOf(caller: string): CallerLoad {
    const calls = this.#byCaller.get(caller);
    return {
      inFlight: calls?.inFlight ?? 0,
      waiting: calls?.waiting ?? 0,
      penalised: this.isPenalised(caller),
    };
  }

  #count(caller: string, what: 'inFlight' | 'waiting', by: 1 | -1): void {
    const calls = this.#byCaller.get(caller) ?? { inFlight: 0, waiting: 0 };
    calls[what] += by;
    if (what === 'inFlight') this.#inFlight += by;
    // Deleted at 0: the map holds only addresses with calls in flight or waiting.
    if (calls.inFlight === 0 && calls.waiting === 0) this.#byCaller.delete(caller);
    else this.#byCaller.set(caller, calls);
  }
}

function refused(outcome: SlotRefusal['outcome'], message: string): SlotRefusal {
  return { ok: false, outcome, message };
}
