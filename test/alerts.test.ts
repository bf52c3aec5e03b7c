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
  it.each([
    'IsthmusRemoteCredentialsExpiring',
    'IsthmusGatewayCertificateExpiring',
    'IsthmusIssuerCertificateExpiring',
  ])('%s fires as soon as its rule says (no `for`)', (name) => {
    const rule = rules.find((r) => r.alert === name);
    expect(rule?.expr).toMatch(/- time\(\)/);
    expect(rule?.for).toBeUndefined();
  });

  // A sync error counter nobody alerts on is a controller failing in silence: each is retried with
  // backoff, so only a rate that lasts says something is wrong.
  it('alerts on every *_sync_errors_total the parts register', async () => {
    const errors = [...(await registeredMetricNames())].filter((m) => m.endsWith('_sync_errors_total'));
    expect(errors.length).toBeGreaterThanOrEqual(3);
    for (const m of errors) expect(rules.filter((r) => metricsOf(r.expr).includes(m)).length, m).toBe(1);
  });

  // Rules evaluated over several clusters' series (Thanos, a global Prometheus: each cluster's series
  // carry a `cluster` external label) must alert per source cluster. `max by (target_cluster_name)`
  // dropped it: one cluster's dead view of a remote hid behind another cluster's live one.
  it('every aggregation keeps the cluster a series came from', () => {
    for (const r of rules) {
      expect(r.expr, r.alert).not.toMatch(/\b(sum|max|min|avg|count)\s*\(/);
      expect(r.expr, r.alert).not.toMatch(/\bwithout\s*\(/);
      for (const [, labels] of r.expr.matchAll(/\bby\s*\(([^)]*)\)/g))
        expect(
          labels?.split(',').map((l) => l.trim()),
          r.alert,
        ).toContain('cluster');
    }
  });

  // Over several clusters' series, an alert must say whose it is: the cluster first, when labelled.
  it('every summary starts with the cluster it comes from, when the series say', () => {
    for (const r of rules)
      expect(r.annotations.summary, r.alert).toMatch(
        /^\{\{ with \$labels\.cluster \}\}\[\{\{ \. \}\}\] \{\{ end \}\}\S/,
      );
  });

  // One Link whose syncs fail must say which: summed over every Link, the alert named none, and a
  // Link failing for good hid behind a healthy one's silence in the same sum.
  it('IsthmusMirrorSyncFailing fires per Link and names its cluster', () => {
    const rule = rules.find((r) => r.alert === 'IsthmusMirrorSyncFailing');
    expect(rule?.expr).toMatch(
      /^sum by \(cluster, target_cluster_name\) \(rate\(isthmus_mirror_sync_errors_total\[/,
    );
    expect(rule?.annotations.summary).toContain('{{ $labels.target_cluster_name }}');
  });

  // Probes go through this cluster's gateway: when it could not probe, every remote looked dead and
  // IsthmusRemoteGatewayDown fired once per remote, naming them. A Link whose probes fail here is
  // left out of it (gateway_alive keeps its last value), and one alert names this side instead.
  it('a local gateway that cannot probe fires IsthmusLocalGatewayDown, not IsthmusRemoteGatewayDown', () => {
    const remote = rules.find((r) => r.alert === 'IsthmusRemoteGatewayDown');
    expect(remote && metricsOf(remote.expr)).toEqual(['gateway_alive', 'isthmus_local_gateway_up']);
    expect(remote?.expr).toMatch(/\(gateway_alive unless isthmus_local_gateway_up == 0\) == 0\s*$/);
    const local = rules.find((r) => r.alert === 'IsthmusLocalGatewayDown');
    expect(local && metricsOf(local.expr)).toEqual(['isthmus_local_gateway_up']);
    expect(local?.expr).toMatch(/== 0\s*$/);
    // Every controller replica probes: a Link is down when none can probe it; once per cluster,
    // not once per replica, and for one Link as well as for all (its remote alert is left out).
    expect(local?.expr).toMatch(
      /^min by \(cluster, namespace\) \(max by \(cluster, namespace, target_cluster_name\) \(isthmus_local_gateway_up\)\) == 0$/,
    );
    expect(local?.annotations.summary).not.toContain('$labels.instance');
  });

  // A refused isthmus-crl update is a fault until the file is fixed: the next gateway restart
  // fails on it. An increase over a window resolved 15 minutes after the refusal, fault or not.
  it('IsthmusCrlUpdateRefused fires while a refused CRL file is on disk, not for a window after it', () => {
    const rule = rules.find((r) => r.alert === 'IsthmusCrlUpdateRefused');
    expect(rule && metricsOf(rule.expr)).toEqual(['isthmus_gateway_crl_file_refused']);
    expect(rule?.expr).not.toMatch(/increase|rate|\[/);
  });

  // A refused issuer update is the same fault on identity's side: the issuer in force signs on, and
  // the log alone said so until the next restart failed on the files. Same style as the CRL's.
  it('IsthmusIssuerUpdateRefused fires while refused issuer files are on disk, as IsthmusCrlUpdateRefused does', () => {
    const rule = rules.find((r) => r.alert === 'IsthmusIssuerUpdateRefused');
    const crl = rules.find((r) => r.alert === 'IsthmusCrlUpdateRefused');
    expect(rule && metricsOf(rule.expr)).toEqual(['isthmus_identity_issuer_file_refused']);
    expect(rule?.expr).not.toMatch(/increase|rate|\[/);
    expect(rule?.for).toBe(crl?.for);
    expect(rule?.labels.severity).toBe(crl?.labels.severity);
  });

  // The expiry alert needs a certificate to exist: a gateway that never got one (identity
  // unreachable, its token refused) stays unready and alerted on nothing. The gauge is 0 from the
  // start, so `== 0` finds it; `absent()` would not (the series is there).
  it('IsthmusGatewayWithoutCertificate fires on a gateway that has held no valid certificate for a while', () => {
    const rule = rules.find((r) => r.alert === 'IsthmusGatewayWithoutCertificate');
    expect(rule && metricsOf(rule.expr)).toEqual(['isthmus_gateway_certificate_valid']);
    expect(rule?.expr).toMatch(/== 0\s*$/);
    expect(rule?.for).toMatch(/^\d+m$/);
  });

  // After a rotation to a certificate a remote refuses, every tunnel still opens (on the session made
  // with the previous certificate): only the refused dials say so, for hours before it expires.
  it('IsthmusGatewaySessionsRefused fires on refused session dials that last, per peer cluster', () => {
    const rule = rules.find((r) => r.alert === 'IsthmusGatewaySessionsRefused');
    expect(rule && metricsOf(rule.expr)).toEqual(['isthmus_tunnel_session_dials_total']);
    expect(rule?.expr).toMatch(/result="unauthorized"/);
    expect(rule?.expr).toMatch(/by \(cluster, peer_cluster\)/);
    expect(rule?.for).toMatch(/^\d+m$/);
  });

  // A revoked own certificate the gateway replaced needs nobody; one it could not replace leaves
  // every peer refusing it for as long as that lasts. An increase of the load counter over 15m
  // resolved while the fault stayed, and paged for a renewal its next retry made.
  it('IsthmusGatewayCertificateRevoked fires while the CRL in force refuses the certificate the gateway presents', () => {
    const rule = rules.find((r) => r.alert === 'IsthmusGatewayCertificateRevoked');
    expect(rule && metricsOf(rule.expr)).toEqual(['isthmus_gateway_own_certificate_revoked']);
    expect(rule?.expr).not.toMatch(/increase|rate|\[/);
    expect(rule?.for).toMatch(/^\d+m$/);
  });

  // A gateway whose Certify calls fail retries every 30 s at most, so a lasting failure is a
  // lasting ratio; one refusal (a stray token) leaves the 5m window before the `for` ends.
  it('IsthmusIdentityCertifyFailing is a ratio of failed Certify calls that lasts, callers that gave up left out', () => {
    const rule = rules.find((r) => r.alert === 'IsthmusIdentityCertifyFailing');
    expect(rule && metricsOf(rule.expr)).toEqual(['isthmus_identity_certify_requests_total']);
    expect(rule?.expr).toMatch(/result!~"issued\|cancelled"/);
    expect(rule?.for).toBeDefined();
  });

  // A TLS client without a certificate (a blackbox probe, a load balancer's TLS check, a scanner)
  // is no peer gateway, and neither is a connection that speaks no TLS at all (a plain-HTTP or
  // TCP-payload health check): under peer_cluster="unknown" either made a 100 % failure ratio and paged.
  it.each(['no_client_certificate', 'not_tls'])(
    'IsthmusTunnelErrors leaves %s out of both sides of its ratio',
    (result) => {
      const rule = rules.find((r) => r.alert === 'IsthmusTunnelErrors');
      const selectors = rule?.expr.match(/isthmus_tunnel_connections_total\{[^}]*\}/g) ?? [];
      expect(selectors).toHaveLength(2);
      const excluded = new RegExp(`result!(~"[^"]*\\b|=")${result}\\b[^"]*"`);
      for (const s of selectors) expect(s).toMatch(excluded);
      expect(selectors[0]).toMatch(/result!~"[^"]*\bsuccess\b[^"]*"/);
    },
  );

  // Prometheus's own `up` of each scrape target: what a process that answers nothing leaves.
  it('IsthmusScrapeDown fires on the scrape target of any Isthmus pod, whoever scrapes it', () => {
    const rule = rules.find((r) => r.alert === 'IsthmusScrapeDown');
    expect(rule?.expr).toBe('up{namespace="isthmus-system"} == 0');
    expect(rule?.for).toMatch(/^\d+m$/);
  });

  it.each(rules.filter((r) => r.alert !== 'IsthmusScrapeDown').map((r) => [r.alert, r.expr] as const))(
    '%s queries only registered metrics',
    async (_alert, expr) => {
      const registered = await registeredMetricNames();
      const used = metricsOf(expr).map((m) => m.replace(/_bucket$/, ''));
      expect(used.length).toBeGreaterThan(0);
      for (const m of used) expect(registered, m).toContain(m);
    },
  );
});
