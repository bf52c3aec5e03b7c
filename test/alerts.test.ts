/** The example alerting rules parse, and every metric they query is one the parts register. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { registeredMetricNames } from './registered-metrics.js';

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: { severity: string };
  annotations: { summary: string };
}

const doc = parse(readFileSync('examples/prometheus/isthmus-alerts.yaml', 'utf8')) as {
  kind: string;
  spec: { groups: { name: string; rules: Rule[] }[] };
};
const rules = doc.spec.groups.flatMap((g) => g.rules);

/** Metric names in a PromQL expression: identifiers left once grouping clauses, label matchers and functions are gone. */
function metricsOf(expr: string): string[] {
  const bare = expr.replace(/\b(by|without)\s*\([^)]*\)/g, ' ').replace(/\{[^}]*\}/g, ' ');
  const functions = new Set(['sum', 'max', 'rate', 'increase', 'histogram_quantile', 'clamp_max']);
  const words = bare.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [];
  return [...new Set(words.filter((w) => w.includes('_') && !functions.has(w)))];
}

describe('examples/prometheus/isthmus-alerts.yaml', () => {
  it('is a PrometheusRule whose rules each have an expression, a severity and a summary', () => {
    expect(doc.kind).toBe('PrometheusRule');
    expect(rules.length).toBeGreaterThanOrEqual(8);
    for (const r of rules) {
      expect(r.alert).toMatch(/^Isthmus[A-Z]/);
      expect(r.expr.trim()).not.toBe('');
      expect(['critical', 'warning', 'info']).toContain(r.labels.severity);
      expect(r.annotations.summary).not.toBe('');
    }
  });

  // An expiry alert's condition follows from the clock and one expiry (and lifetime): it cannot
  // flap, so a `for` only delays it. `for: 10m` on the Link token's alert, whose rule warns with a
  // tenth of the lifetime left, fired only after a token shorter than 100 minutes had expired (a
  // 1 h token, made by `isthmus link --token-duration 1h`: due at 6 minutes left).
  it.each(['IsthmusRemoteCredentialsExpiring', 'IsthmusGatewayCertificateExpiring'])(
    '%s fires as soon as its rule says (no `for`)',
    (name) => {
      const rule = rules.find((r) => r.alert === name);
      expect(rule?.expr).toMatch(/- time\(\)/);
      expect(rule?.for).toBeUndefined();
    },
  );

  // A sync error counter nobody alerts on is a controller failing in silence: each is retried with
  // backoff, so only a rate that lasts says something is wrong.
  it('alerts on every *_sync_errors_total the parts register', async () => {
    const errors = [...(await registeredMetricNames())].filter((m) => m.endsWith('_sync_errors_total'));
    expect(errors.length).toBeGreaterThanOrEqual(3);
    for (const m of errors) expect(rules.filter((r) => metricsOf(r.expr).includes(m)).length, m).toBe(1);
  });

  // A refused isthmus-crl update is a fault until the file is fixed: the next gateway restart
  // fails on it. An increase over a window resolved 15 minutes after the refusal, fault or not.
  it('IsthmusCrlUpdateRefused fires while a refused CRL file is on disk, not for a window after it', () => {
    const rule = rules.find((r) => r.alert === 'IsthmusCrlUpdateRefused');
    expect(rule && metricsOf(rule.expr)).toEqual(['isthmus_gateway_crl_file_refused']);
    expect(rule?.expr).not.toMatch(/increase|rate|\[/);
  });

  // A TLS client without a certificate (a blackbox probe, a load balancer's TLS check, a scanner)
  // is no peer gateway: under peer_cluster="unknown" it made a 100 % failure ratio and paged.
  it('IsthmusTunnelErrors leaves clients without a certificate out of both sides of its ratio', () => {
    const rule = rules.find((r) => r.alert === 'IsthmusTunnelErrors');
    const selectors = rule?.expr.match(/isthmus_tunnel_connections_total\{[^}]*\}/g) ?? [];
    expect(selectors).toHaveLength(2);
    for (const s of selectors) expect(s).toMatch(/result!(~"[^"]*\b|=")no_client_certificate\b[^"]*"/);
    expect(selectors[0]).toMatch(/result!~"[^"]*\bsuccess\b[^"]*"/);
  });

  it.each(rules.map((r) => [r.alert, r.expr] as const))(
    '%s queries only registered metrics',
    async (_alert, expr) => {
      const registered = await registeredMetricNames();
      const used = metricsOf(expr).map((m) => m.replace(/_bucket$/, ''));
      expect(used.length).toBeGreaterThan(0);
      for (const m of used) expect(registered, m).toContain(m);
    },
  );
});
