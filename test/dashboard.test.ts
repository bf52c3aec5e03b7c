/** The Grafana dashboard charts every metric of the contract (shared/DESIGN.md, "Metrics"). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { registeredMetricNames } from './registered-metrics.js';

const CONTRACT_METRICS = [
  'gateway_alive',
  'gateway_probe_latency_ms',
  'isthmus_mirrored_services',
  'isthmus_mirror_sync_errors_total',
  'isthmus_tunnel_connections_total',
  'isthmus_tunnel_open',
  'isthmus_tunnel_bytes_total',
  'isthmus_tunnel_connect_duration_ms',
  'isthmus_failover_active',
  'isthmus_export_to_ready_seconds',
  'isthmus_remote_api_up',
];

/** Beyond the contract: the gateway's revocation metrics (README, "Revoking a certificate"), per-Service tunnels, federated services, the expiry of Link tokens, versions, certificates, identity's Certify. */
const MORE_CHARTED = [
  'isthmus_gateway_crl_revoked_certificates',
  'isthmus_gateway_crl_reloads_total',
  'isthmus_service_tunnels_total',
  'isthmus_service_tunnel_bytes_total',
  'isthmus_federation_members',
  'isthmus_federation_ready_members',
  'isthmus_remote_credentials_expiration_timestamp_seconds',
  'isthmus_build_info',
  'isthmus_remote_gateway_info',
  'isthmus_failover_nothing_ready',
  'isthmus_gateway_certificate_expiration_timestamp_seconds',
  'isthmus_gateway_certificate_renewals_total',
  'isthmus_gateway_certificate_valid',
  'isthmus_identity_certify_requests_total',
  'isthmus_identity_certify_duration_seconds',
  'isthmus_identity_token_review_failures_total',
  'isthmus_identity_certificate_expiration_timestamp_seconds',
];

/**
 * A range selector's window: Grafana's `$__rate_interval` (at least four scrape intervals, and
 * growing with the step, so no sample falls between two points), or a PromQL duration.
 */
const WINDOW = /^(\$__rate_interval|(\d+(ms|s|m|h|d|w|y))+)$/;

/** Aggregation operators (PromQL): each one sums, or picks among, the series of every cluster it sees. */
const AGGREGATION =
  /\b(sum|min|max|avg|group|stddev|stdvar|count|count_values|bottomk|topk|quantile|limitk|limit_ratio)\s*(?:(by|without)\s*\(([^)]*)\))?\s*\(/g;

/**
 * The vector selectors of a query (`metric{matchers}`), with the label lists of `by`, `on` and the
 * like, and range windows, left out: every name left that is not a function call or a keyword.
 */
function selectors(expr: string): { metric: string; matchers: string }[] {
  const bare = expr
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ');
  return [...bare.matchAll(/(?<![\w:.])([a-zA-Z_:][\w:]*)(?![\w:])\s*(\{[^}]*\})?(?!\s*\()/g)]
    .filter((m) => !/^(bool|and|or|unless|offset|inf|nan)$/i.test(m[1]!))
    .map((m) => ({ metric: m[1]!, matchers: m[2] ?? '' }));
}

/**
 * The `cluster` variable: the external label each cluster's Prometheus gives its series (README,
 * "Metrics"), so that a global Prometheus or Thanos shows one cluster, some or all of them side by
 * side, never summed together. All is `.*`, which also matches series without the label, so a
 * single cluster's Prometheus that does not set it shows everything.
 */
const CLUSTER = 'cluster=~"$cluster"';

describe('grafana/isthmus-dashboard.json', () => {
  const dashboard = JSON.parse(readFileSync('grafana/isthmus-dashboard.json', 'utf8')) as {
    templating: { list: Record<string, unknown>[] };
    panels: {
      title: string;
      description?: string;
      datasource: { type: string; uid: string };
      targets: { expr: string; legendFormat?: string }[];
    }[];
  };
  const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)).join('\n');
  it.each([...CONTRACT_METRICS, ...MORE_CHARTED])('charts %s', (metric) => {
    expect(exprs).toMatch(new RegExp(`\\b${metric}(_bucket)?\\b`));
  });

  // A fixed window drops samples once a panel's step outgrows it and reads as noise at a short
  // scrape interval; one kept on purpose says why in its panel's description, naming it.
  const windows = dashboard.panels.flatMap((p) =>
    p.targets.flatMap((t) => [...t.expr.matchAll(/\[([^\]]*)\]/g)].map((m) => ({ panel: p, window: m[1]! }))),
  );
  it.each(windows.map(({ panel, window }) => [panel.title, window, panel.description ?? '']))(
    '%s: the window [%s] is $__rate_interval, or one its description explains',
    (_title, window, description) => {
      expect(window).toMatch(WINDOW);
      if (window !== '$__rate_interval') expect(description).toContain(`[${window}]`);
    },
  );

  // Which Link's syncs fail, as the alert on them says.
  it('charts mirror sync errors per Link', () => {
    expect(exprs).toMatch(
      /sum by \(cluster, target_cluster_name\) \(rate\(isthmus_mirror_sync_errors_total\{[^}]*\}\[/,
    );
  });

  it('has a cluster variable: every cluster an Isthmus process reports from, several at once, All matching any', () => {
    const cluster = dashboard.templating.list.find((v) => v.name === 'cluster');
    expect(cluster).toMatchObject({
      type: 'query',
      datasource: dashboard.panels[0]!.datasource, // the one the panels query
      definition: 'label_values(isthmus_build_info, cluster)',
      multi: true,
      includeAll: true,
      allValue: '.*',
      current: { value: ['$__all'] },
    });
    const query = cluster!.query;
    expect(typeof query === 'string' ? query : (query as { query: string }).query).toBe(
      'label_values(isthmus_build_info, cluster)',
    );
  });

  const targets = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, ...t })));
  it.each(targets.map((t) => [t.panel, t.expr]))('%s: %s selects the clusters chosen', (_title, expr) => {
    const found = selectors(expr);
    expect(found.length).toBeGreaterThan(0);
    for (const { metric, matchers } of found) expect(`${metric}${matchers}`).toContain(CLUSTER);
  });
  it.each(targets.map((t) => [t.panel, t.expr]))('%s: %s never sums clusters together', (_title, expr) => {
    for (const [op, clause, labels] of [...expr.matchAll(AGGREGATION)].map((m) => [m[0], m[2], m[3]])) {
      const names = (labels ?? '').split(',').map((l) => l.trim());
      if (clause === 'without') expect(names, op).not.toContain('cluster');
      else expect(names, `${op} needs by (cluster, …)`).toContain('cluster');
    }
  });
  it.each(targets.map((t) => [t.panel, t.expr, t.legendFormat ?? '']))(
    '%s: %s names its cluster in the legend',
    (_title, _expr, legend) => {
      expect(legend).toMatch(/^\[\{\{cluster\}\}\]/);
    },
  );
});

describe('the metrics the parts register', () => {
  it.each(CONTRACT_METRICS)('%s is registered by the gateway or the controller', async (metric) => {
    expect(await registeredMetricNames()).toContain(metric);
  });
});
