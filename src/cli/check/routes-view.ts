/** `isthmus routes`: the gateways' egress listeners as rows (pure), for a table or JSON/YAML. */

import { plainTable } from '../../plain-table.js';
import type { GatewayRoute } from './controller-scrape.js';

export interface RouteRow {
  pod: string;
  port: number;
  mirror: string;
  authority: string;
  remoteGateway: string;
}

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

export function renderRoutesTable(rows: readonly RouteRow[]): string {
  if (rows.length === 0) return 'No egress routes: no mirror, or no running gateway pod.\n';
  return plainTable(
    ['GATEWAY POD', 'PORT', 'MIRROR', 'AUTHORITY', 'REMOTE GATEWAY'],
    rows.map((r) => [r.pod, String(r.port), r.mirror, r.authority, r.remoteGateway]),
  );
}
