/**
 * The NetworkPolicies of `isthmus install --network-policy` (and examples/network-policy, which is
 * their output for the flags its header names) stay true to what the install runs: each selects
 * the pods of one component, lets in every port those pods serve, and names in `from` only pods
 * the install runs. The sandbox enforces no NetworkPolicy (no CNI runs here), so what traffic they
 * stop is not tested; that they never stop the product's own is, and that the API server takes them.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { installOptionsFromFlags } from '../src/cli/commands/install.js';
import { networkPolicyManifests, networkPolicyNotes } from '../src/cli/install/network-policy.js';
import { INSTALL_DEFAULTS } from '../src/cli/install/options.js';
import { installManifests } from '../src/cli/install/render.js';
import { NO_GATEWAY_FLAGS, testInstallOptions } from '../src/cli/install/test-options.js';
import { validateBuiltin } from '../src/sandbox/validation.js';

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

const example = parseAllDocuments(readFileSync('examples/network-policy/isthmus-system.yaml', 'utf8')).map(
  (d) => d.toJSON() as Policy,
);
const EXAMPLE_FLAGS = {
  networkPolicy: true,
  adminAllowNamespace: ['monitoring'],
  adminAllowCidr: ['192.0.2.10/32'],
};
const policies = networkPolicyManifests(testInstallOptions(EXAMPLE_FLAGS)) as Policy[];
const deployments = (installManifests(testInstallOptions()) as Deployment[]).filter(
  (o) => o.kind === 'Deployment',
);

const selects = (selector: Labels, labels: Labels) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);
const selected = (selector: Labels) =>
  deployments.filter((d) => selects(selector, d.spec.template.metadata.labels));
const allows = (ports: Port[], port: number) =>
  ports.some((p) => (p.protocol ?? 'TCP') === 'TCP' && port >= p.port && port <= (p.endPort ?? p.port));

describe('isthmus install --network-policy', () => {
  it('renders examples/network-policy/isthmus-system.yaml for the flags its header names', () => {
    expect(policies).toEqual(example);
  });

  it('renders objects the API server accepts, only with --network-policy', () => {
    for (const p of policies) {
      expect(
        validateBuiltin('networking.k8s.io/v1/NetworkPolicy', p, undefined, {
          allowLoopbackEndpoints: false,
        }),
      ).toEqual([]);
    }
    expect(networkPolicyManifests(testInstallOptions())).toEqual([]);
    const kinds = (installManifests(testInstallOptions(EXAMPLE_FLAGS)) as { kind: string }[]).map(
      (o) => o.kind,
    );
    expect(kinds.filter((k) => k === 'NetworkPolicy')).toHaveLength(3);
  });

  it('with no admin peer named, the controller and identity admin ports admit nothing rather than everyone', () => {
    const bare = networkPolicyManifests(testInstallOptions({ networkPolicy: true })) as Policy[];
    expect(bare.find((p) => p.metadata.name === 'isthmus-controller')!.spec.ingress).toEqual([]);
    const identity = bare.find((p) => p.metadata.name === 'isthmus-identity')!;
    expect(identity.spec.ingress.filter((r) => allows(r.ports, 9991))).toEqual([]);
    const gateway = bare.find((p) => p.metadata.name === 'isthmus-gateway')!;
    expect(gateway.spec.ingress.find((r) => allows(r.ports, 4191))!.from).toEqual([
      {
        podSelector: {
          matchLabels: {
            'app.kubernetes.io/part-of': 'isthmus',
            'app.kubernetes.io/component': 'controller',
          },
        },
      },
    ]);
    expect(networkPolicyNotes({ adminNamespaces: [], adminCidrs: [], egressCidrs: [] })[0]).toMatch(
      /--network-policy without --admin-allow-cidr: `isthmus check`, `routes` and `gateways` read the admin port through the API server's pod proxy/,
    );
  });

  it('follows --egress-port-range and lets host-network callers in by --egress-allow-cidr', () => {
    const custom = networkPolicyManifests(
      testInstallOptions({
        networkPolicy: true,
        egressPortRange: '30000-30099',
        egressAllowCidr: ['10.0.0.0/16'],
      }),
    ) as Policy[];
    const gateway = custom.find((p) => p.metadata.name === 'isthmus-gateway')!;
    expect(gateway.spec.ingress[1]).toEqual({
      from: [{ namespaceSelector: {} }, { ipBlock: { cidr: '10.0.0.0/16' } }],
      ports: [{ protocol: 'TCP', port: 30000, endPort: 30099 }],
    });
  });

  it("--no-gateway: the controller's policy alone", () => {
    const flat = installOptionsFromFlags({ ...NO_GATEWAY_FLAGS, networkPolicy: true }, undefined, undefined);
    expect((networkPolicyManifests(flat) as Policy[]).map((p) => p.metadata.name)).toEqual([
      'isthmus-controller',
    ]);
  });

  it('refuses flags it cannot use, each with its reason', () => {
    const refused = (extra: Record<string, unknown>) => {
      try {
        testInstallOptions(extra);
      } catch (err) {
        return String(err);
      }
      return 'accepted';
    };
    expect(refused({ adminAllowNamespace: ['monitoring'] })).toMatch(
      /--admin-allow-namespace shape the NetworkPolicies: add --network-policy/,
    );
    expect(refused({ networkPolicy: true, adminAllowCidr: ['192.0.2.300/32'] })).toMatch(
      /--admin-allow-cidr "192.0.2.300\/32" is not a CIDR/,
    );
    expect(refused({ networkPolicy: true, adminAllowNamespace: ['Monitoring'] })).toMatch(
      /--admin-allow-namespace "Monitoring" is not a namespace name/,
    );
    expect(
      String(
        (() => {
          try {
            return installOptionsFromFlags(
              { ...NO_GATEWAY_FLAGS, networkPolicy: true, egressAllowCidr: ['10.0.0.0/8'] },
              undefined,
              undefined,
            );
          } catch (err) {
            return err;
          }
        })(),
      ),
    ).toMatch(/--no-gateway installs no gateway and no identity service, so it takes no --egress-allow-cidr/);
  });
});

describe('the policies against what the install runs', () => {
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

  it("lets the admin peers (Prometheus, the API server) reach identity's metrics port, and no pod of the install", () => {
    const identity = policies.find((p) => p.metadata.name === 'isthmus-identity')!;
    expect(identity.spec.ingress.filter((r) => allows(r.ports, 9991))).toEqual([
      {
        from: [
          { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } },
          { ipBlock: { cidr: '192.0.2.10/32' } },
        ],
        ports: [{ protocol: 'TCP', port: 9991 }],
      },
    ]);
  });

  it("lets the kubelet's probes reach identity's plaintext health port, from any address, and only that port", () => {
    const identity = policies.find((p) => p.metadata.name === 'isthmus-identity')!;
    expect(identity.spec.ingress.filter((r) => r.from === undefined)).toEqual([
      { ports: [{ protocol: 'TCP', port: 9990 }] },
    ]);
  });
});
