/**
 * Pure translation of mirror Services into egress routes. The mirror controller writes, on each
 * mirror `<svc>-<cluster>`, which local egress port leads to which of the mirror's ports
 * (`isthmus.dev/egress-ports`), which remote gateway the tunnel goes to (`isthmus.dev/remote-gateway`)
 * and the remote Service's fully-qualified name (`mirror.linkerd.io/remote-svc-fq-name`); see
 * shared/DESIGN.md, "Names and keys". A mirror's ports equal the remote Service's ports, so the
 * tunnel `:authority` is `<fq name>:<mirror port>`.
 */

import { parseHostPort } from '../host-port.js';
import {
  CLUSTER_NAME_LABEL,
  EGRESS_PORTS_ANNOTATION,
  REMOTE_GATEWAY_ANNOTATION,
  REMOTE_SVC_FQ_NAME_ANNOTATION,
} from '../kube/keys.js';
import { isLinkerdMirror } from '../kube/linkerd-mirror.js';
import type { V1Service } from '../kube/types.js';
import type { WatchSource } from './watch-exports.js';

/** Matches the colleague's `EgressRoute` in egress.ts (structural, so either may be imported). */
export interface MirrorEgressRoute {
  port: number;
  remote: { host: string; port: number };
  authority: string;
  /** `namespace/name` of the mirror Service the route comes from. */
  mirror: string;
  /** The cluster the mirror comes from: the remote gateway must hold its gateway identity. */
  cluster: string;
}

export interface MirrorRoutes {
  routes: MirrorEgressRoute[];
  /** One sentence per thing ignored, with the reason; logged by the watcher. */
  problems: string[];
}

export function routesFromMirror(svc: V1Service): MirrorRoutes {
  const key = `${svc.metadata?.namespace ?? ''}/${svc.metadata?.name ?? ''}`;
  // Linkerd's service mirror still owns it (mid-migration): not ours to route, nothing to report.
  if (isLinkerdMirror(svc)) return { routes: [], problems: [] };
  const annotations = svc.metadata?.annotations ?? {};
  const problems: string[] = [];
  const egressPorts = annotations[EGRESS_PORTS_ANNOTATION];
  const gateway = annotations[REMOTE_GATEWAY_ANNOTATION];
  const fqName = annotations[REMOTE_SVC_FQ_NAME_ANNOTATION];
  const cluster = svc.metadata?.labels?.[CLUSTER_NAME_LABEL];
  if (cluster === undefined || cluster.trim() === '') problems.push(`${key}: no ${CLUSTER_NAME_LABEL} label`);
  if (egressPorts === undefined || egressPorts.trim() === '')
    problems.push(`${key}: no ${EGRESS_PORTS_ANNOTATION}`);
  if (fqName === undefined || fqName.trim() === '')
    problems.push(`${key}: no ${REMOTE_SVC_FQ_NAME_ANNOTATION}`);
  const remote = gateway === undefined ? null : parseHostPort(gateway);
  if (gateway === undefined) problems.push(`${key}: no ${REMOTE_GATEWAY_ANNOTATION}`);
  else if (remote === null)
    problems.push(`${key}: ${REMOTE_GATEWAY_ANNOTATION} "${gateway}" is not <address>:<port>`);
  if (
    problems.length > 0 ||
    remote === null ||
    egressPorts === undefined ||
    fqName === undefined ||
    cluster === undefined
  ) {
    return { routes: [], problems };
  }

  const routes: MirrorEgressRoute[] = [];
  const seen = new Set<number>();
  for (const entry of egressPorts.split(',').map((e) => e.trim())) {
    if (entry === '') continue;
    const m = /^([^=\s]+)=(\d{1,5})$/.exec(entry);
    const egressPort = m === null ? Number.NaN : Number(m[2]);
    if (m === null || egressPort < 1 || egressPort > 65535) {
      problems.push(`${key}: egress port entry "${entry}" is not <portName or number>=<port>`);
      continue;
    }
    const servicePort = findPort(svc, m[1] as string);
    if (servicePort === undefined) {
      problems.push(`${key}: egress port entry "${entry}" names no port of the mirror`);
      continue;
    }
    if (seen.has(egressPort)) {
      problems.push(`${key}: egress port ${egressPort} is given twice`);
      continue;
    }
    seen.add(egressPort);
    routes.push({
      port: egressPort,
      remote,
      authority: `${fqName.trim()}:${servicePort}`,
      mirror: key,
      cluster: cluster.trim(),
    });
  }
  return { routes, problems };
}

/** A port by name, else (for an all-digit reference) by number, as Service targetPort does. */
function findPort(svc: V1Service, ref: string): number | undefined {
  const ports = svc.spec?.ports ?? [];
  const byName = ports.find((p) => p.name === ref);
  if (byName !== undefined) return byName.port;
  if (!/^\d+$/.test(ref)) return undefined;
  return ports.find((p) => p.port === Number(ref))?.port;
}

/**
 * All routes of all mirrors. Two mirrors claiming one egress port is a controller bug or a race
 * during re-allocation; the mirror that sorts first keeps the port, so the outcome is stable
 * whatever order the informer lists them in.
 */
export function routesFromMirrors(services: readonly V1Service[]): MirrorRoutes {
  const sorted = [...services].sort((a, b) => mirrorKey(a).localeCompare(mirrorKey(b)));
  const routes: MirrorEgressRoute[] = [];
  const problems: string[] = [];
  const owner = new Map<number, string>();
  for (const svc of sorted) {
    const result = routesFromMirror(svc);
    problems.push(...result.problems);
    for (const route of result.routes) {
      const taken = owner.get(route.port);
      if (taken !== undefined) {
        problems.push(`${route.mirror}: egress port ${route.port} is already used by ${taken}`);
        continue;
      }
      owner.set(route.port, route.mirror);
      routes.push(route);
    }
  }
  return { routes, problems };
}

function mirrorKey(svc: V1Service): string {
  return `${svc.metadata?.namespace ?? ''}/${svc.metadata?.name ?? ''}`;
}

/** What the mirror watcher drives: the colleague's `EgressListeners` (egress.ts). */
export interface RouteSink {
  apply(routes: MirrorEgressRoute[]): unknown;
}

export interface MirrorWatcherOptions {
  /** Mirror changes come in bursts (a Link's first sync writes many); one apply per burst. */
  debounceMs: number;
  /** Told the problems of each apply (the set, not a diff), e.g. to log them. */
  onProblems?: (problems: string[]) => void;
  /**
   * Told when an apply throws (a port another process holds, say). The next change retries, and
   * so does a timer after `retryMs` (default 5 s): a mirror that never changes again still gets
   * its listener once the port is free.
   */
  onError?: (err: unknown) => void;
  retryMs?: number;
}

export interface MirrorWatcher {
  /** Resolves once no apply is pending or running (for readiness and tests). */
  idle(): Promise<void>;
  /** Stops reacting to events and waits for a running apply to finish. */
  close(): Promise<void>;
}

/**
 * Re-applies the full route set on every change, debounced and serialised: applies never overlap,
 * and a change during an apply schedules exactly one more. The sink receives the complete desired
 * state each time, so it can diff against what it listens on.
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

  const settle = (): void => {
    if (timer !== undefined || running !== undefined) return;
    for (const w of waiters.splice(0)) w();
  };

  const run = async (): Promise<void> => {
    let failed = false;
    while (dirty && !closed) {
      dirty = false;
      const { routes, problems } = routesFromMirrors(source.list());
      options.onProblems?.(problems);
      try {
        await sink.apply(routes);
        failed = false;
      } catch (err) {
        failed = true;
        options.onError?.(err);
      }
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
    timer = setTimeout(fire, options.debounceMs);
  };

  const off = source.onEvent(schedule);
  schedule(); // the initial state, even if it is "no mirrors"

  return {
    idle: () =>
      new Promise<void>((resolve) => {
        waiters.push(resolve);
        settle();
      }),
    async close() {
      closed = true;
      off();
      if (timer !== undefined) clearTimeout(timer);
      clearTimeout(retryTimer);
      timer = undefined;
      await running;
      settle();
    },
  };
}
