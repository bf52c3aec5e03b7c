/**
 * `isthmus check` against a strict sandbox holding the install: a gateway pod the kubelet cannot
 * pull the image for is named in the deployments check, with the flags that fix it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../kube/client.js';
import { SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { KubeObject, V1Deployment, V1Pod } from '../../kube/types.js';
import { type Sandbox, startSandbox } from '../../sandbox/index.js';
import { installManifests } from '../install/render.js';
import { testInstallOptions } from '../install/test-options.js';
import { applyObjects } from '../lab/apply-objects.js';
import { checkDeployments } from './checks/deployments.js';
import { gatherFacts } from './gather.js';
import { podStatus } from './test-builders.js';

const POD = 'isthmus-gateway-7d9f8c6b5-x2k4q';
const PULL_MESSAGE = 'Back-off pulling image "ghcr.io/isthmus-dev/isthmus:0.1.0"';
const DESCRIBE_GATEWAY =
  "Deployment isthmus-gateway has no available replica (0/1); see `kubectl -n isthmus-system describe deployment/isthmus-gateway` and its pods' logs";

let sandbox: Sandbox;
let client: KubeClient;

/** What the Deployment controller writes: every replica available but the gateway's. */
async function deploymentStatus(name: string): Promise<void> {
  const d = (await client.get<V1Deployment>(R.deployments, SYSTEM_NAMESPACE, name))!;
  const replicas = d.spec?.replicas ?? 1;
  const available = name === 'isthmus-gateway' ? 0 : replicas;
  await client.replaceStatus(R.deployments, {
    ...d,
    status: {
      observedGeneration: d.metadata?.generation ?? 1,
      replicas,
      updatedReplicas: replicas,
      readyReplicas: available,
      availableReplicas: available,
      unavailableReplicas: replicas - available,
    },
  });
}

/** The gateway's pod as its ReplicaSet creates it, then its status as the kubelet writes it. */
async function gatewayPod(): Promise<void> {
  const d = (await client.get<V1Deployment>(R.deployments, SYSTEM_NAMESPACE, 'isthmus-gateway'))!;
  const template = d.spec!.template;
  const created = await client.create<V1Pod>(R.pods, {
    metadata: { name: POD, namespace: SYSTEM_NAMESPACE, labels: template.metadata?.labels ?? {} },
    spec: { ...template.spec!, nodeName: 'node-a' },
  });
  await client.replaceStatus(R.pods, {
    ...created,
    status: podStatus.waiting('ImagePullBackOff', PULL_MESSAGE),
  });
}

beforeAll(async () => {
  sandbox = await startSandbox({ name: 'east' });
  client = KubeClient.fromKubeconfigString(sandbox.kubeconfig());
  await applyObjects(client, installManifests(testInstallOptions()) as KubeObject[]);
  for (const name of ['isthmus-identity', 'isthmus-gateway', 'isthmus-controller'])
    await deploymentStatus(name);
  await gatewayPod();
  // May read the Deployments, not their pods.
  sandbox.addToken('no-pods', {
    username: 'deployment-reader',
    rules: [
      { verbs: ['get', 'list'], resources: ['namespaces'], apiGroups: [''] },
      {
        verbs: ['get', 'list'],
        resources: ['deployments'],
        apiGroups: ['apps'],
        namespaces: [SYSTEM_NAMESPACE],
      },
    ],
  });
});

afterAll(async () => {
  client?.close();
  await sandbox?.close();
});

describe('isthmus check: the deployments check reads the pods of an unavailable Deployment', () => {
  it('names the gateway pod that cannot pull its image, and the flags that fix it', async () => {
    const result = checkDeployments(await gatherFacts(client, { remoteTimeoutMs: 2000 }));
    expect(result.status).toBe('fail');
    expect(result.hints).toEqual([
      DESCRIBE_GATEWAY,
      `pod ${POD}: ImagePullBackOff: ${PULL_MESSAGE}; check \`--image\` and \`--image-pull-secret\` (the Secret must exist in isthmus-system)`,
    ]);
  });

  it('keeps the hint and says what is missing for a user who may not list pods', async () => {
    const narrow = KubeClient.fromKubeconfigString(sandbox.kubeconfig({ token: 'no-pods', user: 'reader' }));
    try {
      const result = checkDeployments(await gatherFacts(narrow, { remoteTimeoutMs: 2000 }));
      expect(result.hints).toEqual([DESCRIBE_GATEWAY, 'pod details need `list pods` in isthmus-system']);
    } finally {
      narrow.close();
    }
  });
});
