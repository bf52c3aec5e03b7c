import type { V1EnvVar } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isIsthmusError } from '../../errors.js';
import { KubeClient } from '../../kube/client.js';
import {
  CLUSTER_NAME_LABEL,
  ISTHMUS_MIRROR_LABEL,
  LINK_FINALIZER,
  MIRRORED_SERVICE_LABEL,
  SYSTEM_NAMESPACE,
} from '../../kube/keys.js';
import { R, type ResourceRef } from '../../kube/resources.js';
import type { KubeObject, Link, V1Service } from '../../kube/types.js';
import { type Sandbox, startSandbox } from '../../sandbox/index.js';
import { LINK_LABEL } from '../install/options.js';
import { linkCredentialsAccess } from '../install/rbac.js';
import { applyObjects } from '../lab/apply-objects.js';
import { link } from './test-builders.js';
import { unlinkCluster } from './unlink-cluster.js';

let sandbox: Sandbox;
let client: KubeClient;

beforeAll(async () => {
  sandbox = await startSandbox({ name: 'east' });
  client = KubeClient.fromKubeconfigString(sandbox.kubeconfig());
  for (const name of [SYSTEM_NAMESPACE, 'test']) await client.create(R.namespaces, { metadata: { name } });
});

afterAll(async () => {
  client?.close();
  await sandbox?.close();
});

async function createLink(
  cluster: string,
  finalizers: string[] = [],
  kubeconfig = 'apiVersion: v1\nkind: Config\n',
): Promise<void> {
  const l = link(cluster);
  delete l.status;
  l.metadata = { ...l.metadata, finalizers };
  await client.create(R.links, l);
  await createCredentials(cluster, kubeconfig);
}

/** The credentials Secret of a Link to `cluster` (with `labels`), and the Role and RoleBinding to read it. */
async function createCredentials(
  cluster: string,
  kubeconfig: string,
  labels: Record<string, string> = {},
): Promise<void> {
  await client.create(R.secrets, {
    metadata: { name: `cluster-credentials-${cluster}`, namespace: SYSTEM_NAMESPACE, labels },
    stringData: { kubeconfig },
  } as never);
  await applyObjects(
    client,
    linkCredentialsAccess(cluster, `cluster-credentials-${cluster}`, SYSTEM_NAMESPACE) as KubeObject[],
  );
}

/** The credentials Secret of `cluster`, and the Role and RoleBinding to read it, are gone. */
async function expectCredentialsGone(cluster: string): Promise<void> {
  expect(await client.get(R.secrets, SYSTEM_NAMESPACE, `cluster-credentials-${cluster}`)).toBeUndefined();
  expect(
    await client.get(R.roles, SYSTEM_NAMESPACE, `isthmus-controller-credentials-${cluster}`),
  ).toBeUndefined();
  expect(
    await client.get(R.roleBindings, SYSTEM_NAMESPACE, `isthmus-controller-credentials-${cluster}`),
  ).toBeUndefined();
}

/** A kubeconfig whose token is that of the account `isthmus allow` makes (east-reader). */
function readerKubeconfig(): string {
  const claims = { 'kubernetes.io/serviceaccount/service-account.name': 'east-reader' };
  const token = `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2ln`;
  return `apiVersion: v1\nkind: Config\nusers:\n  - name: r\n    user: {token: ${token}}\n`;
}

async function createMirror(name: string, cluster: string): Promise<void> {
  await client.create<V1Service>(R.services, {
    metadata: {
      name,
      namespace: 'test',
      labels: {
        [MIRRORED_SERVICE_LABEL]: 'true',
        [CLUSTER_NAME_LABEL]: cluster,
        [ISTHMUS_MIRROR_LABEL]: cluster,
      },
    },
    spec: { ports: [{ port: 80 }] },
  });
}

const quiet = { progress: () => {}, pollMs: 20 };

describe('unlinkCluster', () => {
  it('names the linked clusters when there is no Link to the one asked for', async () => {
    await createLink('south');
    const err = await unlinkCluster(client, 'nowhere', { wait: false, timeoutMs: 1000, ...quiet }).catch(
      (e: unknown) => e,
    );
    expect(isIsthmusError(err, 'KUBE_NOT_FOUND')).toBe(true);
    expect(String(err)).toContain('no Link to cluster "nowhere" in isthmus-system (linked: south)');
  });

  it('deletes the Link and its credentials Secret, and reports the mirrors the finalizer holder removed', async () => {
    await createLink('west', [LINK_FINALIZER]);
    await createMirror('podinfo-west', 'west');
    await createMirror('db-west', 'west');
    const lines: string[] = [];
    // Stands in for the controller: once deletion starts, delete the mirrors, release the finalizer.
    let controller: Promise<void> | undefined;
    const unlinking = unlinkCluster(client, 'west', {
      wait: true,
      timeoutMs: 10_000,
      pollMs: 20,
      progress: (line) => {
        lines.push(line);
        if (line.startsWith('link.')) {
          controller = (async () => {
            for (const name of ['podinfo-west', 'db-west']) await client.delete(R.services, 'test', name);
            await client.patch<Link>(R.links, SYSTEM_NAMESPACE, 'west', { metadata: { finalizers: null } });
          })();
        }
      },
    });
    const outcome = await unlinking;
    await controller;
    expect(outcome).toEqual({ linkName: 'west', mirrorsRemoved: 2 });
    expect(lines).toEqual([
      'link.multicluster.isthmus.dev "west" deleted',
      'secret "cluster-credentials-west" deleted',
      'rolebinding.rbac.authorization.k8s.io "isthmus-controller-credentials-west" deleted',
      'role.rbac.authorization.k8s.io "isthmus-controller-credentials-west" deleted',
    ]);
    await expectCredentialsGone('west');
  });

  it('deletes every Link to the cluster: one holds it, and a second would take the mirrors over', async () => {
    await createLink('east2');
    const second = link('east2');
    delete second.status;
    second.metadata = { ...second.metadata, name: 'east2-again' };
    second.spec = { ...second.spec, clusterCredentialsSecret: 'cluster-credentials-east2-again' };
    await client.create(R.links, second);
    const lines: string[] = [];
    const outcome = await unlinkCluster(client, 'east2', {
      wait: true,
      timeoutMs: 5_000,
      pollMs: 20,
      progress: (l) => lines.push(l),
    });
    expect(outcome).toEqual({ linkName: 'east2, east2-again', mirrorsRemoved: 0 });
    expect(lines).toEqual([
      'link.multicluster.isthmus.dev "east2" deleted',
      'secret "cluster-credentials-east2" deleted',
      'rolebinding.rbac.authorization.k8s.io "isthmus-controller-credentials-east2" deleted',
      'role.rbac.authorization.k8s.io "isthmus-controller-credentials-east2" deleted',
      'link.multicluster.isthmus.dev "east2-again" deleted',
    ]);
  });

  it('gives up at its deadline when no controller releases the finalizer', async () => {
    await createLink('north', [LINK_FINALIZER]);
    const err = await unlinkCluster(client, 'north', { wait: true, timeoutMs: 300, ...quiet }).catch(
      (e: unknown) => e,
    );
    expect(isIsthmusError(err, 'WAIT_TIMEOUT')).toBe(true);
    expect(String(err)).toContain('is isthmus-controller running?');
    await client.patch<Link>(R.links, SYSTEM_NAMESPACE, 'north', { metadata: { finalizers: null } });
  });

  it('reminds that an account made by isthmus allow for this cluster lives on in the remote one', async () => {
    await createLink('north', [], readerKubeconfig());
    const lines: string[] = [];
    await unlinkCluster(client, 'north', {
      wait: false,
      timeoutMs: 1000,
      pollMs: 20,
      progress: () => {},
      note: (l) => lines.push(l),
    });
    expect(lines).toContain(
      'note: cluster north still has the read-only account isthmus-system/east-reader made for this one; to revoke its token, run against that cluster (your context for it may be named otherwise): kubectl --context north -n isthmus-system delete serviceaccount east-reader',
    );
  });
});

/** A gateway Deployment started as `isthmus gateway <args>`, with `env`. */
const gateway = (args: string[], env: V1EnvVar[] = []) => ({
  metadata: { name: 'isthmus-gateway', namespace: SYSTEM_NAMESPACE },
  spec: {
    selector: { matchLabels: { app: 'isthmus-gateway' } },
    template: {
      metadata: { labels: { app: 'isthmus-gateway' } },
      spec: { containers: [{ name: 'gateway', image: 'isthmus:dev', args: ['gateway', ...args], env }] },
    },
  },
});

/** The notes of an unlink (not waiting) of a new Link to `cluster`, given `kubeFlags`. */
async function unlinkNotes(cluster: string, kubeFlags?: readonly string[]): Promise<string[]> {
  await createLink(cluster);
  const lines: string[] = [];
  await unlinkCluster(client, cluster, {
    wait: false,
    timeoutMs: 1000,
    progress: () => {},
    note: (l) => lines.push(l),
    ...(kubeFlags ? { kubeFlags } : {}),
  });
  return lines;
}

describe('unlink and the gateway admission of the cluster unlinked', () => {
  it('names the --kubeconfig and --context unlink was given in the upgrade command it offers (walkthrough finding)', async () => {
    await client.create(R.deployments, gateway(['--cluster=east']));
    try {
      const lines = await unlinkNotes('west5', ['--kubeconfig', '/tmp/lab/kubeconfig', '--context', 'east']);
      expect(lines.find((l) => l.includes('keep admitting'))).toMatch(
        /`isthmus upgrade --kubeconfig \/tmp\/lab\/kubeconfig --context east --allow-cluster west5 \| kubectl --kubeconfig \/tmp\/lab\/kubeconfig --context east apply -f -`$/,
      );
    } finally {
      await client.delete(R.deployments, SYSTEM_NAMESPACE, 'isthmus-gateway');
    }
  });

  it('says nothing of it without a gateway here (a --no-gateway install admits no one)', async () => {
    expect((await unlinkNotes('west3')).filter((l) => l.includes('admits'))).toEqual([]);
  });

  it("says that this cluster's gateway stops admitting the cluster's, unless --allow-cluster names it", async () => {
    await client.create(R.deployments, gateway(['--cluster=east', '--allow-cluster=north2']));
    try {
      expect(await unlinkNotes('west4')).toContain(
        "note: this cluster's gateway admits the clusters it has a Link to and its --allow-cluster list (north2), so it now refuses the gateway of west4: if west4 still has a Link to this cluster, its traffic here stops; unlink there too, or keep admitting it with `isthmus upgrade --allow-cluster north2,west4 | kubectl apply -f -`",
      );
      expect((await unlinkNotes('north2')).filter((l) => l.includes('admits'))).toEqual([]);
      // A Link to this cluster itself (a mistake being undone): its gateway does not admit itself.
      expect((await unlinkNotes('east')).filter((l) => l.includes('admits'))).toEqual([]);
    } finally {
      await client.delete(R.deployments, SYSTEM_NAMESPACE, 'isthmus-gateway');
    }
  });
});

describe('unlink and the gateway admission, read as the gateway reads its flags and environment', () => {
  const notes = async (cluster: string) => (await unlinkNotes(cluster)).filter((l) => l.includes('admits'));
  const withGateway = async (args: string[], env: V1EnvVar[], run: () => Promise<void>) => {
    await client.create(R.deployments, gateway(args, env));
    try {
      await run();
    } finally {
      await client.delete(R.deployments, SYSTEM_NAMESPACE, 'isthmus-gateway');
    }
  };

  it('counts `--allow-cluster north7` (space-separated), so says nothing of north7', async () => {
    await withGateway(['--cluster', 'east', '--allow-cluster', 'north7'], [], async () => {
      expect(await notes('north7')).toEqual([]);
    });
  });

  it('counts ISTHMUS_ALLOW_CLUSTERS when no --allow-cluster is given', async () => {
    await withGateway(
      ['--cluster=east'],
      [{ name: 'ISTHMUS_ALLOW_CLUSTERS', value: 'north8, x' }],
      async () => {
        expect(await notes('north8')).toEqual([]);
        expect(await notes('west8')).toEqual([
          "note: this cluster's gateway admits the clusters it has a Link to and its --allow-cluster list (north8, x), so it now refuses the gateway of west8: if west8 still has a Link to this cluster, its traffic here stops; unlink there too, or keep admitting it with `isthmus upgrade --allow-cluster north8,x,west8 | kubectl apply -f -`",
        ]);
      },
    );
  });

  it('says that the list set from a Secret is not read, rather than assert the refusal', async () => {
    const fromSecret = { secretKeyRef: { name: 'peers', key: 'allow' } };
    await withGateway(
      ['--cluster=east'],
      [{ name: 'ISTHMUS_ALLOW_CLUSTERS', valueFrom: fromSecret }],
      async () => {
        expect(await notes('west9')).toEqual([
          "note: this cluster's gateway admits the clusters it has a Link to and its --allow-cluster list (empty), so unless its ISTHMUS_ALLOW_CLUSTERS (set from Secret peers, key allow, not read here) names west9, it now refuses the gateway of west9: if west9 still has a Link to this cluster, its traffic here stops; unlink there too, or keep admitting it with `isthmus upgrade --allow-cluster west9 | kubectl apply -f -`",
        ]);
      },
    );
  });
});

describe('unlink of a cluster a retargeted Link still holds', () => {
  it('names the Link that holds its mirrors instead of only saying there is none', async () => {
    await createLink('east9');
    // A typo: the Link now targets "esat", the controller keeps east9's mirrors meanwhile.
    await client.patch<Link>(R.links, SYSTEM_NAMESPACE, 'east9', { spec: { targetClusterName: 'esat' } });
    await client.patchStatus<Link>(R.links, SYSTEM_NAMESPACE, 'east9', {
      status: { mirroredClusterName: 'east9' },
    });
    const err = await unlinkCluster(client, 'east9', { wait: false, timeoutMs: 1000, ...quiet }).catch(
      (e: unknown) => e,
    );
    expect(isIsthmusError(err, 'KUBE_NOT_FOUND')).toBe(true);
    expect(String(err)).toContain(
      'Link east9 targets "esat" but still holds the mirrors of "east9" (status.mirroredClusterName) until that cluster is verified: fix its targetClusterName, or delete it',
    );
  });

  it('still unlinks when the gateway Deployment cannot be read for the admission note', async () => {
    await createLink('east10');
    const failing = Object.create(client) as KubeClient;
    let asked = 0;
    failing.get = (async (res: ResourceRef, ns: string | undefined, name: string) => {
      if (res.plural === 'deployments') {
        asked++;
        throw new Error('forbidden');
      }
      return client.get(res, ns, name);
    }) as KubeClient['get'];
    const outcome = await unlinkCluster(failing, 'east10', { wait: false, timeoutMs: 1000, ...quiet });
    expect(outcome.linkName).toBe('east10');
    expect(asked).toBe(1);
    expect(await client.get(R.links, SYSTEM_NAMESPACE, 'east10')).toBeUndefined();
  });
});

describe('unlink of a cluster whose Link was deleted on its own (kubectl delete link, a GitOps prune)', () => {
  /** What `isthmus link` applies: the Secret and the Role and RoleBinding, all labelled isthmus.dev/link. */
  async function linkObjects(cluster: string, kubeconfig = 'apiVersion: v1\nkind: Config\n'): Promise<void> {
    await createCredentials(cluster, kubeconfig, {
      'app.kubernetes.io/part-of': 'isthmus',
      [LINK_LABEL]: cluster,
    });
  }

  it('still deletes the credentials Secret, Role and RoleBinding labelled for the cluster, and says so', async () => {
    await linkObjects('north5');
    const lines: string[] = [];
    const outcome = await unlinkCluster(client, 'north5', {
      wait: true,
      timeoutMs: 1000,
      pollMs: 20,
      progress: (l) => lines.push(l),
    });
    expect(outcome.linkName).toBeUndefined();
    expect(lines).toEqual([
      `no Link to cluster "north5" in isthmus-system; deleting what \`isthmus link\` made for it (labelled ${LINK_LABEL}=north5)`,
      'secret "cluster-credentials-north5" deleted',
      'rolebinding.rbac.authorization.k8s.io "isthmus-controller-credentials-north5" deleted',
      'role.rbac.authorization.k8s.io "isthmus-controller-credentials-north5" deleted',
    ]);
    await expectCredentialsGone('north5');
  });

  it('reminds, as with a Link, that an account made by isthmus allow lives on in the remote cluster', async () => {
    await linkObjects('north6', readerKubeconfig());
    const notes: string[] = [];
    await unlinkCluster(client, 'north6', {
      ...quiet,
      wait: false,
      timeoutMs: 1000,
      note: (l) => notes.push(l),
    });
    expect(notes).toEqual([
      'note: cluster north6 still has the read-only account isthmus-system/east-reader made for this one; to revoke its token, run against that cluster (your context for it may be named otherwise): kubectl --context north6 -n isthmus-system delete serviceaccount east-reader',
    ]);
  });

  it('keeps what another Link still reads (one retargeted from the cluster) and fails as before', async () => {
    await linkObjects('east11');
    const l = link('east11');
    delete l.status;
    l.spec = { ...l.spec, targetClusterName: 'esat11' };
    await client.create(R.links, l);
    const err = await unlinkCluster(client, 'east11', { wait: false, timeoutMs: 1000, ...quiet }).catch(
      (e: unknown) => e,
    );
    expect(isIsthmusError(err, 'KUBE_NOT_FOUND')).toBe(true);
    expect(await client.get(R.secrets, SYSTEM_NAMESPACE, 'cluster-credentials-east11')).toBeDefined();
    expect(
      await client.get(R.roles, SYSTEM_NAMESPACE, 'isthmus-controller-credentials-east11'),
    ).toBeDefined();
  });
});
