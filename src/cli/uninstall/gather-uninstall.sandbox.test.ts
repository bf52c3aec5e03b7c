/** What `isthmus uninstall` reads, against a strict sandbox API server. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../kube/client.js';
import {
  CLUSTER_NAME_LABEL,
  CRL_CONFIGMAP,
  INSTALL_GATEWAY_LABEL,
  LINKERD_GATEWAY_IDENTITY_ANNOTATION,
  MIRRORED_SERVICE_LABEL,
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

function mirror(name: string, annotations: Record<string, string> = {}): V1Service {
  return {
    metadata: {
      name,
      namespace: 'shop',
      labels: { [MIRRORED_SERVICE_LABEL]: 'true', [CLUSTER_NAME_LABEL]: 'west' },
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
  // Linkerd's own service mirror, still linking west while the user moves to Isthmus: same labels.
  await client.create(
    R.services,
    mirror('api-west', {
      [LINKERD_GATEWAY_IDENTITY_ANNOTATION]:
        'linkerd-gateway.linkerd-multicluster.serviceaccount.identity.linkerd.cluster.local',
    }),
  );
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
  it("leaves Linkerd's mirrors alone: only Isthmus's left-over mirrors are deleted", async () => {
    const facts = await gatherUninstallFacts(client);
    expect(facts.leftovers.map((o) => `${o.kind}/${o.metadata?.name}`)).toEqual(['Service/web-west']);
    const plan = planUninstall(facts, { keepTrafficSplitCrd: false });
    const services = plan.ok ? plan.objects.filter((o) => o.kind === 'Service') : [];
    expect(services.map((o) => `${o.metadata?.namespace}/${o.metadata?.name}`)).toEqual(['shop/web-west']);
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
