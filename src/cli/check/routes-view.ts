/**
 * `isthmus routes`: the gateways' egress listeners as rows (pure), for a table or JSON/YAML. With
 * none, what was found instead: the mirrors that have egress ports, and each gateway pod as it
 * is (not ready, and why its `/ready` says; ready but listening on nothing; not answering).
 */

import { SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { plainTable } from '../../plain-table.js';
import type { GatewayRoute } from './controller-scrape.js';
import type { Fetched } from './types.js';

export interface RouteRow {
  pod: string;
  port: number;
  mirror: string;
  authority: string;
  remoteGateway: string;
}

/** A running gateway pod as `routes` read it. */
export interface GatewayPodRoutes {
  pod: string;
  /** Ready and not terminating (podTakesTraffic). */
  ready: boolean;
  /** Absent when `/routes` could not be read; `error` says why. */
  routes?: GatewayRoute[];
  error?: string;
  /** An unready pod's admin `/ready`: the reasons it gives, or why it could not be read. */
  readiness?: Fetched<string[]>;
}

export interface RoutesFacts {
  pods: GatewayPodRoutes[];
  /** The mirrors (`namespace/name`) that have egress ports: what the gateways should listen on. */
  mirrors: Fetched<string[]>;
}

/** Names shown before "and N more". */
const MAX_NAMED = 3;

export function routeRows(pods: readonly { pod: string; routes?: GatewayRoute[] }[]): RouteRow[] {
  return pods
    .flatMap(({ pod, routes }) =>
      (routes ?? []).map((r) => ({
        pod,
        port: r.port,
        mirror: r.mirror,
        authority: r.authority,
        // IPv6 in brackets, as the mirror's isthmus.dev/remote-gateway annotation writes it.
        remoteGateway: `${r.remote.host.includes(':') ? `[${r.remote.host}]` : r.remote.host}:${r.remote.port}`,
      })),
    )
    .sort((a, b) => a.pod.localeCompare(b.pod) || a.port - b.port);
}

export function renderRoutesTable(rows: readonly RouteRow[], facts: RoutesFacts): string {
  if (rows.length === 0) return noRoutes(facts);
  return plainTable(
    ['GATEWAY POD', 'PORT', 'MIRROR', 'AUTHORITY', 'REMOTE GATEWAY'],
    rows.map((r) => [r.pod, String(r.port), r.mirror, r.authority, r.remoteGateway]),
  );
}

function mirrorsLine(mirrors: Fetched<string[]>): string {
  if (!mirrors.ok) return `mirrors could not be read: ${mirrors.error}`;
  const names = mirrors.value;
  if (names.length === 0) return 'no mirror has egress ports (no Link, or nothing exported to this cluster)';
  const more = names.length - MAX_NAMED;
  const shown = names.slice(0, MAX_NAMED).join(', ') + (more > 0 ? ` and ${more} more` : '');
  const has = names.length === 1 ? '1 mirror has' : `${names.length} mirrors have`;
  return `${has} egress ports (${shown}), which the gateway pods should listen on`;
}

function podLine(p: GatewayPodRoutes): string {
  const name = `gateway pod ${p.pod}`;
  if (!p.routes) return `${name} did not answer /routes (${p.error ?? 'no answer'})`;
  if (p.ready) return `${name} is ready and listens on no egress port`;
  const why = !p.readiness
    ? ''
    : !p.readiness.ok
      ? ` (its /ready could not be read: ${p.readiness.error})`
      : p.readiness.value.length > 0
        ? ` (${p.readiness.value.join(', ')})`
        : '';
  return `${name} is running but not ready${why}: a gateway listens once it is ready`;
}

/** No listener anywhere: each thing found that explains it, one per line. */
function noRoutes(facts: RoutesFacts): string {
  const pods =
    facts.pods.length === 0
      ? [`no gateway pod is running in ${SYSTEM_NAMESPACE}`]
      : [...facts.pods].sort((a, b) => a.pod.localeCompare(b.pod)).map(podLine);
  const lines = [mirrorsLine(facts.mirrors), ...pods].map((l) => `  ${l}`);
  return ['No egress routes:', ...lines, 'See `isthmus check`.', ''].join('\n');
}
