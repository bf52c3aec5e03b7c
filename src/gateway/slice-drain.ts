/**
 * When a draining gateway may close its egress listeners (gateway-shutdown.ts applies it). Every
 * mirror's EndpointSlice lists the local gateway pods at the mirror's egress port (and so do the
 * failover and federation controllers' slices of a split apex or a `-federated` Service with a
 * mirror backend or member), and kube-proxy sends callers there until the slice drops this pod:
 * one write per mirror by the controller, through its client's rate limit (50 qps, burst 100), so
 * with hundreds of mirrors the last slice lets go of the pod seconds after the drain delay, with
 * thousands minutes. Closing at the delay alone refused new callers meanwhile (a review's finding:
 * 400 mirrors, the last slice ~6 s after SIGTERM against a 5 s delay). Pure decisions on what the
 * slice watches show.
 */
import { isIP } from 'node:net';
import { unmapped } from '../host-port.js';
import type { InformerEvent } from '../kube/informer.js';
import type { KubeObject, V1EndpointSlice } from '../kube/types.js';

/**
 * How long the listeners stay open after the last slice dropped this pod: kube-proxy has to see the
 * change and rewrite its rules. Its iptables and nftables modes batch changes over `minSyncPeriod`
 * (1 s by default) and a rewrite takes from milliseconds to a few seconds on a large cluster; its
 * watch follows the API server as closely as the gateway's does. Never longer than the drain delay,
 * the operator's measure of how fast endpoints are followed here (0: no drain at all).
 */
export const SLICE_SETTLE_MS = 2_000;

/** The settle of a drain whose delay is `drainDelayMs`. */
export function settleMsFor(drainDelayMs: number): number {
  return Math.min(SLICE_SETTLE_MS, drainDelayMs);
}

/**
 * An address as one spelling: IPv6 compressed and lower case, an IPv4-mapped IPv6 address (in
 * either form) as its IPv4 address, as the slices' and the flag's may be written differently.
 * Anything else as written, trimmed; it never throws. An IPv6 address with a zone (`fe80::1%eth0`)
 * is such: net.isIP takes it, the WHATWG URL parser refuses it ("Invalid URL" crashed the gateway's
 * start-up), and no EndpointSlice lists one (--pod-ip refuses it). About a microsecond for an IPv6
 * address, mostly the URL parse; `isOwn` spares it the addresses written as the pod's.
 */
export function canonicalAddress(address: string): string {
  const plain = unmapped(address.trim());
  if (!plain.includes(':') || plain.includes('%') || isIP(plain) !== 6) return plain;
  const v6 = new URL(`http://[${plain}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(v6);
  if (mapped === null) return v6;
  const [hi, lo] = [Number.parseInt(mapped[1] as string, 16), Number.parseInt(mapped[2] as string, 16)];
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
}

/** This pod's addresses as `isOwn` and `listsPod` compare them (canonicalAddress spellings). */
export function ownAddresses(podIPs: readonly string[]): ReadonlySet<string> {
  return new Set(podIPs.map(canonicalAddress));
}

/** Whether `address` is one of `own` (ownAddresses): as written first, the common case, else spelled. */
export function isOwn(own: ReadonlySet<string>, address: string): boolean {
  return own.has(address) || own.has(canonicalAddress(address));
}

/**
 * Whether kube-proxy may send callers to an endpoint of these conditions: ready (absent reads as
 * true, as the API has it), or serving, which it falls back to when a Service has no ready endpoint
 * left (KEP-1669; absent `serving` defers to `ready`).
 */
export function takesCallers(conditions: { ready?: boolean; serving?: boolean } | undefined): boolean {
  return conditions?.ready !== false || conditions?.serving === true;
}

/** A slice as the informers cache it: the mirror controller's whole, a forwarding one trimmed. */
export type ListedSlice = KubeObject & Partial<Pick<V1EndpointSlice, 'endpoints'>>;

/** Whether `slice` lists one of `own` (ownAddresses) as taking callers. */
export function listsPod(slice: ListedSlice, own: ReadonlySet<string>): boolean {
  return (slice.endpoints ?? []).some(
    (e) => takesCallers(e.conditions) && e.addresses.some((a) => isOwn(own, a)),
  );
}

/**
 * The slices of one informer that list this pod (listsPod), by `namespace/name`, kept from the
 * object each of its events carries: one slice looked at per event. A look at every cached slice
 * per event cost ~15 ms over 5,000 IPv6 slices, and the controller rewrites ~50 a second while it
 * drops the pod: most of a core, on the replica still carrying tunnels (a review's finding).
 *
 * `reset` from the informer's cache once, in the turn its events start being applied; no relist
 * needs another. The informer's cache changes only with the events it emits for the change (a
 * watch event, or a relist's difference with what it held: InformerStore.replace, a `delete` for
 * what vanished while the watch was away), and its first list emits an `add` for each object into
 * an empty cache; so what was reset from the cache and then applied each event stays equal to
 * what a scan of the cache would give (slice-drain.test.ts checks it across a relist), a watch
 * event at the cached resourceVersion with other content included (a server whose history went
 * back: InformerStore.apply makes it an update).
 */
export class PodListing {
  private readonly listing = new Set<string>();

  /** `lists`: listsPod, or a test's counting stand-in. */
  constructor(
    private readonly own: ReadonlySet<string>,
    private readonly lists: (slice: ListedSlice, own: ReadonlySet<string>) => boolean = listsPod,
  ) {}

  /** From a whole cache (Informer.list()). */
  reset(slices: Iterable<ListedSlice>): void {
    this.listing.clear();
    for (const slice of slices) if (this.lists(slice, this.own)) this.listing.add(sliceKey(slice));
  }

  /** One event of the informer: the slice as it now is, or gone (whatever its last state listed). */
  apply(e: InformerEvent<ListedSlice>): void {
    const key = sliceKey(e.object);
    if (e.type !== 'delete' && this.lists(e.object, this.own)) this.listing.add(key);
    else this.listing.delete(key);
  }

  get size(): number {
    return this.listing.size;
  }

  names(): string[] {
    return [...this.listing];
  }
}

function sliceKey(slice: ListedSlice): string {
  return `${slice.metadata?.namespace ?? ''}/${slice.metadata?.name ?? ''}`;
}

/** From the signal until the tunnels are cut (config.shutdown), with the settle (settleMsFor). */
export interface DrainPolicy {
  drainDelayMs: number;
  graceMs: number;
  settleMs: number;
}

/** What the drain can go by, looked at `elapsedMs` after the signal. */
export type SliceView =
  /**
   * This pod's addresses are unknown: no --pod-ip, and --egress-host is not one address of the pod
   * (every interface, a host name, or a zone-scoped one).
   */
  | { kind: 'no-address' }
  /**
   * The slice watch has not listed once: an empty cache says nothing. Nor is there anything to wait
   * for: /ready waits for every watch's first list, so a gateway whose slice watch never listed
   * was never ready, and the controller lists only ready gateway pods in the mirrors' slices.
   */
  | { kind: 'not-listed' }
  /**
   * `listing` slices list this pod; when none does, since when (ms after the signal) none has.
   * A cache whose watch is failing counts as it stands: a slice seen without the pod was written
   * so, and one seen with it may still be (it is then waited for until the grace is over).
   */
  | { kind: 'slices'; listing: number; clearSinceMs: number | undefined };

/**
 * - `fixed-delay`: the drain delay passed and nothing more could be followed (or a graceMs of 0,
 *   the immediate stop of the lab and the tests);
 * - `dropped`: no slice lists this pod, and the settle after the last one let go has passed;
 * - `grace-over`: the grace period ended first.
 */
export type DrainEnd = 'fixed-delay' | 'dropped' | 'grace-over';

export type DrainStep = { close: false; recheckInMs: number } | { close: true; end: DrainEnd };

/**
 * Close the egress listeners now, or look again in `recheckInMs` (sooner when the slices change).
 * They close once the delay has passed and, when the slices can be followed, no slice has listed
 * this pod for the settle, and at the latest when the grace is over.
 */
export function egressDrainStep(policy: DrainPolicy, elapsedMs: number, view: SliceView): DrainStep {
  const { drainDelayMs, graceMs, settleMs } = policy;
  if (graceMs === 0) return { close: true, end: 'fixed-delay' };
  if (view.kind !== 'slices') {
    return elapsedMs >= drainDelayMs
      ? { close: true, end: 'fixed-delay' }
      : { close: false, recheckInMs: drainDelayMs - elapsedMs };
  }
  const closeAt =
    view.clearSinceMs === undefined ? undefined : Math.max(drainDelayMs, view.clearSinceMs + settleMs);
  if (closeAt !== undefined && elapsedMs >= closeAt) return { close: true, end: 'dropped' };
  if (elapsedMs >= graceMs) return { close: true, end: 'grace-over' };
  return { close: false, recheckInMs: Math.min(closeAt ?? graceMs, graceMs) - elapsedMs };
}
