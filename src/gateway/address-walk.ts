/**
 * One caller's walk over the addresses of a remote gateway (gateway-failover.ts decides the order,
 * what a failure means and the error). Bounded by one deadline, the caller's budget (a tunnel's:
 * the connect timeout; a probe's: what is left of its own timeout), however many addresses the Link
 * names: the egress's promise is that a client of an unreachable remote is turned away at once, and
 * a walk that dialled ten black-holed nodes one after another kept the first callers 10 × 5 s
 * (review). So the attempts are staggered, as Happy Eyeballs staggers a host's addresses (RFC 8305
 * §5): the next address is tried as soon as the one before failed, or once it has not answered
 * within `budget / (n + 1)`, whichever comes first, the earlier attempts still running; the first
 * session wins. With every address black-holed, each was dialled and the caller hears after one
 * budget; with the one asked about black-holed and another answering, the caller (a probe's 2 s
 * too, shorter than the 5 s connect timeout) gets the other after `budget / (n + 1)`. The address
 * asked about has that head start on every other, so a healthy one is not raced (its handshake
 * takes milliseconds against hundreds), and `via` is said only when it did not answer. While its
 * last failure was one of trust (`waitForAsked`), its head start is half the budget instead: a
 * failure of trust slower than the usual head start (a WAN handshake) still surfaces, and an
 * address gone silent since (black-holed, or a hung process whose kernel still accepts TCP: the
 * two look alike to a dialler) is still moved past in time, the other addresses staggered over
 * the other half (review: waiting for it alone, for the whole budget, failed every tunnel and
 * probe with a connect timeout while another address answered).
 *
 * The walk only stops waiting: a dial it started runs on to its own connect timeout, and what it
 * finds (a session, a backoff) serves the next caller. A caller joining a dial in progress (each
 * address's dial is shared by every caller asking meanwhile) is bounded by its own deadline too.
 */

import type { IsthmusError } from '../errors.js';
import { hostPort } from '../host-port.js';
import { walkFailure, walkStep } from './gateway-failover.js';

export interface WalkAddress {
  host: string;
  port: number;
}

export interface AddressWalk<S> {
  /** The addresses in the order to try them (walkOrder), `asked` among them; two or more. */
  order: readonly WalkAddress[];
  /** The address asked about (the mirror's), the very object found in `order`. */
  asked: WalkAddress;
  /** How long the caller may wait for a session, in ms. */
  budgetMs: number;
  /** A session (or why none) at one address; may call back synchronously. */
  attempt: (at: WalkAddress, cb: (err: IsthmusError | null, got?: S) => void) => void;
  /**
   * The address asked about has half the budget to itself (its last failure was one of trust:
   * `waitsForAsked`), not `budget / (n + 1)`: its failure of trust within that ends the walk.
   */
  waitForAsked?: boolean;
  /** The pool closed: no further address is tried. */
  stopped: () => boolean;
  /** Called once: the first session with the address it is at, or the walk's error. */
  done: (err: IsthmusError | null, got: S | undefined, at: WalkAddress) => void;
}

export function walkAddresses<S>(w: AddressWalk<S>): void {
  const n = w.order.length;
  const errors: (IsthmusError | undefined)[] = [];
  let started = 0;
  let failed = 0;
  let settled = false;
  let stagger: NodeJS.Timeout | undefined;
  const askedAt = w.order.indexOf(w.asked);
  /** The address asked about is given its longer head start once, while dialling (waitForAsked). */
  let held = w.waitForAsked !== true;
  const headStart = (): number => {
    if (held || askedAt >= started || errors[askedAt] !== undefined) return w.budgetMs / (n + 1);
    held = true;
    return w.budgetMs / 2;
  };
  let deadline: NodeJS.Timeout | undefined;
  const finish = (err: IsthmusError | null, got: S | undefined, at: WalkAddress): void => {
    if (settled) return;
    settled = true;
    clearTimeout(stagger);
    clearTimeout(deadline);
    w.done(err, got, at);
  };
  /** What was tried so far, with its error (none yet: still dialling), `pending` ones too or not. */
  const failure = (pending: boolean): IsthmusError =>
    walkFailure(
      label(w.asked),
      w.order
        .slice(0, started)
        .map((a, i) => ({ address: label(a), error: errors[i] }))
        .filter((t) => pending || t.error !== undefined),
      w.budgetMs,
    );
  const launch = (): void => {
    clearTimeout(stagger);
    stagger = undefined;
    while (!settled && started < n) {
      const i = started++;
      const at = w.order[i]!;
      let inline = true;
      let nextNow = false;
      w.attempt(at, (err, got) => {
        if (settled) return;
        if (err === null) {
          finish(null, got, at);
          return;
        }
        errors[i] = err;
        failed++;
        if (w.stopped() || walkStep(err, at === w.asked) === 'end') {
          finish(at === w.asked ? failure(false) : err, undefined, at);
          return;
        }
        if (failed === n) {
          finish(failure(true), undefined, w.asked);
          return;
        }
        // A later address is being tried already; else the next one now, not at the stagger.
        if (i !== started - 1) return;
        if (inline) nextNow = true;
        else launch();
      });
      inline = false;
      if (!nextNow) break;
    }
    if (settled) return;
    if (started < n) stagger = unref(setTimeout(launch, headStart()));
    deadline ??= unref(setTimeout(() => finish(failure(true), undefined, w.asked), w.budgetMs));
  };
  launch();
}

function label(a: WalkAddress): string {
  return hostPort(a.host, a.port);
}

/** The walk's timers keep no process alive: the dials and the caller's sockets do. */
function unref(t: NodeJS.Timeout): NodeJS.Timeout {
  t.unref();
  return t;
}
