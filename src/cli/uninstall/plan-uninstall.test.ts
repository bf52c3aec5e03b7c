import { describe, expect, it } from 'vitest';
import type { KubeObject, Link, TrafficSplit } from '../../kube/types.js';
import { planUninstall, TRAFFIC_SPLIT_CRD, type UninstallFacts } from './plan-uninstall.js';

const obj = (kind: string, name: string, namespace?: string, apiVersion = 'v1'): KubeObject => ({
  apiVersion,
  kind,
  metadata: { name, ...(namespace ? { namespace } : {}), uid: 'u', labels: { x: 'y' } },
});
const crd = (name: string) => obj('CustomResourceDefinition', name, undefined, 'apiextensions.k8s.io/v1');

function facts(over: Partial<UninstallFacts> = {}): UninstallFacts {
  return {
    links: [],
    trafficSplits: [],
    installed: [
      obj('Namespace', 'isthmus-system'),
      crd('links.multicluster.isthmus.dev'),
      crd(TRAFFIC_SPLIT_CRD),
      obj('ClusterRole', 'isthmus-controller', undefined, 'rbac.authorization.k8s.io/v1'),
      obj('ServiceAccount', 'isthmus-controller', 'isthmus-system'),
      obj('Deployment', 'isthmus-gateway', 'isthmus-system', 'apps/v1'),
      obj('Service', 'isthmus-gateway', 'isthmus-system'),
    ],
    leftovers: [],
    mirrorNamespaces: [],
    ...over,
  };
}

const kinds = (plan: ReturnType<typeof planUninstall>) =>
  plan.ok ? plan.objects.map((o) => `${o.kind}/${o.metadata?.name}`) : plan.problems;

describe('planUninstall', () => {
  it('deletes the bindings first, workloads next and the namespace last, as bare references', () => {
    const plan = planUninstall(
      facts({
        installed: [
          ...facts().installed,
          obj('ClusterRoleBinding', 'isthmus-controller', undefined, 'rbac.authorization.k8s.io/v1'),
          obj('RoleBinding', 'isthmus-controller', 'isthmus-system', 'rbac.authorization.k8s.io/v1'),
          obj('Role', 'isthmus-controller', 'isthmus-system', 'rbac.authorization.k8s.io/v1'),
        ],
      }),
      { keepTrafficSplitCrd: false },
    );
    // kubectl delete does not wait for the pods to go: the controller runs on after its Deployment
    // is deleted, and would re-create what is deleted after it unless it has lost its rights first.
    expect(kinds(plan)).toEqual([
      'ClusterRoleBinding/isthmus-controller',
      'RoleBinding/isthmus-controller',
      'Deployment/isthmus-gateway',
      'Service/isthmus-gateway',
      'Role/isthmus-controller',
      'ClusterRole/isthmus-controller',
      'ServiceAccount/isthmus-controller',
      'CustomResourceDefinition/links.multicluster.isthmus.dev',
      `CustomResourceDefinition/${TRAFFIC_SPLIT_CRD}`,
      'Namespace/isthmus-system',
    ]);
    expect(plan.ok && plan.objects[2]).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'isthmus-gateway', namespace: 'isthmus-system' },
    });
    expect(plan.ok && plan.notes).toEqual([]);
  });

  it('refuses while a Link remains, naming the unlink command', () => {
    const link = {
      metadata: { name: 'west', namespace: 'isthmus-system' },
      spec: { targetClusterName: 'west' },
    };
    expect(kinds(planUninstall(facts({ links: [link as Link] }), { keepTrafficSplitCrd: false }))).toEqual([
      'Link isthmus-system/west remains: unlink it first (isthmus unlink --cluster-name west --wait), so that the controller removes its mirrors',
    ]);
  });

  it('refuses to delete TrafficSplits with their CRD, unless the CRD is kept', () => {
    const splits = ['a', 'b', 'c', 'd', 'e', 'f'].map(
      (n) =>
        ({ metadata: { name: n, namespace: 'test' }, spec: { service: n, backends: [] } }) as TrafficSplit,
    );
    expect(kinds(planUninstall(facts({ trafficSplits: splits }), { keepTrafficSplitCrd: false }))).toEqual([
      '6 TrafficSplit(s) (test/a, test/b, test/c, test/d, test/e and 1 more) would be deleted with the TrafficSplit CRD: delete them first, or keep the CRD with --keep-traffic-split-crd',
    ]);
    const kept = planUninstall(facts({ trafficSplits: splits }), { keepTrafficSplitCrd: true });
    expect(kinds(kept)).not.toContain(`CustomResourceDefinition/${TRAFFIC_SPLIT_CRD}`);
    expect(kept.ok && kept.notes).toEqual([`keeping the CRD ${TRAFFIC_SPLIT_CRD} and its TrafficSplits`]);
    // A TrafficSplit CRD another tool installed is not ours to delete, so its splits are no obstacle.
    const foreign = facts({ trafficSplits: splits });
    foreign.installed = foreign.installed.filter((o) => o.metadata?.name !== TRAFFIC_SPLIT_CRD);
    expect(planUninstall(foreign, { keepTrafficSplitCrd: false }).ok).toBe(true);
  });

  it('takes left-over mirrors and apex slices along, and keeps namespaces made for mirrors', () => {
    const plan = planUninstall(
      facts({
        leftovers: [
          obj('Service', 'api-west', 'shop'),
          obj('EndpointSlice', 'api-west', 'shop', 'discovery.k8s.io/v1'),
        ],
        mirrorNamespaces: ['shop'],
      }),
      { keepTrafficSplitCrd: false },
    );
    expect(kinds(plan)).toContain('EndpointSlice/api-west');
    // Before the Service that owns it: the garbage collector deletes it with its owner, and
    // `kubectl delete` of a slice already gone fails (NotFound) and exits 1.
    expect(kinds(plan).indexOf('EndpointSlice/api-west')).toBeLessThan(
      kinds(plan).indexOf('Service/api-west'),
    );
    expect(plan.ok && plan.notes).toEqual([
      'also deleting 2 mirror, failover or federation object(s) no controller owns any more',
      'keeping namespace(s) created for mirrors: shop',
    ]);
  });
});

describe('planUninstall after install --admission-policy', () => {
  it('deletes the policy binding and the policy before anything, so the left-over slices it guards can go', () => {
    const adm = 'admissionregistration.k8s.io/v1';
    const plan = planUninstall(
      facts({
        installed: [
          obj('ValidatingAdmissionPolicy', 'isthmus-managed-endpointslices', undefined, adm),
          ...facts().installed,
          obj('ClusterRoleBinding', 'isthmus-controller', undefined, 'rbac.authorization.k8s.io/v1'),
          obj('ValidatingAdmissionPolicyBinding', 'isthmus-managed-endpointslices', undefined, adm),
        ],
        leftovers: [obj('EndpointSlice', 'api-west', 'shop', 'discovery.k8s.io/v1')],
      }),
      { keepTrafficSplitCrd: false },
    );
    expect(kinds(plan).slice(0, 3)).toEqual([
      'ValidatingAdmissionPolicyBinding/isthmus-managed-endpointslices',
      'ValidatingAdmissionPolicy/isthmus-managed-endpointslices',
      'ClusterRoleBinding/isthmus-controller',
    ]);
    expect(plan.ok && plan.objects[0]).toEqual({
      apiVersion: adm,
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: 'isthmus-managed-endpointslices' },
    });
  });
});

describe('planUninstall after install --no-traffic-split-crd', () => {
  const record = (flags: string): KubeObject =>
    ({
      ...obj('ConfigMap', 'isthmus-config', 'isthmus-system'),
      data: { version: '0.1.0', flags, objects: '' },
    }) as KubeObject;

  it("keeps the CRD the record says is another chart's, even labelled ours by an earlier install", () => {
    const split = { metadata: { name: 'podinfo', namespace: 'test' } } as TrafficSplit;
    const plan = planUninstall(
      facts({
        installed: [...facts().installed, record('cluster-name: east\nno-traffic-split-crd: true\n')],
        trafficSplits: [split],
      }),
      { keepTrafficSplitCrd: false },
    );
    expect(plan.ok).toBe(true);
    expect(kinds(plan)).not.toContain(`CustomResourceDefinition/${TRAFFIC_SPLIT_CRD}`);
    expect(kinds(plan)).toContain('CustomResourceDefinition/links.multicluster.isthmus.dev');
    expect(plan.ok && plan.notes).toContain(
      `keeping the CRD ${TRAFFIC_SPLIT_CRD} and its TrafficSplits (the install was made with --no-traffic-split-crd)`,
    );
  });

  it('deletes it when the record does not have the flag, or cannot be read', () => {
    for (const flags of ['cluster-name: east\n', '{not yaml', '']) {
      const plan = planUninstall(facts({ installed: [...facts().installed, record(flags)] }), {
        keepTrafficSplitCrd: false,
      });
      expect(kinds(plan), flags).toContain(`CustomResourceDefinition/${TRAFFIC_SPLIT_CRD}`);
    }
  });
});
