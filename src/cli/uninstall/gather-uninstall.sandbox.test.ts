/** What `isthmus uninstall` reads, against a strict sandbox API server. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../kube/client.js';
import {
  CLUSTER_NAME_LABEL,
  CRL_CONFIGMAP,
  INSTALL_GATEWAY_LABEL,
  ISTHMUS_MIRROR_LABEL,
  LINKERD_GATEWAY_IDENTITY_ANNOTATION,
  LINKERD_REMOTE_DISCOVERY_ANNOTATION,
  MANAGED_BY_LABEL,
  MANAGED_BY_MIRROR,
  MIRRORED_SERVICE_LABEL,
  REMOTE_DISCOVERY_LABEL,
  REMOTE_RESOURCE_VERSION_ANNOTATION,
  REMOTE_SERVICE_LABEL,
  REMOTE_SVC_FQ_NAME_ANNOTATION,
  SERVICE_NAME_LABEL,
  SYSTEM_NAMESPACE,
} from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { V1Service } from '../../kube/types.js';
import { type Sandbox, startSandbox } from '../../sandbox/index.js';
import { PART_OF } from '../install/options.js';
import { gatherUninstallFacts } from './gather-uninstall.js';
import { planGatewayRemoval } from './plan-gateway-removal.js';
import { planUninstall } from './plan-uninstall.js';

let sandbox: Sandbox;
let client: KubeClient;

const LINKERD_WROTE = {
  [REMOTE_SVC_FQ_NAME_ANNOTATION]: 'api.shop.svc.cluster.local',
  [REMOTE_RESOURCE_VERSION_ANNOTATION]: '4711',
};

function mirror(
  name: string,
  annotations: Record<string, string> = {},
  labels: Record<string, string> = { [ISTHMUS_MIRROR_LABEL]: 'west' },
): V1Service {
  return {
    metadata: {
      name,
      namespace: 'shop',
      labels: { [MIRRORED_SERVICE_LABEL]: 'true', [CLUSTER_NAME_LABEL]: 'west', ...labels },
      annotations,
    },
    spec: { ports: [{ name: 'http', port: 80 }] },
  };
}

beforeAll(async () => {
  sandbox = await startSandbox({ name: 'east' });
  client = KubeClient.fromKubeconfigString(sandbox.kubeconfig());
  await client.create(R.namespaces, { metadata: { name: 'shop' } });
  await client.create(R.services, mirror('web-west'));
  // Linkerd's own service mirror, still linking west while the user moves to Isthmus: same labels
  // (its gateway identity is on the Endpoints), and a Linkerd 2.17 federated Service.
  await client.create(R.services, mirror('api-west', LINKERD_WROTE, {}));
  await client.create(R.endpoints, {
    metadata: {
      name: 'api-west',
      namespace: 'shop',
      labels: { [MIRRORED_SERVICE_LABEL]: 'true', [CLUSTER_NAME_LABEL]: 'west' },
      annotations: {
        [LINKERD_GATEWAY_IDENTITY_ANNOTATION]:
          'linkerd-gateway.linkerd-multicluster.serviceaccount.identity.linkerd.cluster.local',
      },
    },
  });
  await client.create(R.services, {
    metadata: {
      name: 'cart3-federated',
      namespace: 'shop',
      labels: { [MIRRORED_SERVICE_LABEL]: 'true' },
      annotations: { [LINKERD_REMOTE_DISCOVERY_ANNOTATION]: 'cart3@west' },
    },
    spec: { ports: [{ name: 'http', port: 80 }] },
  });
  // Someone's Service with our two labels: neither Isthmus's nor Linkerd's, so not ours to delete.
  await client.create(R.services, mirror('hand-west', {}, {}));
  // A remote-discovery mirror an Isthmus from before isthmus.dev/mirror left: its slice says whose.
  const legacy = await client.create<V1Service>(
    R.services,
    mirror('db-west', LINKERD_WROTE, { [REMOTE_DISCOVERY_LABEL]: 'west', [REMOTE_SERVICE_LABEL]: 'db' }),
  );
  await client.create(R.endpointSlices, {
    metadata: {
      name: 'db-west',
      namespace: 'shop',
      labels: {
        [MANAGED_BY_LABEL]: MANAGED_BY_MIRROR,
        [SERVICE_NAME_LABEL]: 'db-west',
        [CLUSTER_NAME_LABEL]: 'west',
      },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: 'db-west', uid: legacy.metadata!.uid! }],
    },
    addressType: 'IPv4',
    endpoints: [],
  });
  // An install made --no-gateway, with the revocation list `isthmus certs revoke` says to create:
  // `kubectl create configmap` puts no label on it.
  await client.create(R.namespaces, {
    metadata: { name: SYSTEM_NAMESPACE, labels: { ...PART_OF, [INSTALL_GATEWAY_LABEL]: 'false' } },
  });
  await client.create(R.configMaps, {
    metadata: { name: CRL_CONFIGMAP, namespace: SYSTEM_NAMESPACE },
    data: { 'crl.pem': '' },
  });
  await client.create(R.configMaps, { metadata: { name: 'someone-elses', namespace: SYSTEM_NAMESPACE } });
});

afterAll(async () => {
  client?.close();
  await sandbox?.close();
});

describe('gatherUninstallFacts', () => {
  it("leaves Linkerd's mirrors and federated Services and hand-made ones alone: only Isthmus's left-over mirrors are deleted", async () => {
    const facts = await gatherUninstallFacts(client);
    expect(facts.leftovers.map((o) => `${o.kind}/${o.metadata?.name}`).sort()).toEqual([
      'EndpointSlice/db-west',
      'Service/db-west',
      'Service/web-west',
    ]);
    const plan = planUninstall(facts, { keepTrafficSplitCrd: false });
    const services = plan.ok ? plan.objects.filter((o) => o.kind === 'Service') : [];
    expect(services.map((o) => `${o.metadata?.namespace}/${o.metadata?.name}`).sort()).toEqual([
      'shop/db-west',
      'shop/web-west',
    ]);
  });

  it('lists the unlabelled isthmus-crl ConfigMap, with the gateway and in a full uninstall, and nothing else unlabelled', async () => {
    const facts = await gatherUninstallFacts(client);
    const configMaps = (plan: ReturnType<typeof planUninstall>) =>
      plan.ok
        ? plan.objects.filter((o) => o.kind === 'ConfigMap').map((o) => o.metadata?.name)
        : plan.problems;
    expect(configMaps(planGatewayRemoval(facts))).toEqual([CRL_CONFIGMAP]);
    expect(configMaps(planUninstall(facts, { keepTrafficSplitCrd: false }))).toEqual([CRL_CONFIGMAP]);
  });
});
