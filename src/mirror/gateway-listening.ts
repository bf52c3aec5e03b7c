/**
 * Which egress ports the local gateway listens on, from its admin `/routes` (`--gateway-admin`,
 * the URL the probes use). A mirror's slice lists an egress port, where kube-proxy sends callers,
 * only once the gateway listens on it (plan-mirror.ts `forwardedPorts`): the gateway opens a
 * mirror's listener only after the controller's slice vouches for the port (its
 * `isthmus.dev/egress-ports` annotation), so without this wait a new mirror's first callers were
 * refused. Polled only while a sync waits for a port not seen yet. Each ready gateway pod is asked
 * at its own address (gatewayAdminUrls): the admin Service answers from one replica at a time, and
 * kube-proxy sends callers to every replica, so a port counts once every replica lists it. A gateway
 * admin that does not answer holds nothing back (every port is listed, as before): a broken
 * controller-to-admin path must not stop new mirrors.
 */
import { hostPort } from '../host-port.js';

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

export interface GatewayListeningOptions {
  /** Addresses of the ready local gateway pods: without any, a slice has no endpoint to hold back. */
  addresses: () => string[];
  /** The `/routes` URLs to ask, for `addresses` (gatewayAdminUrls). */
  urls: (addresses: readonly string[]) => URL[];
  /** Whether a mirror still holds the port: a port no one holds is waited for no longer. */
  held: (port: number) => boolean;
  /** Told when the ports every gateway listens on change (the syncs run again). */
  onChange: () => void;
  /** The egress ports the gateway's `/routes` lists (default: over HTTP). */
  fetchPorts?: (url: URL) => Promise<number[]>;
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

async function fetchRoutePorts(url: URL): Promise<number[]> {
  const res = await fetch(url, { signal: AbortSignal.timeout(ROUTES_TIMEOUT_MS) });
  if (!res.ok) throw new Error(`${url.href} answered ${res.status}`);
  const body = (await res.json()) as { routes?: { port?: unknown }[] };
  return (body.routes ?? []).map((r) => r.port).filter((p): p is number => typeof p === 'number');
}

export class GatewayListening {
  /** What the gateway listened on at the last poll; 'unanswered' when it failed; undefined before one. */
  private known: Known;
  /** Ports waited for, and since when. */
  private readonly wanted = new Map<number, number>();
  /** Ports whose hold ran out: listed though no gateway listens on them (until one does). */
  private readonly overdue = new Set<number>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private stopped = false;
  private delayMs: number;

  constructor(private readonly opts: GatewayListeningOptions) {
    this.delayMs = opts.firstMs ?? 20;
  }

  /**
   * The ports the gateway listens on, as last seen; undefined (hold nothing back) without a ready
   * gateway (no endpoints; a gateway turns ready only after opening every vouched port) or while
   * its admin does not answer. Those of `wanted` not among them are polled for until they are, or
   * no mirror holds them.
   */
  ports(wanted: Iterable<number>): ReadonlySet<number> | undefined {
    if (this.opts.addresses().length === 0) return undefined;
    const known = this.known;
    const now = this.now();
    for (const p of wanted) {
      const listened = typeof known === 'object' && known.has(p);
      if (!listened && !this.overdue.has(p) && !this.wanted.has(p)) this.wanted.set(p, now);
    }
    if (this.wanted.size > 0) this.schedule(0);
    if (known === 'unanswered') return undefined;
    const listened = known ?? new Set<number>();
    return this.overdue.size === 0 ? listened : new Set([...listened, ...this.overdue]);
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Every ready gateway pod's `/routes`, at once. */
  private async askAll(): Promise<ReadonlySet<number> | 'unanswered'> {
    const fetchPorts = this.opts.fetchPorts ?? fetchRoutePorts;
    const urls = this.opts.urls(this.opts.addresses());
    if (urls.length === 0) return 'unanswered';
    return listenedByAll(await Promise.all(urls.map((u) => fetchPorts(u).catch(() => undefined))));
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
      // Unanswered: every port is listed meanwhile, nothing waits; the next sync asks again.
      const done = (p: number) => next === 'unanswered' || next.has(p) || !this.opts.held(p);
      for (const p of this.overdue) if (done(p)) this.overdue.delete(p);
      const late: number[] = [];
      const now = this.now();
      for (const [p, since] of this.wanted) {
        if (done(p)) this.wanted.delete(p);
        else if (now - since >= (this.opts.holdMs ?? HOLD_MS)) {
          this.wanted.delete(p);
          this.overdue.add(p);
          late.push(p);
        }
      }
      if (late.length > 0) {
        changed = true;
        this.opts.onOverdue?.(late);
      }
      if (changed && !this.stopped) this.opts.onChange();
    } finally {
      this.polling = false;
      this.delayMs = changed
        ? (this.opts.firstMs ?? 20)
        : Math.min(this.delayMs * 2, this.opts.maxMs ?? 1_000);
      if (this.wanted.size > 0) this.schedule(this.delayMs);
    }
  }
}

type Known = ReadonlySet<number> | 'unanswered' | undefined;

/** The ports every one of `answers` lists; 'unanswered' when one of them is missing. */
export function listenedByAll(
  answers: readonly (readonly number[] | undefined)[],
): ReadonlySet<number> | 'unanswered' {
  if (answers.some((a) => a === undefined)) return 'unanswered';
  const [first = [], ...rest] = answers as (readonly number[])[];
  return new Set(first.filter((p) => rest.every((a) => a.includes(p))));
}

function sameKnown(a: Known, b: Known): boolean {
  if (typeof a !== 'object' || typeof b !== 'object') return a === b;
  return a.size === b.size && [...a].every((x) => b.has(x));
}
