/**
 * Mirror Services into egress routes, live: `watchMirrors` admits the mirrors (mirror-admission.ts,
 * redone for what changed by incremental-admission.ts) as the informers change and applies the
 * routes to the egress listeners.
 */

import type { V1EndpointSlice, V1Service } from '../kube/types.js';
import { incrementalAdmission } from './incremental-admission.js';
import type { EgressPortRange, MirrorEgressRoute, RefusedRoute } from './mirror-admission.js';
import type { LinkEvents } from './probe-targets.js';
import type { WatchSource } from './watch-exports.js';

export {
  type AdmittedMirror,
  type AdmittedRoutes,
  admitRoutes,
  type EgressPortRange,
  type MirrorEgressRoute,
  type MirrorRoutes,
  type RefusedRoute,
  type RouteAdmission,
  routesFromMirror,
} from './mirror-admission.js';

/** What the mirror watcher drives: the colleague's `EgressListeners` (egress.ts). */
export interface RouteSink {
  apply(routes: MirrorEgressRoute[]): unknown;
  /** The routes applied but not listened on (egress.ts `listenFailures`): refused, with the reason. */
  listenFailures?(): readonly ListenFailure[];
}

/** A port the sink could not listen on, and why (the error's message). */
export interface ListenFailure {
  port: number;
  mirror: string;
  reason: string;
}

export interface MirrorWatcherOptions {
  /** The Links of the system namespace: a route needs its cluster's Link (see `admitRoutes`). */
  links: LinkEvents;
  /** The mirror controller's EndpointSlices: a route needs its port listed there (see `admitRoutes`). */
  slices: WatchSource<V1EndpointSlice>;
  egressRange: EgressPortRange;
  /**
   * Nothing is applied while this says no (the Link informer has not listed yet: every mirror
   * would look unlinked); `refresh()` once it says yes.
   */
  ready?: () => boolean;
  /** Mirror changes come in bursts (a Link's first sync writes many); one apply per burst. */
  debounceMs: number;
  /**
   * Told the refusals of each apply once it is done (the set, not a diff; the ports the sink could
   * not listen on among them, `unbound`), e.g. to log them when they change. A retry that changes
   * nothing still calls it once per apply, with the same set.
   */
  onRefused?: (refused: RefusedRoute[]) => void;
  /**
   * Told when an apply throws (a port another process holds, say). The next change retries, and
   * so does a timer after `retryMs` (default 5 s): a mirror that never changes again still gets
   * its listener once the port is free.
   */
  onError?: (err: unknown) => void;
  retryMs?: number;
  /** Milliseconds, for `PASS_SPACING` (tests); performance.now by default. */
  clock?: () => number;
}

/**
 * After a pass that held the event loop for t ms, the next starts no sooner than PASS_SPACING × t
 * later, beyond the debounce: however fast mirrors change, admission takes at most about a quarter
 * (for passes under ~330 ms; longer ones, rarer, up to the cap below) of the loop that accepts and pipes every tunnel. An incremental pass is short; one after a Link
 * change judges every mirror again. The wait is capped at MAX_PASS_WAIT_MS: t is wall time, and a
 * pass stretched by a stall (CPU throttling, a paused VM) must not hold back an unlink or an
 * unexport for three times the stall (a review's finding). The apply's own loop over the routes
 * (a few ms at 10,000) runs in a microtask after the measurement and is not counted.
 */
export const PASS_SPACING = 3;
export const MAX_PASS_WAIT_MS = 1_000;

export interface MirrorWatcher {
  /** The routes refused at the last apply, with the reason (admin `/routes`). */
  refused(): RefusedRoute[];
  /** Re-applies (debounced): after what `ready` waits for has come. */
  refresh(): void;
  /** Resolves once no apply is pending or running (for readiness and tests). */
  idle(): Promise<void>;
  /** Stops reacting to events and waits for a running apply to finish. */
  close(): Promise<void>;
}

/**
 * Re-applies the full route set on every change of what admission reads (a slice's endpoints are
 * not), debounced, spaced (`PASS_SPACING`) and serialised: applies never overlap, and a change
 * during an apply schedules exactly one more. The sink receives the complete desired state each
 * time, so it can diff against what it listens on.
 */
export function watchMirrors(
  source: WatchSource<V1Service>,
  sink: RouteSink,
  options: MirrorWatcherOptions,
): MirrorWatcher {
  let timer: NodeJS.Timeout | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let dirty = false;
  let closed = false;
  const waiters: Array<() => void> = [];
  const admission = incrementalAdmission(options.egressRange);
  let refused: RefusedRoute[] = [];
  const clock = options.clock ?? (() => performance.now());
  /** When the next pass may start: passes take turns with the tunnels (`PASS_SPACING`). */
  let nextPassAt = Number.NEGATIVE_INFINITY;

  const settle = (): void => {
    if (timer !== undefined || running !== undefined) return;
    for (const w of waiters.splice(0)) w();
  };

  const run = async (): Promise<void> => {
    let failed = false;
    // A change during an apply is admitted at once, unless the last pass was long (`schedule`).
    while (dirty && !closed && clock() >= nextPassAt) {
      dirty = false;
      if (options.ready?.() === false) break;
      const started = clock();
      // What was admitted is what the next admission keeps for a mirror whose gateway is changing,
      // applied or not (a port another process holds is the listener's problem, not the claim's).
      const result = admission.admit({
        services: source.list(),
        slices: options.slices.list(),
        links: options.links.list(),
      });
      refused = result.refused;
      const applying = (async () => sink.apply(result.routes))();
      // The synchronous part, admission: the event loop's (see PASS_SPACING).
      const ended = clock();
      nextPassAt = ended + Math.min(PASS_SPACING * (ended - started), MAX_PASS_WAIT_MS);
      try {
        await applying;
        failed = false;
      } catch (err) {
        failed = true;
        options.onError?.(err);
      }
      refused = [...result.refused, ...(sink.listenFailures?.() ?? []).map(unboundRoute)];
      options.onRefused?.(refused);
    }
    // Not part of idle(): readiness waits for an apply, not for a port to come free.
    if (failed && !closed && retryTimer === undefined) {
      retryTimer = setTimeout(() => {
        retryTimer = undefined;
        schedule();
      }, options.retryMs ?? 5_000);
      retryTimer.unref();
    }
  };

  const fire = (): void => {
    timer = undefined;
    if (running !== undefined || closed) {
      settle();
      return;
    }
    running = run().finally(() => {
      running = undefined;
      // A change that arrived while the last apply ran has set `dirty` and may have no timer.
      if (dirty && !closed) schedule();
      settle();
    });
  };

  const schedule = (): void => {
    dirty = true;
    if (closed || timer !== undefined || running !== undefined) return;
    timer = setTimeout(fire, Math.max(options.debounceMs, nextPassAt - clock()));
  };

  // Only a change of what admission reads starts a pass: most slice writes are endpoint and
  // readiness changes, and a resync re-emits every object.
  const offs = [
    source.onEvent((e) => {
      if (admission.changesService(objectKey(e.object), e.type === 'delete' ? undefined : e.object))
        schedule();
    }),
    options.slices.onEvent((e) => {
      if (admission.changesSlice(objectKey(e.object), e.type === 'delete' ? undefined : e.object)) schedule();
    }),
    options.links.onEvent(() => {
      if (admission.changesLinks(options.links.list())) schedule();
    }),
  ];
  schedule(); // the initial state, even if it is "no mirrors"

  return {
    refused: () => refused,
    refresh: schedule,
    idle: () =>
      new Promise<void>((resolve) => {
        waiters.push(resolve);
        settle();
      }),
    async close() {
      closed = true;
      for (const off of offs) off();
      if (timer !== undefined) clearTimeout(timer);
      clearTimeout(retryTimer);
      timer = undefined;
      await running;
      settle();
    },
  };
}

function objectKey(o: V1Service | V1EndpointSlice): string {
  return `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
}

function unboundRoute({ port, mirror, reason }: ListenFailure): RefusedRoute {
  return { mirror, port, reason: `the egress cannot listen on port ${port}: ${reason}`, unbound: true };
}

/** How long a port no controller slice lists may stay refused before it is logged. */
export const UNVOUCHED_LOG_AFTER_MS = 10_000;

export interface LastingRefusals {
  /**
   * After every apply: forgets the reported refusals that are gone (so one that comes back is
   * reported again), and reports those refused now that are still refused `afterMs` later.
   */
  update(): void;
  stop(): void;
}

/**
 * Unvouched refusals (`RefusedRoute.unvouched`) reported only once they last `afterMs`: a new
 * mirror's Service comes a moment before its slice, which no one needs to read about; a forged
 * claim, or a slice that never comes, is reported once, and again if it comes back later.
 */
export function lastingRefusals(
  current: () => readonly RefusedRoute[],
  afterMs: number,
  report: (lasting: RefusedRoute[]) => void,
): LastingRefusals {
  let timer: NodeJS.Timeout | undefined;
  let pending = new Set<string>();
  const said = new Set<string>();
  const keyOf = (r: RefusedRoute) => `${r.mirror} ${r.port ?? ''}`;
  const unvouched = () => current().filter((r) => r.unvouched === true);
  const forgetGone = (keys: ReadonlySet<string>): void => {
    for (const k of [...said]) if (!keys.has(k)) said.delete(k);
  };
  const schedule = (): void => {
    const now = unvouched();
    forgetGone(new Set(now.map(keyOf)));
    if (timer !== undefined || now.length === 0) return;
    pending = new Set(now.map(keyOf));
    timer = setTimeout(() => {
      timer = undefined;
      const now = unvouched();
      forgetGone(new Set(now.map(keyOf)));
      const lasting = now.filter((r) => pending.has(keyOf(r)) && !said.has(keyOf(r)));
      for (const r of lasting) said.add(keyOf(r));
      if (lasting.length > 0) report(lasting);
      // Refusals that came after this timer started get their own wait.
      if (now.some((r) => !said.has(keyOf(r)))) schedule();
    }, afterMs);
    timer.unref();
  };
  return {
    update: schedule,
    stop() {
      clearTimeout(timer);
      timer = undefined;
    },
  };
}
