/**
 * The example NetworkPolicies (examples/network-policy) stay true to what `isthmus install`
 * renders: each selects the pods of one component, lets in every port those pods serve, and names
 * in `from` only pods the install runs. The sandbox enforces no NetworkPolicy (no CNI runs here),
 * so what traffic they stop is not tested; that they never stop the product's own is.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { INSTALL_DEFAULTS } from '../src/cli/install/options.js';
import { installManifests } from '../src/cli/install/render.js';
import { testInstallOptions } from '../src/cli/install/test-options.js';

type Labels = Record<string, string>;
type Port = { protocol?: string; port: number; endPort?: number };
type Peer = {
  podSelector?: { matchLabels?: Labels };
  namespaceSelector?: object;
  ipBlock?: { cidr: string };
};
interface Policy {
  kind: string;
  metadata: { name: string; namespace: string };
  spec: {
    podSelector: { matchLabels: Labels };
    policyTypes: string[];
    ingress: { from?: Peer[]; ports: Port[] }[];
  };
}
interface Deployment {
  kind: string;
  metadata: { name: string; namespace: string };
  spec: {
    template: {
      metadata: { labels: Labels };
      spec: { containers: { ports?: { containerPort: number }[] }[] };
    };
  };
}

const policies = parseAllDocuments(readFileSync('examples/network-policy/isthmus-system.yaml', 'utf8')).map(
  (d) => d.toJSON() as Policy,
);
const deployments = (installManifests(testInstallOptions()) as Deployment[]).filter(
  (o) => o.kind === 'Deployment',
);

const selects = (selector: Labels, labels: Labels) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);
const selected = (selector: Labels) =>
  deployments.filter((d) => selects(selector, d.spec.template.metadata.labels));
const allows = (ports: Port[], port: number) =>
  ports.some((p) => (p.protocol ?? 'TCP') === 'TCP' && port >= p.port && port <= (p.endPort ?? p.port));

describe('examples/network-policy/isthmus-system.yaml', () => {
  it('has one ingress policy per component the install runs, in its namespace', () => {
    expect(policies.map((p) => p.kind)).toEqual(['NetworkPolicy', 'NetworkPolicy', 'NetworkPolicy']);
    expect(policies.map((p) => selected(p.spec.podSelector.matchLabels).map((d) => d.metadata.name))).toEqual(
      [['isthmus-gateway'], ['isthmus-identity'], ['isthmus-controller']],
    );
    for (const p of policies) {
      expect(p.metadata.namespace).toBe(INSTALL_DEFAULTS.namespace);
      expect(p.spec.policyTypes).toEqual(['Ingress']);
    }
  });

  it('lets in every port the selected pods serve, and the whole default egress range', () => {
    for (const p of policies) {
      const ports = p.spec.ingress.flatMap((rule) => rule.ports);
      for (const d of selected(p.spec.podSelector.matchLabels))
        for (const c of d.spec.template.spec.containers)
          for (const { containerPort } of c.ports ?? [])
            expect(allows(ports, containerPort), `${p.metadata.name} ${containerPort}`).toBe(true);
    }
    const gateway = policies.find((p) => p.metadata.name === 'isthmus-gateway')!;
    const { first, last } = INSTALL_DEFAULTS.egressPortRange;
    const egress = gateway.spec.ingress.find((r) => allows(r.ports, first))!;
    expect(egress.ports).toEqual([{ protocol: 'TCP', port: first, endPort: last }]);
  });

  it('names in `from` only pods the install runs: the controller for the gateway admin port, the gateway for identity', () => {
    const peers = (name: string, port: number) =>
      policies
        .find((p) => p.metadata.name === name)!
        .spec.ingress.filter((r) => allows(r.ports, port))
        .flatMap((r) => r.from ?? [])
        .filter((f) => f.podSelector)
        .map((f) => selected(f.podSelector!.matchLabels ?? {}).map((d) => d.metadata.name));
    expect(peers('isthmus-gateway', 4191)).toEqual([['isthmus-controller']]);
    expect(peers('isthmus-identity', 8080)).toEqual([['isthmus-gateway']]);
  });
});
