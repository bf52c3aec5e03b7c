/**
 * `isthmus check` in the exporting cluster, against a sandbox API server: an export whose
 * `isthmus.dev/allowed-clusters` names no cluster this one links to or admits (a typo, a capital)
 * reaches nobody it meant to, and is said, with the entry and, for a capital, the name meant.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../kube/client.js';
import { ALLOWED_CLUSTERS_ANNOTATION, SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { KubeObject, V1Service } from '../../kube/types.js';
import { type Sandbox, startSandbox } from '../../sandbox/index.js';
import { installManifests } from '../install/render.js';
import { testInstallOptions } from '../install/test-options.js';
import { checkExportsMirrored } from './checks/index.js';
import { gatherFacts } from './gather.js';
import { link } from './test-builders.js';

let sandbox: Sandbox;
let client: KubeClient;

beforeAll(async () => {
  sandbox = await startSandbox({ name: 'north' });
  client = KubeClient.fromKubeconfigString(sandbox.kubeconfig(), undefined, {
    rateLimit: { qps: 0, burst: 0 },
  });
  for (const name of [SYSTEM_NAMESPACE, 'shop']) await client.create(R.namespaces, { metadata: { name } });
  // North links to east, and its gateway admits west too (--allow-cluster), as `isthmus install` renders it.
  const gateway = (installManifests(testInstallOptions({ allowCluster: ['west'] })) as KubeObject[]).find(
    (o) => o.kind === 'Deployment' && o.metadata?.name === 'isthmus-gateway',
  )!;
  await client.create(R.deployments, gateway);
  const east = link('east');
  delete east.status;
  await client.create(R.links, east);
});

afterAll(async () => {
  client?.close();
  await sandbox?.close();
});

async function exportEcho(name: string, allowed: string): Promise<void> {
  await client.create<V1Service>(R.services, {
    metadata: {
      name,
      namespace: 'shop',
      labels: { 'mirror.linkerd.io/exported': 'true' },
      annotations: { [ALLOWED_CLUSTERS_ANNOTATION]: allowed },
    },
    spec: { ports: [{ port: 80 }] },
  });
}

const about = (hints: string[], word: string) => hints.filter((h) => h.includes(word));

describe('check of the allowed-clusters of the exports here', () => {
  it('warns of a capitalised entry, naming the cluster meant, and of one that names no known cluster', async () => {
    await exportEcho('echo', 'East,wset');
    await exportEcho('fine', 'east, west');
    const result = checkExportsMirrored(await gatherFacts(client, { remoteTimeoutMs: 2000 }));
    expect(about(result.hints, ALLOWED_CLUSTERS_ANNOTATION)).toEqual([
      `shop/echo: its ${ALLOWED_CLUSTERS_ANNOTATION} entry "East" is no cluster name (a lowercase DNS-1123 label), so no cluster matches it; did you mean "east"? cluster names match as written`,
      `shop/echo: its ${ALLOWED_CLUSTERS_ANNOTATION} entry "wset" names no cluster this one links to or admits (east, west): no cluster's gateway may reach it under that name`,
    ]);
    expect(result.status).toBe('warn');
  });

  it('names the cluster meant for each capitalised entry, as written, without reading it lowercased', async () => {
    await exportEcho('echo2', 'East, WEST');
    const result = checkExportsMirrored(await gatherFacts(client, { remoteTimeoutMs: 2000 }));
    expect(about(result.hints, 'shop/echo2')).toEqual(
      ['East', 'WEST'].map(
        (e) =>
          `shop/echo2: its ${ALLOWED_CLUSTERS_ANNOTATION} entry "${e}" is no cluster name (a lowercase DNS-1123 label), so no cluster matches it; did you mean "${e.toLowerCase()}"? cluster names match as written`,
      ),
    );
  });
});
