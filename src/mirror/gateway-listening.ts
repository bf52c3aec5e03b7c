/**
 * Which egress ports the local gateway listens on, from its admin `/routes` (`--gateway-admin`,
 * the URL the probes use). A mirror's slice lists an egress port, where kube-proxy sends callers,
 * only once the gateway listens on it (plan-mirror.ts `forwardedPorts`): the gateway opens a
 * mirror's listener only after the controller's slice vouches for the port (its
 * `isthmus.dev/egress-ports` annotation), so without this wait a new mirror's first callers were
 * refused. A port counts as listened on for the mirror that holds it now, as `/routes` names the
 * mirror each listener leads from, with its cluster (a port freed by one mirror and given to another
 * is not the new one's until the gateway says so, nor one given at the same name to another
 * cluster's mirror: `api-us` of west and `api` of us-west are both `api-us-west`). Polled only while
 * a sync waits for a port not seen yet; only the mirrors whose ports resolved sync again. Each ready
 * gateway pod is asked at its own address (gatewayAdminUrls): the admin Service answers from one
 * replica at a time, and kube-proxy sends callers to every replica, so a port counts once every
 * replica lists it. A gateway admin that does not answer holds nothing back (every port is listed,
 * as before): a broken controller-to-admin path must not stop new mirrors.
 */
import { hostPort } from '../host-port.js';
import { ownerService, parseOwner } from './port-allocator.js';

/**
 * Where to ask which ports the gateways listen on: each of the ready gateway pods' `addresses` at
 * the admin URL's port, or the admin URL itself when the addresses are given (`--gateway-endpoints`:
 * a fixed list, not pods that an admin port is known on).
 */
export function gatewayAdminUrls(adminUrl: string, addresses: readonly string[], fixed: boolean): URL[] {
  const admin = new URL(adminUrl);
  if (fixed) return [new URL('/routes', admin)];
  const port = Number(admin.port || (admin.protocol === 'https:' ? 443 : 80));
  return addresses.map((a) => new URL('/routes', `${admin.protocol}//${hostPort(a, port)}`));
}

/**
 * A listener a gateway's `/routes` lists: its egress port, the mirror (`namespace/name`) it serves and
 * that mirror's cluster (src/gateway/egress.ts `EgressRoute`), which the gateway tunnels it to.
 * `cluster` is absent from a gateway older than the cluster in its routes (`/routes` came a day
 * before it, in 6bf1255; the cluster in 773e8ec): see `routeOwner`.
 */
export interface ListenedRoute {
  port: number;
  mirror: string;
  cluster?: string;
}

/**
 * Whom a listener serves, in the allocator's owner format (`mirrorOwner`: `<cluster>/<namespace>/<name>`),
 * or `namespace/name` alone for a route that names no cluster (an older gateway).
 */
export function routeOwner(route: ListenedRoute): string {
  return route.cluster === undefined ? route.mirror : `${route.cluster}/${route.mirror}`;
}

/**
 * Whether a listener serving `listened` (routeOwner) serves `owner` (`mirrorOwner`). A route that
 * names no cluster (a gateway older than the cluster in `/routes`) is compared by the Service alone,
 * as before: such a gateway cannot tell two clusters' mirrors of one name apart for us, and holding
 * its ports back until the hold runs out would delay every new mirror during an upgrade.
 */
export function serves(listened: string | undefined, owner: string): boolean {
  if (listened === undefined) return false;
  return parseOwner(listened).cluster === undefined ? listened === ownerService(owner) : listened === owner;
}

export interface GatewayListeningOptions {
  /** Addresses of the ready local gateway pods: without any, a slice has no endpoint to hold back. */
  addresses: () => string[];
  /** The `/routes` URLs to ask, for `addresses` (gatewayAdminUrls). */
  urls: (addresses: readonly string[]) => URL[];
  /**
   * The mirror that holds `port` now, as the allocator names it (`mirrorOwner`:
   * `<cluster>/<namespace>/<name>`); a port no one holds is waited for no longer.
   */
  owner: (port: number) => string | undefined;
  /**
   * Told of the waited-for ports that resolved: listened on by every gateway for their mirror,
   * listed anyway (hold over, or the admin not answering). Their mirrors sync again, not every one.
   */
  onResolved: (ports: number[]) => void;
  /** The listeners a gateway's `/routes` lists (default: over HTTP). */
  fetchRoutes?: (url: URL) => Promise<ListenedRoute[]>;
  /** Polling interval while a port is waited for: from `firstMs`, doubling up to `maxMs`. */
  firstMs?: number;
  maxMs?: number;
  /** How long a port is held back at most (default HOLD_MS). */
  holdMs?: number;
  /** Told of ports listed without a gateway listening on them, once their hold ran out. */
  onOverdue?: (ports: number[]) => void;
  now?: () => number;
}

/**
 * How long a port waits for the gateways at most; then it is listed as before this wait existed. A
 * gateway opens a vouched port's listener within a debounce and an informer event (milliseconds);
 * one that does not within seconds never will on its own: a gateway older than the controller (it
 * takes a port's vouch from the slice's `ports` alone, so each would wait for the other for ever
 * during an upgrade), or a port it refuses (`/routes` names why).
 */
export const HOLD_MS = 5_000;

const ROUTES_TIMEOUT_MS = 2_000;

async function fetchListenedRoutes(url: URL): Promise<ListenedRoute[]> {
  const res = await fetch(url, { signal: AbortSignal.timeout(ROUTES_TIMEOUT_MS) });
  if (!res.ok) throw new Error(`${url.href} answered ${res.status}`);
  const body = (await res.json()) as { routes?: { port?: unknown; mirror?: unknown; cluster?: unknown }[] };
  return (body.routes ?? []).flatMap((r) =>
    typeof r.port === 'number' && typeof r.mirror === 'string'
      ? [{ port: r.port, mirror: r.mirror, ...(typeof r.cluster === 'string' ? { cluster: r.cluster } : {}) }]
      : [],
  );
}

/**
 * Port → whom it serves (routeOwner), as every gateway lists it; 'unanswered' when one did not
 * answer; undefined before a poll.
 */
type Known = ReadonlyMap<number, string> | 'unanswered' | undefined;

export class GatewayListening {
  private known: Known;
  /** Ports waited for, and since when. */
  private readonly wanted = new Map<number, number>();
  /** Ports whose hold ran out, with the mirror they were listed for (until a gateway listens). */
  private readonly overdue = new Map<number, string>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private stopped = false;
  private delayMs: number;

  constructor(private readonly opts: GatewayListeningOptions) {
    this.delayMs = opts.firstMs ?? 20;
  }

  /**
   * Which of `ports` a slice may list now: those every gateway listens on for the mirror holding
   * them, and those whose hold ran out; undefined (hold nothing back) without a ready gateway (no
   * endpoints; a gateway turns ready only after opening every vouched port) or while its admin does
   * not answer. The others are polled for until they resolve, or no mirror holds them.
   */
  ports(ports: Iterable<number>): ReadonlySet<number> | undefined {
    if (this.opts.addresses().length === 0) return undefined;
    const known = this.known;
    if (known === 'unanswered') {
      // Nothing is held back: ask again (once, after the backoff), but wait for nothing, or each
      // resync it causes would want the port again, for ever.
      this.schedule(this.delayMs);
      return undefined;
    }
    const now = this.now();
    const out = new Set<number>();
    for (const p of ports) {
      const owner = this.opts.owner(p);
      const listened = typeof known === 'object' && owner !== undefined && serves(known.get(p), owner);
      if (listened || (owner !== undefined && this.overdue.get(p) === owner)) out.add(p);
      else if (!this.wanted.has(p)) this.wanted.set(p, now);
    }
    if (this.wanted.size > 0) this.schedule(0);
    return out;
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Every ready gateway pod's `/routes`, at once. */
  private async askAll(): Promise<ReadonlyMap<number, string> | 'unanswered'> {
    const fetchRoutes = this.opts.fetchRoutes ?? fetchListenedRoutes;
    const urls = this.opts.urls(this.opts.addresses());
    if (urls.length === 0) return 'unanswered';
    return listenedByAll(await Promise.all(urls.map((u) => fetchRoutes(u).catch(() => undefined))));
  }

  private schedule(ms: number): void {
    if (this.timer !== undefined || this.polling || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.poll();
    }, ms);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    this.polling = true;
    let changed = false;
    try {
      const next = await this.askAll();
      changed = !sameKnown(this.known, next);
      this.known = next;
      const listenedFor = (p: number, owner: string) => next === 'unanswered' || serves(next.get(p), owner);
      for (const [p, owner] of this.overdue)
        if (this.opts.owner(p) !== owner || listenedFor(p, owner)) this.overdue.delete(p);
      const resolved: number[] = [];
      const late: number[] = [];
      const now = this.now();
      for (const [p, since] of this.wanted) {
        const owner = this.opts.owner(p);
        if (owner === undefined) this.wanted.delete(p);
        else if (listenedFor(p, owner)) {
          // Unanswered: listed anyway (a broken admin path must not stop mirrors); asked again next sync.
          this.wanted.delete(p);
          resolved.push(p);
        } else if (now - since >= (this.opts.holdMs ?? HOLD_MS)) {
          this.wanted.delete(p);
          this.overdue.set(p, owner);
          late.push(p);
          resolved.push(p);
        }
      }
      if (late.length > 0) this.opts.onOverdue?.(late);
      if (resolved.length > 0 && !this.stopped) this.opts.onResolved(resolved);
    } finally {
      this.polling = false;
      this.delayMs = changed
        ? (this.opts.firstMs ?? 20)
        : Math.min(this.delayMs * 2, this.opts.maxMs ?? 1_000);
      if (this.wanted.size > 0) this.schedule(this.delayMs);
    }
  }
}

/**
 * The listeners every one of `answers` lists for the same mirror of the same cluster (port →
 * routeOwner); 'unanswered' when one of them is missing. A replica that names no cluster (an older
 * gateway, during a rollout) agrees with any cluster's route of that Service, and the port then
 * counts for the Service alone: what that replica says, no more.
 */
export function listenedByAll(
  answers: readonly (readonly ListenedRoute[] | undefined)[],
): ReadonlyMap<number, string> | 'unanswered' {
  if (answers.some((a) => a === undefined)) return 'unanswered';
  const [first = [], ...rest] = answers as (readonly ListenedRoute[])[];
  const out = new Map<number, string>();
  for (const r of first) {
    const same = rest.map((a) => a.find((x) => x.port === r.port && x.mirror === r.mirror));
    if (same.some((x) => x === undefined)) continue;
    const routes = [r, ...(same as ListenedRoute[])];
    // Two clusters at one port: the replicas tunnel it to different places, so it is not listened on.
    if (new Set(routes.flatMap((x) => x.cluster ?? [])).size > 1) continue;
    const anyWithout = routes.some((x) => x.cluster === undefined);
    out.set(r.port, routeOwner(anyWithout ? { port: r.port, mirror: r.mirror } : r));
  }
  return out;
}

function sameKnown(a: Known, b: Known): boolean {
  if (typeof a !== 'object' || typeof b !== 'object') return a === b;
  return a.size === b.size && [...a].every(([p, m]) => b.get(p) === m);
}
