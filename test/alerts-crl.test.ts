/**
 * The CRL refusal alerts: identity's refusal gauge has one, as the gateway's does, and neither
 * tells the operator to restart (a restart takes a file refused as a rollback or a drop, lifting
 * the revocations it dropped).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  annotations: { summary: string; description: string };
}

const doc = parse(readFileSync('examples/prometheus/isthmus-alerts.yaml', 'utf8')) as {
  spec: { groups: { name: string; rules: Rule[] }[] };
};
const rules = doc.spec.groups.flatMap((g) => g.rules);

describe('CRL refusal alerts', () => {
  it("fire on identity's refusal gauge as on the gateway's, following the file", () => {
    const rule = rules.find((r) => r.expr.includes('isthmus_identity_crl_file_refused'));
    expect(rule?.expr.trim()).toBe('isthmus_identity_crl_file_refused == 1');
    expect(rule?.for).toBeUndefined();
  });

  it('say to fix the ConfigMap, not to restart, and that a restart takes a rollback or a drop', () => {
    for (const gauge of ['isthmus_gateway_crl_file_refused', 'isthmus_identity_crl_file_refused']) {
      const rule = rules.find((r) => r.expr.includes(gauge));
      expect(rule?.annotations.description).toMatch(/do not restart/);
      expect(rule?.annotations.description).not.toMatch(/crash-loops until the ConfigMap is fixed/);
      expect(rule?.annotations.description).toMatch(/rollback|older list put back/);
      expect(rule?.annotations.description).toMatch(/step 3 of an anchor rotation/);
    }
  });
});
