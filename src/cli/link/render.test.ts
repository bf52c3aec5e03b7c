import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { isIsthmusError } from '../../errors.js';
import { loadKubeconfigSecret } from '../../kube/kubeconfig.js';
import type { V1Service } from '../../kube/types.js';
import {
  checkRemoteClusterName,
  clusterTlsOf,
  gatewayAddressesOf,
  gatewayPortOf,
  linkManifests,
  type RemoteFacts,
  renderLink,
  tokenOf,
} from './render.js';

const facts: RemoteFacts = {
  clusterName: 'west',
  trustDomain: 'cluster.local',
  clusterDomain: 'cluster.local',
  apiServer: 'https://203.0.113.10:6443',
  caData: Buffer.from('-----BEGIN CERTIFICATE-----\nRklYVFVSRQ==\n-----END CERTIFICATE-----\n').toString(
    'base64',
  ),
  token: 'remote-read-only-token',
  serviceAccount: 'east-reader',
  gateway: { addresses: ['198.51.100.7'], port: 4143 },
};

describe('isthmus link', () => {
  it('renders the golden Secret and Link', async () => {
    await expect(renderLink(facts)).toMatchFileSnapshot('testdata/link-west.golden.yaml');
  });

  it('records on the Link the remote account its token is of, which outlives the Secret', () => {
    const [, link] = linkManifests(facts);
    expect(link.metadata?.annotations).toEqual({ 'isthmus.dev/remote-service-account': 'east-reader' });
    const { serviceAccount: _none, ...unrecorded } = facts;
    expect(linkManifests(unrecorded)[1].metadata).not.toHaveProperty('annotations');
  });

  it('without a gateway: no gateway address, port, identity or probe in the Link', () => {
    const { gateway: _gw, ...gatewayless } = facts;
    const [, link] = linkManifests(gatewayless);
    expect(Object.keys(link.spec).sort()).toEqual([
      'clusterCredentialsSecret',
      'targetClusterDomain',
      'targetClusterName',
    ]);
  });

  it('puts a kubeconfig holding only the read-only token into the Secret', () => {
    const [secret, link] = linkManifests(facts);
    const kubeconfig = parse(Buffer.from(secret.data!.kubeconfig!, 'base64').toString()) as {
      users: { user: { token: string } }[];
      clusters: { cluster: { server: string } }[];
    };
    expect(kubeconfig.users[0]!.user).toEqual({ token: 'remote-read-only-token' });
    expect(kubeconfig.clusters[0]!.cluster.server).toBe('https://203.0.113.10:6443');
    expect(secret.type).toBe('mirror.linkerd.io/remote-kubeconfig');
    expect(link.spec.clusterCredentialsSecret).toBe(secret.metadata!.name);
    expect(link.spec.gatewayIdentity).toBe('spiffe://cluster.local/cluster/west/gateway');
    // The Link last: the controller must be able to read its Secret when it first sees it.
    expect(parseAllDocuments(renderLink(facts)).map((d) => d.get('kind'))).toEqual([
      'Secret',
      'Role',
      'RoleBinding',
      'Link',
    ]);
  });

  type Rbac = {
    metadata: { name: string };
    rules: unknown[];
    roleRef: { name: string };
    subjects: unknown[];
  };
  it("grants the controller that one Secret by name, as Linkerd's per-Link service mirror Role does", () => {
    const [, , role, binding] = linkManifests(facts) as unknown as [unknown, unknown, Rbac, Rbac];
    expect(role.metadata).toMatchObject({
      name: 'isthmus-controller-credentials-west',
      namespace: 'isthmus-system',
    });
    expect(role.rules).toEqual([
      {
        apiGroups: [''],
        resources: ['secrets'],
        verbs: ['get', 'list', 'watch'],
        resourceNames: ['cluster-credentials-west'],
      },
    ]);
    expect(binding.roleRef.name).toBe(role.metadata.name);
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'isthmus-controller', namespace: 'isthmus-system' },
    ]);
  });

  it.each<[string, V1Service | undefined, RegExp]>([
    ['no gateway Service', undefined, /has no Service isthmus-system\/isthmus-gateway/],
    [
      'no LoadBalancer address yet',
      { spec: { ports: [{ port: 4143 }] }, status: {} },
      /no LoadBalancer address yet/,
    ],
    [
      'a ClusterIP gateway (--gateway-service-type ClusterIP)',
      { spec: { type: 'ClusterIP', ports: [{ port: 4143 }] }, status: {} },
      /is ClusterIP .* no other cluster can reach it: link with --no-gateway/,
    ],
    [
      // Not "wait for the load balancer": none will ever come.
      'a NodePort gateway (--gateway-service-type NodePort)',
      { spec: { type: 'NodePort', ports: [{ name: 'ingress', port: 4143, nodePort: 31443 }] }, status: {} },
      /is NodePort .* pass --gateway-addresses with addresses of its nodes/,
    ],
  ])('fails clearly when the remote has %s', (_, svc, message) => {
    expect(() => gatewayAddressesOf(svc, 'west')).toThrow(message);
  });

  it('takes LoadBalancer IPs and hostnames', () => {
    const svc: V1Service = {
      spec: { ports: [{ name: 'ingress', port: 4143 }] },
      status: { loadBalancer: { ingress: [{ ip: '198.51.100.7' }, { hostname: 'gw.west.example' }] } },
    };
    expect(gatewayAddressesOf(svc, 'west')).toEqual({
      addresses: ['198.51.100.7', 'gw.west.example'],
      port: 4143,
    });
  });

  it('dials a NodePort gateway at its nodePort, a load balancer at the ingress port', () => {
    const ports = [{ name: 'ingress', port: 4143, nodePort: 31443 }];
    expect(gatewayPortOf({ spec: { type: 'NodePort', ports } })).toBe(31443);
    expect(gatewayPortOf({ spec: { type: 'LoadBalancer', ports } })).toBe(4143);
    expect(gatewayPortOf(undefined)).toBe(4143);
  });

  it('fails clearly when the remote-access token is missing', () => {
    let caught: unknown;
    try {
      tokenOf({ metadata: { name: 'isthmus-remote-access-token' } }, 'west');
    } catch (err) {
      caught = err;
    }
    expect(isIsthmusError(caught, 'LINK_INVALID')).toBe(true);
    expect(String(caught)).toMatch(/no token in isthmus-system\/isthmus-remote-access-token/);
  });

  it('adds what the flags set to the Link, keeping the probe defaults it does not override', () => {
    const [, link] = linkManifests({
      ...facts,
      options: {
        selector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['web'] }] },
        excludedLabels: ['team/*'],
        mirrorHeadless: true,
        probe: { period: '10s' },
      },
    });
    expect(link.spec).toMatchObject({
      selector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['web'] }] },
      excludedLabels: ['team/*'],
      mirrorHeadless: true,
      probeSpec: { path: '/ready', period: '10s', timeout: '2s', failureThreshold: 3 },
    });
  });

  it('refuses to print a Link the controller would mark invalid', () => {
    expect(() =>
      linkManifests({
        ...facts,
        options: { selector: { matchExpressions: [{ key: 'app', operator: 'In', values: [] }] } },
      }),
    ).toThrow(/the Link would be invalid: selector operator In on app needs values/);
  });

  it("keeps the remote context's tls-server-name and insecure-skip-tls-verify, which the controller needs to connect", () => {
    const loaded = (tls: ReturnType<typeof clusterTlsOf>) => {
      const { caData: _ca, ...noCa } = facts;
      const [secret] = linkManifests({ ...noCa, ...tls });
      return loadKubeconfigSecret(secret).getCurrentCluster();
    };
    const named = loaded(clusterTlsOf({ caData: facts.caData!, tlsServerName: 'api.west.internal' }));
    expect(named).toMatchObject({
      caData: facts.caData,
      tlsServerName: 'api.west.internal',
      skipTLSVerify: false,
    });
    expect(loaded(clusterTlsOf({ skipTLSVerify: true }))).toMatchObject({ skipTLSVerify: true });
    // A CA wins: kubectl refuses a CA together with insecure-skip-tls-verify.
    expect(loaded(clusterTlsOf({ caData: facts.caData!, skipTLSVerify: true }))).toMatchObject({
      caData: facts.caData,
      skipTLSVerify: false,
    });
  });
});

describe('isthmus link --cluster-name against the name the remote was installed with', () => {
  const ns = (labels?: Record<string, string>) => ({
    metadata: { name: 'isthmus-system', ...(labels ? { labels } : {}) },
  });

  it('refuses a name the remote install does not have: the mark of a wrong --context', () => {
    let err: unknown;
    try {
      checkRemoteClusterName(ns({ 'isthmus.dev/cluster-name': 'east' }), 'east', 'west');
    } catch (e) {
      err = e;
    }
    expect(isIsthmusError(err, 'LINK_INVALID')).toBe(true);
    expect(String(err)).toContain(
      'the cluster behind context "east" is installed as "east" (label isthmus.dev/cluster-name on namespace isthmus-system), not "west": was --context wrong?',
    );
  });

  it('accepts the same name, and an install that predates the label or a namespace not there', () => {
    expect(
      checkRemoteClusterName(ns({ 'isthmus.dev/cluster-name': 'west' }), 'west', 'west'),
    ).toBeUndefined();
    expect(checkRemoteClusterName(ns(), 'west', 'west')).toBeUndefined();
    expect(checkRemoteClusterName(undefined, 'west', 'west')).toBeUndefined();
  });

  it('only notes that it could not check when the namespace may not be read', () => {
    expect(checkRemoteClusterName('forbidden', 'prod-west', 'west')).toMatch(
      /^could not read namespace isthmus-system behind context "prod-west" \(forbidden\), so --cluster-name west was not checked against the name the remote was installed with/,
    );
  });
});
