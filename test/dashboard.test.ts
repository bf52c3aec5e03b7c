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

describe('grafana/isthmus-dashboard.json', () => {
  const dashboard = JSON.parse(readFileSync('grafana/isthmus-dashboard.json', 'utf8')) as {
    panels: { title: string; description?: string; targets: { expr: string }[] }[];
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
    expect(exprs).toMatch(/sum by \(target_cluster_name\) \(rate\(isthmus_mirror_sync_errors_total\[/);
  });
});

describe('the metrics the parts register', () => {
  it.each(CONTRACT_METRICS)('%s is registered by the gateway or the controller', async (metric) => {
    expect(await registeredMetricNames()).toContain(metric);
  });
});
