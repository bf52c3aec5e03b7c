import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { V1Service } from '../../kube/types.js';
import { validateService } from '../../kube/validation/service.js';
import { buildDirectSlice } from '../../mirror/mirror-objects.js';
import { decodeBuiltinFields } from '../../sandbox/builtin-fields.js';
import type { IPFamily } from '../../sandbox/ip-allocator.js';
import { ruleAllows } from '../../sandbox/rbac.js';
import { initIPFamilies } from '../../sandbox/service-ip-families.js';
import { validateBuiltin } from '../../sandbox/validation.js';
import { registerCommands } from '../commands/index.js';
import { installOptionsFromFlags, issuerFiles } from '../commands/install.js';
import { GRANTS } from './rbac.js';
import { installManifests, renderInstall } from './render.js';
import { NO_GATEWAY_FLAGS, PEM, TEST_FLAGS, testInstallOptions } from './test-options.js';

type KubeDoc = { apiVersion: string; kind: string; metadata: { name: string } };

const flags = TEST_FLAGS;
const opts = testInstallOptions();

describe('isthmus install', () => {
  it('renders the golden manifests', async () => {
    await expect(renderInstall(opts)).toMatchFileSnapshot('testdata/install-east.golden.yaml');
  });

  it('records its flags and every object it renders, itself included, for isthmus upgrade', () => {
    const docs = installManifests({
      ...opts,
      recordedFlags: { 'cluster-name': 'east', ha: true },
    }) as (KubeDoc & {
      metadata: { namespace?: string };
      data?: Record<string, string>;
    })[];
    const record = docs.at(-1)!;
    expect(record).toMatchObject({
      kind: 'ConfigMap',
      metadata: { name: 'isthmus-config', namespace: 'isthmus-system' },
    });
    expect(record.data?.flags).toBe('cluster-name: east\nha: true\n');
    expect(record.data?.objects).toBe(
      `${docs.map((d) => `${d.apiVersion} ${d.kind} ${d.metadata.namespace ? `${d.metadata.namespace}/` : ''}${d.metadata.name}`).join('\n')}\n`,
    );
    expect(record.data?.objects).toContain('v1 ConfigMap isthmus-system/isthmus-config\n');
    expect(installManifests(opts).some((d) => (d as KubeDoc).metadata.name === 'isthmus-config')).toBe(false);
  });

  it('renders valid YAML documents, each with apiVersion, kind and a name', () => {
    const docs = parseAllDocuments(renderInstall(opts));
    expect(docs.every((d) => d.errors.length === 0)).toBe(true);
    for (const d of docs) {
      const o = d.toJS() as { apiVersion?: string; kind?: string; metadata?: { name?: string } };
      expect(o.apiVersion && o.kind && o.metadata?.name, JSON.stringify(o).slice(0, 80)).toBeTruthy();
    }
  });

  it('renders only fields the API server knows, of the right types, in objects it accepts', () => {
    // kubectl apply asks for strict field validation: a misplaced field is a 400, not a silent drop.
    for (const o of installManifests({ ...opts, gatewayReplicas: 2, identityReplicas: 2 }) as KubeDoc[]) {
      const gvk = `${o.apiVersion}/${o.kind}`;
      const copy = structuredClone(o) as Record<string, unknown>;
      expect(decodeBuiltinFields(gvk, o.kind, copy, true), `${o.kind}/${o.metadata.name}`).toEqual([]);
      expect(
        validateBuiltin(gvk, o, undefined, { allowLoopbackEndpoints: false }),
        `${o.kind}/${o.metadata.name}`,
      ).toEqual([]);
    }
  });

  it('--gateway-service-type ClusterIP: a gateway Service the API server accepts, reachable in-cluster only', () => {
    const clusterIP = installOptionsFromFlags(
      { ...flags, gatewayServiceType: 'ClusterIP' },
      PEM('CERTIFICATE'),
      {
        certPem: PEM('CERTIFICATE'),
        keyPem: PEM('PRIVATE KEY'),
      },
    );
    const svc = (installManifests(clusterIP) as V1Service[]).find(
      (o) => o.kind === 'Service' && o.metadata?.name === 'isthmus-gateway',
    );
    expect(svc?.spec?.type).toBe('ClusterIP');
    expect(svc?.spec?.ports?.[0]).not.toHaveProperty('nodePort');
    expect(validateService(svc, undefined)).toEqual([]);
  });

  it("renders the gateway's admin Service dual-stack where the cluster is: its slices name every gateway pod's every address, which the ingress refuses", () => {
    // The ingress refuses the addresses of its own cluster's gateway pods as the slices of the
    // gateway Services list them (watch-exports.ts): a SingleStack Service gets slices of its one
    // family only, and an --ha replica's other family would be dialled (security review).
    const svc = (installManifests({ ...opts, gatewayReplicas: 2 }) as V1Service[]).find(
      (o) => o.kind === 'Service' && o.metadata?.name === 'isthmus-gateway-admin',
    )!;
    expect(svc.spec?.ipFamilyPolicy).toBe('PreferDualStack');
    // As kube-apiserver settles it: one family on a single-stack cluster, both on a dual-stack one,
    // and an installed SingleStack Service is upgraded in place by isthmus upgrade.
    const settle = (configured: IPFamily[], old?: Record<string, unknown>) => {
      // An apply keeps what the API server allocated and the manifest leaves out.
      const spec = { ...old, ...structuredClone(svc.spec) } as Record<string, unknown>;
      return { causes: initIPFamilies(spec, old, configured), families: spec.ipFamilies };
    };
    expect(settle(['IPv4'])).toEqual({ causes: [], families: ['IPv4'] });
    expect(settle(['IPv6'])).toEqual({ causes: [], families: ['IPv6'] });
    expect(settle(['IPv4', 'IPv6'])).toEqual({ causes: [], families: ['IPv4', 'IPv6'] });
    const installed = {
      ipFamilyPolicy: 'SingleStack',
      ipFamilies: ['IPv4'],
      clusterIP: '10.96.0.50',
      clusterIPs: ['10.96.0.50'],
    };
    expect(settle(['IPv4', 'IPv6'], installed)).toEqual({ causes: [], families: ['IPv4', 'IPv6'] });
    expect(validateService(svc, undefined)).toEqual([]);
  });

  describe('--no-gateway (a flat pod network)', () => {
    const bare = NO_GATEWAY_FLAGS;
    type Obj = { kind: string; metadata: { name: string; labels?: Record<string, string> } };
    const flat = installOptionsFromFlags(bare, undefined, undefined);

    it('renders the golden manifests: the controller alone, no certificates', async () => {
      await expect(renderInstall(flat)).toMatchFileSnapshot('testdata/install-west-no-gateway.golden.yaml');
    });

    it('leaves out the gateway, the identity service, their accounts and every certificate', () => {
      const names = (installManifests(flat) as Obj[]).map((o) => `${o.kind}/${o.metadata.name}`);
      expect(names.filter((n) => /gateway|identity|trust-anchor|issuer/.test(n))).toEqual([]);
      expect(names).toEqual(
        expect.arrayContaining([
          'Namespace/isthmus-system',
          'ServiceAccount/isthmus-controller',
          'ServiceAccount/isthmus-remote-access',
          'Secret/isthmus-remote-access-token',
          'Deployment/isthmus-controller',
        ]),
      );
      const ns = (installManifests(flat) as Obj[]).find((o) => o.kind === 'Namespace');
      expect(ns?.metadata.labels).toMatchObject({ 'isthmus.dev/gateway': 'false' });
      expect(renderInstall(flat)).toMatch(/- --no-gateway\n/);
      expect(renderInstall(opts)).not.toMatch(/no-gateway|isthmus\.dev\/gateway/);
    });

    it.each([
      [{ trustAnchor: 'ca.crt' }, '--trust-anchor'],
      [{ issuerCert: 'i.crt', issuerKey: 'i.key' }, '--issuer-cert, --issuer-key'],
      [{ externalIssuer: true }, '--external-issuer'],
      [{ gatewayReplicas: '2' }, '--gateway-replicas'],
      [{ gatewayServiceType: 'NodePort' }, '--gateway-service-type'],
      [{ gatewayServiceAnnotation: ['a=b'] }, '--gateway-service-annotation'],
      [{ gatewayNodePort: '30443' }, '--gateway-node-port'],
      [{ egressPortRange: '20000-20999' }, '--egress-port-range'],
    ])('refuses %o, which would do nothing without a gateway', (extra, named) => {
      expect(() => installOptionsFromFlags({ ...bare, ...extra }, undefined, undefined)).toThrow(
        `--no-gateway installs no gateway and no identity service, so it takes no ${named}`,
      );
    });
  });

  it('gives the remote-access identity read-only rights and nothing on secrets', () => {
    const role = installManifests(opts).find(
      (o) =>
        (o as { kind: string; metadata: { name: string } }).kind === 'ClusterRole' &&
        (o as { metadata: { name: string } }).metadata.name === 'isthmus-remote-access',
    ) as { rules: { resources: string[]; verbs: string[] }[] };
    const verbs = new Set(role.rules.flatMap((r) => r.verbs));
    expect([...verbs].sort()).toEqual(['get', 'list', 'watch']);
    expect(role.rules.flatMap((r) => r.resources)).not.toContain('secrets');
  });

  it('lets the gateway read Links in its own namespace only: it watches no other', () => {
    type Role = {
      kind: string;
      metadata: { name: string; namespace?: string };
      rules: { resources: string[] }[];
    };
    const roles = installManifests(opts).filter(
      (o) =>
        ['ClusterRole', 'Role'].includes((o as Role).kind) && (o as Role).metadata.name === 'isthmus-gateway',
    ) as Role[];
    const clusterWide = roles.filter((r) => r.kind === 'ClusterRole').flatMap((r) => r.rules);
    expect(clusterWide.flatMap((r) => r.resources).sort()).toEqual(['endpointslices', 'services']);
    const namespaced = roles.filter((r) => r.kind === 'Role');
    expect(namespaced.map((r) => r.metadata.namespace)).toEqual(['isthmus-system']);
    expect(namespaced.flatMap((r) => r.rules.flatMap((rule) => rule.resources))).toEqual(['links']);
  });

  it('lets the controller set blockOwnerDeletion on the mirror slices it writes', () => {
    // With OwnerReferencesPermissionEnforcement (OpenShift, hardened clusters) the API server
    // refuses an ownerReference with blockOwnerDeletion unless the writer may update the owner's
    // finalizers, as kube-controller-manager's endpointslice-controller role may.
    const slice = buildDirectSlice(
      { metadata: { name: 'web-west', namespace: 'app' } },
      'west',
      { addressType: 'IPv4', endpoints: [], ports: [] },
      'uid-1',
    );
    const blocking = (slice.metadata?.ownerReferences ?? []).filter((r) => r.blockOwnerDeletion);
    expect(blocking.map((r) => r.kind)).toEqual(['Service']);
    const rules = GRANTS.filter((g) => g.serviceAccount === 'isthmus-controller').flatMap((g) => g.rules);
    const may = (resource: string, subresource?: string) =>
      rules.some((rule) =>
        ruleAllows(rule, {
          verb: 'update',
          group: '',
          resource,
          subresource,
          namespace: 'app',
          name: 'web-west',
        }),
      );
    expect(may('services', 'finalizers')).toBe(true);
  });

  it('grants the controller nothing it never uses', () => {
    const rules = GRANTS.filter((g) => g.serviceAccount === 'isthmus-controller').flatMap((g) => g.rules);
    const resources = rules.flatMap((r) => r.resources);
    // The Link finalizer is metadata, written through links; links/finalizers would only matter
    // for an ownerReference with blockOwnerDeletion pointing at a Link, and nothing has one.
    expect(resources).toContain('links');
    expect(resources).not.toContain('links/finalizers');
    // The EventRecorder writes core/v1 Events; events.k8s.io is another API it never calls.
    expect(rules.filter((r) => r.resources.includes('events')).map((r) => r.apiGroups)).toEqual([['']]);
    // The leader elector reads, creates and replaces its one Lease by name: no list, no watch.
    expect(rules.filter((r) => r.resources.includes('leases')).map((r) => r.verbs)).toEqual([
      ['get', 'create', 'update'],
    ]);
  });

  it('gives every probe time for a busy Node process, and identity a liveness probe that spares a slow signer', () => {
    type Probe = {
      grpc?: { port: number };
      timeoutSeconds?: number;
      periodSeconds?: number;
      failureThreshold?: number;
    };
    type Dep = {
      kind: string;
      metadata: { name: string };
      spec: {
        template: {
          spec: {
            containers: {
              args: string[];
              ports: { name: string; containerPort: number }[];
              livenessProbe?: Probe;
              readinessProbe?: Probe;
            }[];
          };
        };
      };
    };
    const containers = Object.fromEntries(
      (installManifests(opts) as Dep[])
        .filter((o) => o.kind === 'Deployment')
        .map((d) => [d.metadata.name, d.spec.template.spec.containers[0]!]),
    );
    // The kubelet's gRPC probes speak no TLS: they ask the plaintext health port, not Certify (:8080).
    const identity = containers['isthmus-identity']!;
    expect(identity.livenessProbe).toEqual({
      grpc: { port: 9990 },
      periodSeconds: 20,
      timeoutSeconds: 5,
      failureThreshold: 6,
    });
    expect(identity.readinessProbe?.grpc).toEqual({ port: 9990 });
    expect(identity.ports).toEqual([
      { name: 'grpc', containerPort: 8080 },
      { name: 'health', containerPort: 9990 },
      { name: 'admin', containerPort: 9991 },
    ]);
    expect(identity.args).toEqual(
      expect.arrayContaining([
        '--listen=:8080',
        '--health-listen=:9990',
        '--admin-listen=:9991',
        '--service-name=isthmus-identity',
        '--service-namespace=isthmus-system',
        '--cluster-domain=cluster.local',
      ]),
    );
    for (const [name, c] of Object.entries(containers)) {
      expect([c.livenessProbe?.timeoutSeconds, c.readinessProbe?.timeoutSeconds], name).toEqual(
        name === 'isthmus-identity' ? [5, 3] : [5, 2],
      );
    }
  });

  // A Prometheus that discovers pods by annotation, or a PodMonitor on the port named `admin`
  // (README), scrapes every component as installed: identity too, on a port of its own.
  it("exposes every component's /metrics the same way: a container port named admin, which the prometheus.io annotations name", () => {
    type Dep = {
      kind: string;
      metadata: { name: string };
      spec: {
        template: {
          metadata: { annotations?: Record<string, string> };
          spec: { containers: { ports: { name: string; containerPort: number }[] }[] };
        };
      };
    };
    const targets = Object.fromEntries(
      (installManifests(opts) as Dep[])
        .filter((o) => o.kind === 'Deployment')
        .map((d) => {
          const admin = d.spec.template.spec.containers[0]!.ports.find((p) => p.name === 'admin');
          return [
            d.metadata.name,
            { port: admin?.containerPort, annotations: d.spec.template.metadata.annotations },
          ];
        }),
    );
    const scraped = (port: number) => ({
      port,
      annotations: {
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': String(port),
        'prometheus.io/path': '/metrics',
      },
    });
    expect(targets).toEqual({
      'isthmus-identity': scraped(9991),
      'isthmus-gateway': scraped(4191),
      'isthmus-controller': scraped(4191),
    });
  });

  it('renders no issuer Secret with --external-issuer, and refuses a mix of both ways', () => {
    type Obj = { kind: string; metadata: { name: string } };
    const external = installManifests(
      installOptionsFromFlags({ ...flags, externalIssuer: true }, PEM('CERTIFICATE'), undefined),
    ) as Obj[];
    const names = (objs: Obj[]) => objs.map((o) => `${o.kind}/${o.metadata.name}`);
    expect(names(installManifests(opts) as Obj[])).toContain('Secret/isthmus-issuer');
    // Everything else stays, the identity Deployment still mounting isthmus-issuer.
    expect(names(external)).toEqual(
      names(installManifests(opts) as Obj[]).filter((n) => n !== 'Secret/isthmus-issuer'),
    );
    const { issuerCert: _c, issuerKey: _k, ...bare } = flags;
    expect(issuerFiles({ ...bare, externalIssuer: true })).toBeUndefined();
    expect(issuerFiles(flags)).toEqual({ certFile: 'issuer.crt', keyFile: 'issuer.key' });
    expect(() => issuerFiles({ ...flags, externalIssuer: true })).toThrow(
      /--external-issuer takes no --issuer-cert or --issuer-key/,
    );
    expect(() => issuerFiles(bare)).toThrow(
      /--issuer-cert and --issuer-key are required, or --external-issuer/,
    );
  });

  it('grants the controller namespace creation only with --enable-namespace-creation', () => {
    type Obj = { kind: string; metadata: { name: string }; rules?: unknown; subjects?: unknown };
    const grantOf = (objs: object[]) =>
      (objs as Obj[])
        .filter((o) => o.metadata.name === 'isthmus-controller-namespace-creation')
        .map((o) => [o.kind, o.rules ?? o.subjects]);
    const withIt = installManifests({ ...opts, enableNamespaceCreation: true });
    expect(grantOf(withIt)).toEqual([
      ['ClusterRole', [{ apiGroups: [''], resources: ['namespaces'], verbs: ['create'] }]],
      [
        'ClusterRoleBinding',
        [{ kind: 'ServiceAccount', name: 'isthmus-controller', namespace: 'isthmus-system' }],
      ],
    ]);
    expect(grantOf(installManifests(opts))).toEqual([]);
    // One service account, however many roles it is bound to.
    expect((withIt as Obj[]).filter((o) => o.kind === 'ServiceAccount').length).toBe(
      (installManifests(opts) as Obj[]).filter((o) => o.kind === 'ServiceAccount').length,
    );
  });

  it('budgets disruptions and spreads replicas only where there are two or more', () => {
    type Obj = { kind: string; metadata: { name: string }; spec: Record<string, unknown> };
    const render = (gatewayReplicas: string, controllerReplicas: string) =>
      installManifests(
        installOptionsFromFlags({ ...flags, gatewayReplicas, controllerReplicas }, PEM('CERTIFICATE'), {
          certPem: PEM('CERTIFICATE'),
          keyPem: PEM('PRIVATE KEY'),
        }),
      ) as Obj[];
    const budgets = (objs: Obj[]) =>
      objs.filter((o) => o.kind === 'PodDisruptionBudget').map((o) => [o.metadata.name, o.spec]);
    const spread = (objs: Obj[], name: string) => {
      const dep = objs.find((o) => o.kind === 'Deployment' && o.metadata.name === name)!;
      return (dep.spec.template as { spec: { topologySpreadConstraints?: unknown[] } }).spec
        .topologySpreadConstraints;
    };
    const ha = render('3', '2');
    const selector = (c: string) => ({ matchLabels: { 'app.kubernetes.io/name': `isthmus-${c}` } });
    // A pod that is running but not ready (a crash loop, no certificate yet) may always be evicted:
    // otherwise a component whose pods are all unready blocks every node drain.
    const budget = (c: string) => ({
      maxUnavailable: 1,
      selector: selector(c),
      unhealthyPodEvictionPolicy: 'AlwaysAllow',
    });
    expect(budgets(ha)).toEqual([
      ['isthmus-gateway', budget('gateway')],
      ['isthmus-controller', budget('controller')],
    ]);
    // Zones too: a pod with constraints of its own loses the scheduler's default zone spreading.
    expect(spread(ha, 'isthmus-gateway')).toEqual(
      ['topology.kubernetes.io/zone', 'kubernetes.io/hostname'].map((topologyKey) => ({
        maxSkew: 1,
        topologyKey,
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: selector('gateway'),
      })),
    );
    // A budget over a single replica would block every node drain: none is rendered.
    const single = render('1', '1');
    expect(budgets(single)).toEqual([]);
    expect(spread(single, 'isthmus-gateway')).toBeUndefined();
  });

  it('schedules every part on Linux nodes only: the image has no Windows variant', () => {
    type Obj = { kind: string; metadata: { name: string }; spec: { template?: { spec: object } } };
    const templates = (installManifests(opts) as Obj[]).filter((o) => o.spec?.template);
    expect(templates.map((o) => o.metadata.name)).toEqual([
      'isthmus-identity',
      'isthmus-gateway',
      'isthmus-controller',
    ]);
    for (const o of templates) {
      expect(o.spec.template!.spec, o.metadata.name).toMatchObject({
        nodeSelector: { 'kubernetes.io/os': 'linux' },
      });
    }
  });

  it('starts every part with flags its own verb declares, and only those it acts on', () => {
    type Deployment = {
      kind: string;
      metadata: { name: string };
      spec: { template: { spec: { containers: Array<{ args: string[] }> } } };
    };
    const program = new Command('isthmus').enablePositionalOptions();
    registerCommands(program);
    const parsed = (installManifests(opts) as Deployment[])
      .filter((o) => o.kind === 'Deployment')
      .map((d) => {
        const [verb, ...args] = d.spec.template.spec.containers[0]!.args;
        const cmd = program.commands.find((c) => c.name() === verb);
        if (!cmd) throw new Error(`${d.metadata.name} runs an unknown verb "${verb}"`);
        const given = (flag: string) => args.some((a) => a === flag || a.startsWith(`${flag}=`));
        const missing = cmd.options.filter((o) => o.mandatory && !given(o.long!)).map((o) => o.long);
        return {
          verb,
          unknown: cmd.parseOptions(args).unknown,
          missing,
          args: args.map((a) => a.split('=')[0] ?? a),
        };
      });
    expect(parsed.map((p) => [p.verb, p.unknown, p.missing])).toEqual([
      ['identity', [], []],
      ['gateway', [], []],
      ['controller', [], []],
    ]);
    // No domain flag where the verb would ignore it: the controller acts on neither.
    const domains = (verb: string) =>
      parsed.find((p) => p.verb === verb)!.args.filter((a) => a.endsWith('-domain'));
    // Identity names its Service in its serving certificate: <svc>.<ns>.svc.<cluster domain>.
    expect(domains('identity')).toEqual(['--trust-domain', '--cluster-domain']);
    expect(domains('gateway')).toEqual(['--trust-domain', '--cluster-domain']);
    expect(domains('controller')).toEqual([]);
  });

  it('--ha gives the gateway 2 replicas unless told more, and refuses fewer than 2 anywhere', () => {
    const pem = { certPem: PEM('CERTIFICATE'), keyPem: PEM('PRIVATE KEY') };
    const { gatewayReplicas: _, ...withoutGateway } = flags;
    expect(installOptionsFromFlags({ ...withoutGateway, ha: true }, PEM('CERTIFICATE'), pem)).toMatchObject({
      gatewayReplicas: 2,
      controllerReplicas: 2,
      identityReplicas: 2,
    });
    expect(installOptionsFromFlags({ ...withoutGateway }, PEM('CERTIFICATE'), pem).gatewayReplicas).toBe(1);
    expect(
      installOptionsFromFlags({ ...flags, gatewayReplicas: '3', ha: true }, PEM('CERTIFICATE'), pem)
        .gatewayReplicas,
    ).toBe(3);
    expect(() => installOptionsFromFlags({ ...flags, gatewayReplicas: '1', ha: true }, 'a', pem)).toThrow(
      /--gateway-replicas must be an integer from 2 to 100/,
    );
    expect(() => installOptionsFromFlags({ ...flags, controllerReplicas: '1', ha: true }, 'a', pem)).toThrow(
      '--controller-replicas must be an integer from 2 to 10, as --ha runs at least 2, got "1"',
    );
  });

  it.each([
    [{ clusterName: 'East_1' }, /--cluster-name "East_1" is not a DNS-1123 label/],
    [{ gatewayReplicas: 'two' }, /--gateway-replicas must be an integer/],
    [{ egressPortRange: '30000-20000' }, /--egress-port-range/],
    [
      { egressPortRange: '4000-4999' },
      /--egress-port-range 4000-4999 includes the gateway's own port 4143 and 4191/,
    ],
    [{ imagePullPolicy: 'Sometimes' }, /--image-pull-policy must be one of/],
    // What the processes could never run with: identity exits on an invalid trust domain, the
    // gateway's and controller's DNS names need a DNS domain, no TrafficSplit carries a bad label.
    [{ trustDomain: 'Example.COM' }, /--trust-domain "Example.COM" is not a SPIFFE trust domain/],
    [{ clusterDomain: 'cluster.local.' }, /--cluster-domain "cluster.local." is not a DNS name/],
    [{ clusterDomain: 'Cluster Local' }, /--cluster-domain "Cluster Local" is not a DNS name/],
    [
      { failoverControlledBy: 'linkerd failover' },
      /--failover-controlled-by "linkerd failover" is not a label value/,
    ],
    [{ gatewayServiceType: 'ExternalName' }, /--gateway-service-type must be one of/],
    [
      { gatewayServiceType: 'ClusterIP', gatewayNodePort: '30443' },
      /--gateway-node-port needs --gateway-service-type LoadBalancer or NodePort/,
    ],
  ])('rejects bad flags %o with a clear message', (bad, message) => {
    expect(() => installOptionsFromFlags({ ...flags, ...bad }, 'a', { certPem: 'b', keyPem: 'c' })).toThrow(
      message,
    );
  });
});
