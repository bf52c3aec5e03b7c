/**
 * `isthmus gateways` (Linkerd's `multicluster gateways`): one row per Link — is the remote gateway
 * alive, how many services are mirrored from it, and the latency of its probes. Alive and NUM_SVC
 * come from the Link status the controller writes (src/mirror/link-status.ts), with the
 * controller's gauges as fallback; latency percentiles from its `gateway_probe_latency_ms`
 * histogram (successful probes only), over a window or since the controller started; the remote
 * gateway's version from `isthmus_remote_gateway_info` (its answer to the last successful probe).
 */
import type { Link } from '../../kube/types.js';
import { LOCAL_GATEWAY_UNAVAILABLE } from '../../mirror/link-status.js';
import { plainTable } from '../../plain-table.js';
import {
  type Bucket,
  bucketDelta,
  gaugeValues,
  histogramBuckets,
  histogramQuantile,
  parseSamples,
} from './prom-histogram.js';
import { condition } from './types.js';

export interface GatewayRow {
  cluster: string;
  /** false: the Link has no gateway (a flat network); ALIVE shows `-`. */
  gateway: boolean;
  /** null: not probed yet / unknown, or no gateway. */
  alive: boolean | null;
  numServices: number | null;
  /** Milliseconds; null when no probe succeeded in the window (or no metrics were read). */
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
  /** What the remote gateway said it runs at its last successful probe; null: not known. */
  version: string | null;
}

/** What the controller's /metrics said, per target cluster. */
export interface ControllerMetrics {
  latency: Map<string, Bucket[]>;
  alive: Map<string, number>;
  mirrored: Map<string, number>;
  versions: Map<string, string>;
}

export function controllerMetrics(text: string, earlier?: string): ControllerMetrics {
  const latency = histogramBuckets(text, 'gateway_probe_latency_ms', 'target_cluster_name');
  if (earlier !== undefined) {
    const before = histogramBuckets(earlier, 'gateway_probe_latency_ms', 'target_cluster_name');
    for (const [cluster, buckets] of latency)
      latency.set(cluster, bucketDelta(before.get(cluster) ?? [], buckets));
  }
  return {
    latency,
    alive: gaugeValues(text, 'gateway_alive', 'target_cluster_name'),
    mirrored: gaugeValues(text, 'isthmus_mirrored_services', 'target_cluster_name'),
    versions: new Map(
      parseSamples(text)
        .filter((s) => s.name === 'isthmus_remote_gateway_info' && s.value === 1)
        .map((s) => [s.labels.target_cluster_name ?? '', s.labels.version ?? '']),
    ),
  };
}

function roundMs(ms: number | undefined): number | null {
  return ms === undefined ? null : Math.round(ms * 10) / 10;
}

/**
 * `leaderless`: no controller leads, so the Link status is what the last leader saw and the
 * metrics (if any pod answers) are a follower's, which probes nothing: ALIVE is unknown, and the
 * latencies, of probes nobody makes now, are not shown. NUM_SVC stays: no leader deletes the
 * mirrors it counts, and the version is the one last heard, as ever.
 */
export function gatewayRows(
  links: readonly Link[],
  metrics?: ControllerMetrics,
  leaderless = false,
): GatewayRow[] {
  return links
    .map((link) => {
      const cluster = link.spec?.targetClusterName ?? link.metadata?.name ?? '';
      const alive = aliveOf(link, metrics?.alive.get(cluster));
      const buckets = leaderless ? [] : (metrics?.latency.get(cluster) ?? []);
      const gateway = link.spec?.gatewayAddress !== undefined;
      return {
        cluster,
        gateway,
        alive: gateway && !leaderless ? alive : null,
        numServices: link.status?.mirroredServices ?? metrics?.mirrored.get(cluster) ?? null,
        latencyP50Ms: roundMs(histogramQuantile(0.5, buckets)),
        latencyP95Ms: roundMs(histogramQuantile(0.95, buckets)),
        version: gateway ? (metrics?.versions.get(cluster) ?? null) : null,
      };
    })
    .sort((a, b) => a.cluster.localeCompare(b.cluster));
}

/**
 * The Link's GatewayAlive, else the gauge (a Link without status yet). Not while this cluster's
 * gateway cannot probe (LocalGatewayUnavailable): the gauge keeps the last value heard of the
 * remote then, which says nothing of it now.
 */
function aliveOf(link: Link, gauge: number | undefined): boolean | null {
  const c = condition(link, 'GatewayAlive');
  if (c?.status === 'True') return true;
  if (c?.status === 'False') return false;
  if (c?.reason === LOCAL_GATEWAY_UNAVAILABLE) return null;
  return gauge === undefined ? null : gauge === 1;
}

/** Links whose probes this cluster's gateway cannot make: the note `isthmus gateways` prints. */
export function localGatewayNote(links: readonly Link[]): string | undefined {
  const reasons = links
    .map((l) => condition(l, 'GatewayAlive'))
    .filter((c) => c?.reason === LOCAL_GATEWAY_UNAVAILABLE);
  if (reasons.length === 0) return undefined;
  return `ALIVE is unknown: ${reasons[0]?.message || "this cluster's gateway cannot probe"}; \`isthmus check\` says what to fix here`;
}

const ms = (v: number | null) => (v === null ? '-' : `${v}ms`);

export function renderGatewaysTable(rows: readonly GatewayRow[]): string {
  return plainTable(
    ['CLUSTER', 'ALIVE', 'NUM_SVC', 'LATENCY_P50', 'LATENCY_P95', 'VERSION'],
    rows.map((r) => [
      r.cluster,
      !r.gateway ? '-' : r.alive === null ? 'Unknown' : r.alive ? 'True' : 'False',
      r.numServices === null ? '-' : String(r.numServices),
      ms(r.latencyP50Ms),
      ms(r.latencyP95Ms),
      r.version ?? '-',
    ]),
  );
}
