/**
 * `isthmus check` in the exporting cluster, against a sandbox API server: an export whose
 * `isthmus.dev/allowed-clusters` names no cluster this one links to or admits (a typo, a capital)
 * reaches nobody it meant to, and is said, with the entry and, for a capital, the name meant.
 */

import type { V1Container } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../kube/client.js';
import { ALLOWED_CLUSTERS_ANNOTATION, SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { KubeObject, V1Deployment, V1Service } from '../../kube/types.js';
import { type Sandbox, startSandbox } from '../../sandbox/index.js';
import type { InstallOptions } from '../install/options.js';
import { installManifests } from '../install/render.js';
import { testInstallOptions } from '../install/test-options.js';
import { checkExportsMirrored } from './checks/index.js';
import { gatherFacts } from './gather.js';
import { link } from './test-builders.js';

/** The gateway Deployment `isthmus install` renders with `opts`. */
const gatewayOf = (opts: InstallOptions) =>
  (installManifests(opts) as KubeObject[]).find(
    (o) => o.kind === 'Deployment' && o.metadata?.name === 'isthmus-gateway',
  ) as V1Deployment;

let sandbox: Sandbox;
let client: KubeClient;

beforeAll(async () => {
  sandbox = await startSandbox({ name: 'north' });
  client = KubeClient.fromKubeconfigString(sandbox.kubeconfig(), undefined, {
    rateLimit: { qps: 0, burst: 0 },
  });
  for (const name of [SYSTEM_NAMESPACE, 'shop']) await client.create(R.namespaces, { metadata: { name } });
  // North links to east, and its gateway admits west too (--allow-cluster), as `isthmus install` renders it.
  await client.create(R.deployments, gatewayOf(testInstallOptions({ allowCluster: ['west'] })));
  const east = link('east');
  delete east.status;
  await client.create(R.links, east);
});

afterAll(async () => {
  client?.close();
  await sandbox?.close();
});

async function exportEcho(name: string, allowed: string, exported = 'true'): Promise<void> {
  await client.create<V1Service>(R.services, {
    metadata: {
      name,
      namespace: 'shop',
      labels: { 'mirror.linkerd.io/exported': exported },
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

/** The gateway's container as the install renders it with no --allow-cluster, then as `edit` leaves it. */
async function editGateway(edit: (c: V1Container) => void): Promise<void> {
  const d = (await client.get<V1Deployment>(R.deployments, SYSTEM_NAMESPACE, 'isthmus-gateway'))!;
  const c = d.spec!.template.spec!.containers[0]!;
  c.args = gatewayOf(testInstallOptions()).spec!.template.spec!.containers[0]!.args;
  edit(c);
  await client.replace(R.deployments, d);
}

describe('check of the allowed-clusters of the exports here, read as the gateway reads its flags', () => {
  it('counts `--allow-cluster south` (space-separated, as the lab and gatewayArgvFromFlags write it)', async () => {
    await editGateway((c) => {
      c.args = [...(c.args ?? []), '--allow-cluster', 'south'];
    });
    await exportEcho('spaced', 'south');
    const result = checkExportsMirrored(await gatherFacts(client, { remoteTimeoutMs: 2000 }));
    expect(about(result.hints, 'shop/spaced:')).toEqual([]);
  });

  it('counts ISTHMUS_ALLOW_CLUSTERS when no --allow-cluster is given, as the gateway does', async () => {
    await editGateway((c) => {
      c.env = [...(c.env ?? []), { name: 'ISTHMUS_ALLOW_CLUSTERS', value: 'west, south' }];
    });
    await exportEcho('byenv', 'west,south');
    await exportEcho('byenv-typo', 'wset');
    const result = checkExportsMirrored(await gatherFacts(client, { remoteTimeoutMs: 2000 }));
    expect(about(result.hints, 'shop/byenv:')).toEqual([]);
    expect(about(result.hints, 'shop/byenv-typo:')).toEqual([
      `shop/byenv-typo: its ${ALLOWED_CLUSTERS_ANNOTATION} entry "wset" names no cluster this one links to or admits (east, south, west): no cluster's gateway may reach it under that name`,
    ]);
  });

  it('says that ISTHMUS_ALLOW_CLUSTERS is not read when --allow-cluster is given: the flag wins', async () => {
    await editGateway((c) => {
      c.args = [...(c.args ?? []), '--allow-cluster=south'];
      c.env = [{ name: 'ISTHMUS_ALLOW_CLUSTERS', value: 'west' }];
    });
    await exportEcho('envignored', 'west');
    const result = checkExportsMirrored(await gatherFacts(client, { remoteTimeoutMs: 2000 }));
    expect(about(result.hints, 'shop/envignored:')).toEqual([
      `shop/envignored: its ${ALLOWED_CLUSTERS_ANNOTATION} entry "west" names no cluster this one links to or admits (east, south): no cluster's gateway may reach it under that name (the gateway's ISTHMUS_ALLOW_CLUSTERS=west is not read: its --allow-cluster flag wins)`,
    ]);
  });

  it('says where the list comes from when check cannot read it (a Secret)', async () => {
    await editGateway((c) => {
      c.env = [
        {
          name: 'ISTHMUS_ALLOW_CLUSTERS',
          valueFrom: { secretKeyRef: { name: 'peers', key: 'allow' } },
        },
      ];
    });
    await exportEcho('secret', 'far');
    const result = checkExportsMirrored(await gatherFacts(client, { remoteTimeoutMs: 2000 }));
    expect(about(result.hints, 'shop/secret:')).toEqual([
      `shop/secret: its ${ALLOWED_CLUSTERS_ANNOTATION} entry "far" names no cluster this one links to or admits (east): no cluster's gateway may reach it under that name, unless the gateway's ISTHMUS_ALLOW_CLUSTERS names it (set from Secret peers, key allow, which check does not read)`,
    ]);
  });

  it('says when it cannot tell what the gateway admits (arguments the gateway refuses), and checks entries as names only', async () => {
    await editGateway((c) => {
      c.args = [...(c.args ?? []), '--allow-clusters=west'];
    });
    await exportEcho('unparsed', 'nowhere');
    const result = checkExportsMirrored(await gatherFacts(client, { remoteTimeoutMs: 2000 }));
    expect(about(result.hints, 'shop/unparsed:')).toEqual([]);
    expect(about(result.hints, 'cannot tell which clusters')).toEqual([
      expect.stringMatching(
        /^cannot tell which clusters the gateway admits from its Deployment \(.*--allow-clusters.*\): the isthmus\.dev\/allowed-clusters entries of the exports here are checked as cluster names only$/,
      ),
    ]);
    await editGateway(() => {});
  });

  it('does not ask a remote-discovery export to name a cluster this gateway admits: it is reached at pod IPs', async () => {
    await exportEcho('direct', 'flat', 'remote-discovery');
    await exportEcho('direct-capital', 'Flat', 'remote-discovery');
    const result = checkExportsMirrored(await gatherFacts(client, { remoteTimeoutMs: 2000 }));
    expect(about(result.hints, 'shop/direct:')).toEqual([]);
    // Its consumers' controllers still read the entries (NotAllowed): one that matches nobody is said.
    expect(about(result.hints, 'shop/direct-capital:')).toEqual([
      `shop/direct-capital: its ${ALLOWED_CLUSTERS_ANNOTATION} entry "Flat" is no cluster name (a lowercase DNS-1123 label), so no cluster matches it`,
    ]);
  });
});
