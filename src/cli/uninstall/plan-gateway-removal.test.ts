import { describe, expect, it } from 'vitest';
import type { KubeObject, Link } from '../../kube/types.js';
import { planGatewayRemoval } from './plan-gateway-removal.js';
import type { UninstallFacts } from './plan-uninstall.js';

const obj = (
  kind: string,
  name: string,
  namespace?: string,
  extra: KubeObject['metadata'] = {},
): KubeObject => ({
  apiVersion: kind === 'Deployment' ? 'apps/v1' : 'v1',
  kind,
  metadata: { name, ...(namespace ? { namespace } : {}), uid: 'u', ...extra },
});
const ns = (labels: Record<string, string>) => obj('Namespace', 'isthmus-system', undefined, { labels });
const link = (cluster: string, gatewayAddress?: string) =>
  ({
    metadata: { name: cluster, namespace: 'isthmus-system' },
    spec: {
      targetClusterName: cluster,
      clusterCredentialsSecret: 'c',
      ...(gatewayAddress ? { gatewayAddress } : {}),
    },
  }) as Link;

/** An install that had a gateway, re-applied with --no-gateway (the namespace says so). */
function facts(over: Partial<UninstallFacts> = {}): UninstallFacts {
  return {
    links: [link('west')],
    trafficSplits: [],
    installed: [
      ns({ 'isthmus.dev/gateway': 'false' }),
      obj('Deployment', 'isthmus-controller', 'isthmus-system'),
      obj('Deployment', 'isthmus-gateway', 'isthmus-system'),
      obj('Deployment', 'isthmus-identity', 'isthmus-system'),
      obj('Service', 'isthmus-gateway-admin', 'isthmus-system'),
      obj('ConfigMap', 'isthmus-trust-anchor', 'isthmus-system'),
      obj('Secret', 'isthmus-issuer', 'isthmus-system'),
      obj('Secret', 'isthmus-remote-access-token', 'isthmus-system'),
      obj('ServiceAccount', 'isthmus-gateway', 'isthmus-system'),
      obj('ServiceAccount', 'isthmus-controller', 'isthmus-system'),
    ],
    leftovers: [obj('Service', 'db-west', 'shop')],
    mirrorNamespaces: [],
    ...over,
  };
}

describe('planGatewayRemoval (isthmus uninstall --gateway)', () => {
  it('lists the gateway and identity objects alone, workloads first, and warns about the peers', () => {
    const plan = planGatewayRemoval(facts());
    expect(plan.ok && plan.objects.map((o) => `${o.kind}/${o.metadata?.name}`)).toEqual([
      'Deployment/isthmus-gateway',
      'Deployment/isthmus-identity',
      'Service/isthmus-gateway-admin',
      'ConfigMap/isthmus-trust-anchor',
      'Secret/isthmus-issuer',
      'ServiceAccount/isthmus-gateway',
    ]);
    expect(plan.ok && plan.notes.join()).toMatch(
      /clusters linked to this one through its gateway lose their tunnels/,
    );
  });

  it('refuses before the install is --no-gateway, while a Link has a gateway, and while mirrors use egress ports', () => {
    const plan = planGatewayRemoval(
      facts({
        installed: [ns({})],
        links: [link('west'), link('north', '198.51.100.7')],
        leftovers: [
          obj('Service', 'web-north', 'shop', { annotations: { 'isthmus.dev/egress-ports': 'http=20000' } }),
        ],
      }),
    );
    expect(!plan.ok && plan.problems).toEqual([
      'this install still has a gateway: apply `isthmus install --no-gateway ...` first, so that the controller and isthmus check expect none',
      'Link isthmus-system/north goes through the gateway: unlink it (isthmus unlink --cluster-name north --wait), or link again with --no-gateway',
      "1 mirror(s) still send callers to the gateway's egress ports (shop/web-north): wait for the controller to remove them",
    ]);
  });
});
