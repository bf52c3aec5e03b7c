/**
 * `isthmus check` around the end of a Link, against a sandbox API server: a Link being deleted
 * (its finalizer held by a controller that is not running) is its own state, not a broken Link,
 * and what `isthmus link` made for a cluster whose Link was deleted on its own is named, with the
 * `isthmus unlink` that removes it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../kube/client.js';
import {
  CLUSTER_NAME_LABEL,
  ISTHMUS_MIRROR_LABEL,
  LINK_FINALIZER,
  MIRRORED_SERVICE_LABEL,
  REMOTE_GATEWAY_ANNOTATION,
  SYSTEM_NAMESPACE,
} from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { KubeObject, V1Service } from '../../kube/types.js';
import { type Sandbox, startSandbox } from '../../sandbox/index.js';
import { LINK_LABEL } from '../install/options.js';
import { linkCredentialsAccess, rbacManifests } from '../install/rbac.js';
import { applyObjects } from '../lab/apply-objects.js';
import { checkCredentials, checkLinksValid, checkMirrorsOwned, checkPermissions } from './checks/index.js';
import { gatherFacts } from './gather.js';
import { link } from './test-builders.js';
import { unlinkCluster } from './unlink-cluster.js';

let sandbox: Sandbox;
let client: KubeClient;

beforeAll(async () => {
  sandbox = await startSandbox({ name: 'east' });
  client = KubeClient.fromKubeconfigString(sandbox.kubeconfig(), undefined, {
    rateLimit: { qps: 0, burst: 0 },
  });
  for (const name of [SYSTEM_NAMESPACE, 'test']) await client.create(R.namespaces, { metadata: { name } });
  await applyObjects(
    client,
    rbacManifests({
      namespace: SYSTEM_NAMESPACE,
      enableNamespaceCreation: false,
      gateway: true,
    }) as KubeObject[],
  );
});

afterAll(async () => {
  client?.close();
  await sandbox?.close();
});

/** What `isthmus link` applies for `cluster`: the Link (held by the controller's finalizer), its labelled credentials. */
async function linkCluster(cluster: string, withLink = true): Promise<void> {
  if (withLink) {
    const l = link(cluster, { spec: { gatewayAddress: '127.0.0.1', gatewayPort: 1 } });
    delete l.status;
    l.metadata = { ...l.metadata, finalizers: [LINK_FINALIZER] };
    await client.create(R.links, l);
  }
  await client.create(R.secrets, {
    metadata: {
      name: `cluster-credentials-${cluster}`,
      namespace: SYSTEM_NAMESPACE,
      labels: { 'app.kubernetes.io/part-of': 'isthmus', [LINK_LABEL]: cluster },
    },
    stringData: { kubeconfig: sandbox.kubeconfig() },
  } as never);
  await applyObjects(
    client,
    linkCredentialsAccess(cluster, `cluster-credentials-${cluster}`, SYSTEM_NAMESPACE) as KubeObject[],
  );
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
      annotations: { [REMOTE_GATEWAY_ANNOTATION]: '127.0.0.1:1' },
    },
    spec: { ports: [{ port: 80 }] },
  });
}

const quiet = { wait: false, timeoutMs: 1000, progress: () => {}, note: () => {} };
const about = (hints: string[], word: string) => hints.filter((h) => h.includes(word));

describe('check while an unlink waits on a controller that is not running', () => {
  it('says the Link is being deleted, and nothing of its credentials, grants or mirrors as faults', async () => {
    await linkCluster('north');
    await createMirror('podinfo-north', 'north');
    await unlinkCluster(client, 'north', quiet);
    const facts = await gatherFacts(client, { remoteTimeoutMs: 2000 });

    expect(about(checkCredentials(facts).hints, 'north')).toEqual([]);
    expect(about(checkPermissions(facts).hints, 'north')).toEqual([]);
    const links = checkLinksValid(facts);
    expect(about(links.hints, 'north')).toEqual([
      expect.stringMatching(
        /^Link north is being deleted \(deletionTimestamp set \d+s ago\): isthmus-controller removes its mirrors, then releases its finalizer multicluster.isthmus.dev\/mirrors; no controller leads to do so now \(no Lease isthmus-system\/isthmus-mirror: see "the controller is running and leader elected"\)$/,
      ),
    ]);
    expect(links.status).toBe('warn');
    const owned = checkMirrorsOwned(facts);
    expect(owned.hints).toEqual([
      'test/podinfo-north: being removed with Link north (being deleted): the controller deletes it before it releases the Link',
    ]);
    expect(owned.status).toBe('warn');
  });
});

describe('check of what `isthmus link` left of a Link deleted on its own', () => {
  it('warns of the credentials Secret, Role and RoleBinding, naming the unlink that removes them', async () => {
    await linkCluster('south', false);
    const facts = await gatherFacts(client, { remoteTimeoutMs: 2000 });
    const credentials = checkCredentials(facts);
    expect(about(credentials.hints, 'south')).toEqual([
      `cluster south has no Link, yet what \`isthmus link\` made for it is left (labelled ${LINK_LABEL}=south): secret cluster-credentials-south, whose token may still read that cluster, rolebinding.rbac.authorization.k8s.io isthmus-controller-credentials-south, role.rbac.authorization.k8s.io isthmus-controller-credentials-south; delete them with \`isthmus unlink --cluster-name south\``,
    ]);
    expect(credentials.status).toBe('warn');

    await unlinkCluster(client, 'south', quiet);
    const after = await gatherFacts(client, { remoteTimeoutMs: 2000 });
    expect(about(checkCredentials(after).hints, 'south')).toEqual([]);
  });
});

describe('check of a Link being deleted that isthmus-controller has released', () => {
  it('fails a mirror of its cluster as a stray: the controller removed its mirrors before it let go', async () => {
    const l = link('west', { spec: { gatewayAddress: '127.0.0.1', gatewayPort: 1 } });
    delete l.status;
    // Only a GitOps tool's finalizer is left: the controller has removed the mirrors and its own.
    l.metadata = { ...l.metadata, finalizers: ['example.com/gitops'] };
    await client.create(R.links, l);
    await client.delete(R.links, SYSTEM_NAMESPACE, 'west');
    await createMirror('podinfo-west', 'west');
    const facts = await gatherFacts(client, { remoteTimeoutMs: 2000 });
    expect(facts.linksBeingDeleted?.map((x) => x.metadata?.name)).toContain('west');

    const owned = checkMirrorsOwned(facts);
    expect(owned.status).toBe('fail');
    expect(about(owned.hints, 'podinfo-west')).toEqual([expect.not.stringContaining('being removed')]);
    expect(about(checkLinksValid(facts).hints, 'Link west')).toEqual([
      expect.stringContaining("held by finalizer(s) example.com/gitops, not isthmus-controller's"),
    ]);
  });
});
