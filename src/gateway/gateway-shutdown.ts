/**
 * The graceful stop of a SIGTERM (config.shutdown): not ready at once, still serving for the drain
 * delay, then no new tunnels on either side, a grace period for those in flight, and the rest cut.
 * The egress listeners stay open past the delay while an EndpointSlice Isthmus writes (a mirror's,
 * a split apex's, a federated Service's) still lists this pod, and for a settle after
 * (slice-drain.ts): kube-proxy sends callers there until then. The ingress closes at the delay, as
 * before: the LoadBalancer follows one Service's endpoints, not one slice per mirror.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import { describeError } from '../errors.js';
import type { Informer } from '../kube/informer.js';
import type { EgressListeners } from './egress.js';
import type { GatewayContext } from './gateway-context.js';
import type { ReadinessState } from './gateway-readiness.js';
import type { Ingress } from './ingress.js';
import {
  type DrainEnd,
  type DrainPolicy,
  egressDrainStep,
  type ListedSlice,
  ownAddresses,
  PodListing,
  type SliceView,
  settleMsFor,
} from './slice-drain.js';
import type { MirrorWatcher } from './watch-mirrors.js';

export interface DrainedParts {
  state: ReadinessState;
  ingress: Ingress;
  egress: EgressListeners;
  mirrorWatcher: MirrorWatcher;
  /**
   * What the egress drain follows, by informer name: the mirror controller's slices and the
   * failover and federation controllers' (GatewayInformers.mirrorSlices, forwardingSlices).
   */
  slices: Readonly<Record<string, Informer<ListedSlice>>>;
  /** Stops everything once drained. */
  stop: () => Promise<void>;
}

/** The shutdown of RunningGateway: every call gets the one drain. */
export function gracefulShutdown(ctx: GatewayContext, parts: DrainedParts): () => Promise<void> {
  const { config, log } = ctx;
  const { state, ingress, egress, mirrorWatcher, slices, stop } = parts;
  // Health is told on change only: followed from the start, for the drain's log.
  const failing = new Map<string, unknown>();
  for (const [name, informer] of Object.entries(slices))
    informer.onHealth((h) => {
      if (h.connected) failing.delete(name);
      else failing.set(name, h.lastError ?? 'disconnected');
    });
  let shuttingDown: Promise<void> | undefined;
  return () => {
    shuttingDown ??= (async () => {
      const { drainDelayMs, graceMs } = config.shutdown;
      const started = Date.now();
      state.draining = true;
      ctx.refresh();
      log.info(
        { tunnels: ingress.openTunnels() + egress.openTunnels(), drainDelayMs, graceMs },
        'shutting down: not ready, draining',
      );
      if (config.podIPs.length === 0 && graceMs > 0)
        log.warn(
          { drainDelayMs },
          "the drain cannot follow the EndpointSlices that send callers to the egress: this pod's address is unknown (no --pod-ip, and --egress-host is not one address of the pod: every interface, a host name or a zone-scoped address); the egress listeners close after the drain delay",
        );
      const policy: DrainPolicy = { drainDelayMs, graceMs, settleMs: settleMsFor(drainDelayMs) };
      const follower = followSlices(policy, started, config.podIPs, Object.values(slices));
      await delay(drainDelayMs);
      // Remote sessions get GOAWAY now, as before.
      const inbound = ingress.close(Math.max(0, graceMs - (Date.now() - started)));
      const held = follower.open() ? follower.listing() : [];
      if (held.length > 0)
        log.info(
          { slices: held.length, listing: held.slice(0, LISTED_IN_LOG) },
          'drain delay over, and EndpointSlices written by Isthmus still list this pod: the egress listeners stay open until they drop it',
        );
      logDrainEnd(log, await follower.done, held.length > 0, failing);
      await mirrorWatcher.close();
      const outbound = egress.close(Math.max(0, graceMs - (Date.now() - started)));
      const [cutIn, cutOut] = await Promise.all([inbound, outbound]);
      if (cutIn + cutOut > 0)
        log.warn({ ingress: cutIn, egress: cutOut }, 'grace period over: connections cut');
      else log.info('drained: every tunnel finished');
      await stop();
    })();
    return shuttingDown;
  };
}

/** Slices named in a log line: enough to find the lagging writer, not thousands of names. */
const LISTED_IN_LOG = 10;

interface SliceFollower {
  /** The slices listing this pod now (as of the close, once closed). */
  listing(): string[];
  /** Not done yet: the egress listeners stay open. */
  open(): boolean;
  done: Promise<DrainOutcome>;
}

/** When the egress listeners may close: why, and the slices still listing this pod then. */
interface DrainOutcome {
  end: DrainEnd;
  listing: string[];
  /** The slice watch had not listed once, so there was nothing to follow. */
  notListed: boolean;
}

/**
 * Applies egressDrainStep from the signal on: looks again at each change of the slices or of the
 * watch's health (once per turn, however many came) and when the step says, until it says close.
 * Which slices list this pod is kept per informer from each event's slice (PodListing), not
 * scanned from the whole cache at each look.
 */
function followSlices(
  policy: DrainPolicy,
  started: number,
  podIPs: readonly string[],
  informers: ReadonlyArray<Informer<ListedSlice>>,
): SliceFollower {
  const own = ownAddresses(podIPs);
  // No address, or no drain asked (a grace of 0): nothing to follow, so nothing scanned either.
  const listings = own.size === 0 || policy.graceMs === 0 ? [] : informers.map(() => new PodListing(own));
  const listing = (): string[] => listings.flatMap((l) => l.names());
  let clearSinceMs: number | undefined;
  let open = true;
  const done = new Promise<DrainOutcome>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let queued = false;
    const look = (): void => {
      queued = false;
      if (!open) return; // a look queued before the close
      const elapsedMs = Date.now() - started;
      let view: SliceView;
      if (own.size === 0) view = { kind: 'no-address' };
      else if (!informers.every((i) => i.hasSynced())) view = { kind: 'not-listed' };
      else {
        const listed = listings.reduce((n, l) => n + l.size, 0);
        clearSinceMs = listed > 0 ? undefined : (clearSinceMs ?? elapsedMs);
        view = { kind: 'slices', listing: listed, clearSinceMs };
      }
      const step = egressDrainStep(policy, elapsedMs, view);
      clearTimeout(timer);
      if (!step.close) {
        timer = setTimeout(look, step.recheckInMs);
        return;
      }
      for (const off of offs) off();
      open = false;
      // A graceMs of 0 asked for no drain: nothing was to be followed.
      resolve({
        end: step.end,
        listing: view.kind === 'slices' ? listing() : [],
        notListed: view.kind === 'not-listed' && policy.graceMs > 0,
      });
    };
    const soon = (): void => {
      if (queued) return;
      queued = true;
      setImmediate(look);
    };
    // Each listing is reset from its cache in the turn it starts taking the informer's events.
    const offs = informers.flatMap((i, n) => {
      const tracked = listings[n];
      tracked?.reset(i.list());
      return [
        i.onEvent((e) => {
          tracked?.apply(e);
          soon();
        }),
        i.onHealth(soon),
      ];
    });
    for (const i of informers) i.synced.then(soon, () => {});
    look();
  });
  return { listing, open: () => open, done };
}

/** Says why the egress listeners close now, where that is news: `held` past the drain delay, or not followed. */
function logDrainEnd(
  log: Logger,
  outcome: DrainOutcome,
  held: boolean,
  failing: ReadonlyMap<string, unknown>,
): void {
  const { end, listing, notListed } = outcome;
  if (notListed && end === 'fixed-delay')
    log.warn(
      'the EndpointSlices written by Isthmus were never listed (their watches have not synced): the egress listeners close after the drain delay',
    );
  if (end === 'dropped' && held)
    log.info('EndpointSlices written by Isthmus no longer list this pod: closing the egress listeners');
  if (end !== 'grace-over') return;
  if (listing.length === 0) {
    log.info('grace period over while kube-proxy settles after the EndpointSlices dropped this pod');
    return;
  }
  log.warn(
    {
      slices: listing.length,
      listing: listing.slice(0, LISTED_IN_LOG),
      ...(failing.size === 0
        ? {}
        : {
            sliceWatch: `failing: ${[...failing].map(([name, err]) => `${name}: ${describeError(err)}`).join('; ')}`,
          }),
    },
    failing.size === 0
      ? 'grace period over while EndpointSlices written by Isthmus still list this pod: closing the egress listeners (callers sent here are refused until the slices drop it)'
      : 'grace period over while EndpointSlices written by Isthmus still list this pod, as far as the failing slice watch shows: closing the egress listeners',
  );
}
