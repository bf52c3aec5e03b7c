/** `isthmus check` reads the default editor ClusterRoles from the API server as they are. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../kube/client.js';
import { R } from '../../kube/resources.js';
import { type Sandbox, startSandbox } from '../../sandbox/index.js';
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
