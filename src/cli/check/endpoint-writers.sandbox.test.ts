/**
 * `isthmus check` reads the default editor ClusterRoles from the API server as they are, and from
 * the gateway Deployment whether the gateway dials Pod IPs only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../kube/client.js';
import { SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { KubeObject } from '../../kube/types.js';
import { type Sandbox, startSandbox } from '../../sandbox/index.js';
import { installManifests } from '../install/render.js';
import { testInstallOptions } from '../install/test-options.js';
import { gatewayDialsPodIPsOnly } from './checks/endpoint-writers.js';
import { readDeployments } from './deployment-pods.js';
import { readEndpointWriters } from './gather.js';

let sandbox: Sandbox;
let client: KubeClient;

beforeAll(async () => {
  sandbox = await startSandbox({ name: 'east' });
  client = KubeClient.fromKubeconfigString(sandbox.kubeconfig());
});
afterAll(async () => {
  client?.close();
  await sandbox?.close();
});

describe('readEndpointWriters', () => {
  it('says what the edit and admin ClusterRoles let one write, and skips a role that is absent', async () => {
    expect(await readEndpointWriters(client)).toEqual({});
    // As a cluster created before Kubernetes 1.22 has it: Endpoints writes in edit.
    await client.create(R.clusterRoles, {
      metadata: { name: 'edit' },
      rules: [
        {
          apiGroups: [''],
          resources: ['endpoints', 'services'],
          verbs: ['create', 'delete', 'patch', 'update'],
        },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
      ],
    });
    expect(await readEndpointWriters(client)).toEqual({ edit: ['endpoints'] });
  });
});

/** The gateway Deployment as `isthmus install` renders it with `extra` flags. */
const gatewayDeployment = (extra: Record<string, unknown> = {}) =>
  (installManifests(testInstallOptions(extra)) as (KubeObject & { spec: unknown })[]).find(
    (o) => o.kind === 'Deployment' && o.metadata?.name === 'isthmus-gateway',
  )!;

describe('gatewayDialsPodIPsOnly', () => {
  it('reads the args of the gateway Deployment as isthmus install renders them', async () => {
    const dialsPodIPsOnly = async () =>
      gatewayDialsPodIPsOnly({ deployments: { ok: true, value: await readDeployments(client, 2_000) } });
    await client.create(R.namespaces, { metadata: { name: SYSTEM_NAMESPACE } });
    await client.create(R.deployments, gatewayDeployment({ gatewayDialPodIpsOnly: true }));
    expect(await dialsPodIPsOnly()).toBe(true);
    // `isthmus upgrade --unset gateway-dial-pod-ips-only`, applied.
    const installed = (await client.get<KubeObject>(R.deployments, SYSTEM_NAMESPACE, 'isthmus-gateway'))!;
    await client.replace(R.deployments, { ...installed, spec: gatewayDeployment().spec });
    expect(await dialsPodIPsOnly()).toBe(false);
  });
});
