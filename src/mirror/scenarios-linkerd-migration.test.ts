/**
 * Moving from Linkerd multicluster (README): Linkerd's service mirror writes mirrors with our two
 * labels, and its gateway identity on their Endpoints, not on the Service. Isthmus knows its own
 * mirrors by `isthmus.dev/mirror`, and those an older Isthmus wrote without it by what only Isthmus
 * wrote on them, so an upgrade orphans none.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { updateWithRetry } from '../kube/apply.js';
import {
  EXPORTED_LABEL,
  ISTHMUS_MIRROR_LABEL,
  REMOTE_DISCOVERY_EXPORT,
  REMOTE_GATEWAY_ANNOTATION,
  SYSTEM_NAMESPACE,
} from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { KubeObject, V1Service } from '../kube/types.js';
import { ourLabels } from './test-builders.js';
import {
  type Cluster,
  exportService,
  getLink,
  getService,
  getSlice,
  link,
  startCluster,
  waitFor,
  waitReady,
  worldPerTest,
} from './test-harness.js';

const startWorld = worldPerTest();

/** `web-west` and its Endpoints exactly as Linkerd's service mirror writes them (cluster_watcher.go). */
async function linkerdMirrorOfWeb(east: Cluster): Promise<V1Service> {
  const service = await east.client.create<V1Service>(R.services, {
    metadata: {
      name: 'web-west',
      namespace: 'default',
      labels: { ...ourLabels('west', false), app: 'web' },
      annotations: {
        'mirror.linkerd.io/remote-svc-fq-name': 'web.default.svc.cluster.local',
        'mirror.linkerd.io/remote-resource-version': '4711',
      },
    },
    spec: { ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 as never }] },
  });
  await east.client.create<KubeObject>(R.endpoints, {
    metadata: {
      name: 'web-west',
      namespace: 'default',
      labels: ourLabels('west', false),
      annotations: {
        'mirror.linkerd.io/remote-svc-fq-name': 'web.default.svc.cluster.local',
        'mirror.linkerd.io/remote-gateway-identity':
          'linkerd-gateway.linkerd-multicluster.serviceaccount.identity.linkerd.cluster.local',
      },
    },
    subsets: [{ addresses: [{ ip: '172.18.0.9' }], ports: [{ name: 'http', port: 4143, protocol: 'TCP' }] }],
  } as KubeObject);
  return service;
}

async function serviceStatus(east: Cluster, name: string) {
  return waitFor(async () => (await getLink(east, 'west'))?.status?.services?.find((s) => s.name === name), {
    what: `status of ${name}`,
  });
}

/** What an Isthmus from before `isthmus.dev/mirror` left: the mirror without the mark. */
async function unmark(east: Cluster, name: string): Promise<void> {
  await updateWithRetry<V1Service>(east.client, R.services, 'default', name, (svc) => {
    const { [ISTHMUS_MIRROR_LABEL]: _mark, ...labels } = svc.metadata?.labels ?? {};
    return { ...svc, metadata: { ...svc.metadata, labels } };
  });
}

/**
 * What `linkerd multicluster unlink --cluster-name west` prints (linkerd2 multicluster/cmd/unlink.go):
 * bare references to its Link, credentials, RBAC, service mirror and probe Service, and to every
 * Service labelled `mirror.linkerd.io/mirrored-service=true,mirror.linkerd.io/cluster-name=west`,
 * Isthmus's mirrors among them.
 */
function linkerdUnlinkOutput(mirrors: string[]): string {
  const ref = (apiVersion: string, kind: string, name: string, namespace?: string) =>
    `---\napiVersion: ${apiVersion}\nkind: ${kind}\nmetadata:\n  name: ${name}\n${namespace ? `  namespace: ${namespace}\n` : ''}`;
  const ns = 'linkerd-multicluster';
  return [
    ref('v1', 'Secret', 'cluster-credentials-west', ns),
    ref('v1', 'Service', 'probe-gateway-west', ns),
    ref('rbac.authorization.k8s.io/v1', 'ClusterRole', 'linkerd-service-mirror-access-local-resources-west'),
    ref('v1', 'ServiceAccount', 'linkerd-service-mirror-west', ns),
    ref('apps/v1', 'Deployment', 'linkerd-service-mirror-west', ns),
    ...mirrors.map((m) => ref('v1', 'Service', m, 'default')),
  ].join('');
}

/** A shell pipeline with the real kubectl, as the README gives it. */
function sh(kubeconfig: string, script: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'sh',
      ['-c', script],
      { env: { ...process.env, KUBECONFIG: kubeconfig }, timeout: 30_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe('moving from Linkerd multicluster', () => {
  it("leaves a mirror Linkerd wrote alone (Conflict, untouched), and makes its own once Linkerd's goes", async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    const linkerds = await linkerdMirrorOfWeb(east);
    await exportService(west, 'web', { ready: 1 });
    await exportService(west, 'ok', { ready: 1 });
    await link(east, west, 'west');
    world.controller('east');
    await waitReady(east, 'default', 'ok-west');

    expect(await serviceStatus(east, 'web')).toEqual({
      namespace: 'default',
      name: 'web',
      reason: 'Conflict',
      message:
        "Service default/web-west is Linkerd's mirror of west: unlink west from Linkerd multicluster first",
    });
    const after = await getService(east, 'default', 'web-west');
    expect(after?.metadata?.resourceVersion).toBe(linkerds.metadata?.resourceVersion);
    expect(after?.spec?.ports?.[0]?.targetPort).toBe(8080);
    expect(await getSlice(east, 'default', 'web-west')).toBeUndefined();
    expect((await getService(east, 'default', 'ok-west'))?.metadata?.labels?.[ISTHMUS_MIRROR_LABEL]).toBe(
      'west',
    );

    // Linkerd's unlink deletes its mirror: ours follows, marked.
    await east.client.delete(R.services, 'default', 'web-west');
    await waitReady(east, 'default', 'web-west');
    expect((await getService(east, 'default', 'web-west'))?.metadata?.labels).toMatchObject({
      [ISTHMUS_MIRROR_LABEL]: 'west',
    });
  });

  it("README step 2 with the real kubectl: Linkerd's unlink output minus Isthmus's mirrors, then Linkerd's Endpoints", async () => {
    const world = await startWorld(['west']);
    // Over TLS: kubectl sends no bearer token to a plain-HTTP server.
    world.clusters.set('east', await startCluster('east', { tls: true }));
    const [east, west] = [world.c('east'), world.c('west')];
    await linkerdMirrorOfWeb(east);
    await exportService(west, 'web', { ready: 1 });
    await exportService(west, 'ok', { ready: 1 });
    await link(east, west, 'west');
    world.controller('east');
    await waitReady(east, 'default', 'ok-west');
    await serviceStatus(east, 'web');
    const ours = await getService(east, 'default', 'ok-west');
    // Linkerd's service mirror for west, as `linkerd multicluster link` installed it.
    const ns = 'linkerd-multicluster';
    await east.client.create(R.namespaces, { metadata: { name: ns } });
    await east.client.create(R.secrets, { metadata: { name: 'cluster-credentials-west', namespace: ns } });
    await east.client.create(R.serviceAccounts, {
      metadata: { name: 'linkerd-service-mirror-west', namespace: ns },
    });
    await east.client.create(R.clusterRoles, {
      metadata: { name: 'linkerd-service-mirror-access-local-resources-west' },
      rules: [],
    });
    await east.client.create(R.deployments, {
      metadata: { name: 'linkerd-service-mirror-west', namespace: ns },
      spec: {
        selector: { matchLabels: { app: 'service-mirror' } },
        template: {
          metadata: { labels: { app: 'service-mirror' } },
          spec: { containers: [{ name: 'service-mirror', image: 'cr.l5d.io/linkerd/controller' }] },
        },
      },
    });

    const dir = mkdtempSync(join(tmpdir(), 'linkerd-unlink-'));
    try {
      const kubeconfig = join(dir, 'kubeconfig');
      writeFileSync(kubeconfig, east.sandbox.kubeconfig());
      writeFileSync(join(dir, 'unlink.yaml'), linkerdUnlinkOutput(['ok-west', 'web-west']));
      const deleted = await sh(
        kubeconfig,
        `kubectl get -f ${dir}/unlink.yaml -o yaml --ignore-not-found | kubectl delete -f - -l '!isthmus.dev/mirror'`,
      );
      expect(deleted).toMatchObject({ code: 0, stderr: '' });
      expect(deleted.stdout.trim().split('\n')).toEqual([
        'secret "cluster-credentials-west" deleted',
        'clusterrole.rbac.authorization.k8s.io "linkerd-service-mirror-access-local-resources-west" deleted',
        'serviceaccount "linkerd-service-mirror-west" deleted',
        'deployment.apps "linkerd-service-mirror-west" deleted',
        'service "web-west" deleted',
      ]);
      const endpoints = await sh(
        kubeconfig,
        "kubectl delete endpoints -A -l 'mirror.linkerd.io/mirrored-service=true,mirror.linkerd.io/cluster-name=west'",
      );
      expect(endpoints).toMatchObject({ code: 0, stdout: 'endpoints "web-west" deleted\n' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect((await getService(east, 'default', 'ok-west'))?.metadata?.uid).toBe(ours?.metadata?.uid);
    // The name Linkerd let go of is ours at once.
    await waitReady(east, 'default', 'web-west');
  });

  it('leaves a hand-made Service with our two labels alone, and says Isthmus did not make it', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    const made = await east.client.create<V1Service>(R.services, {
      metadata: { name: 'web-west', namespace: 'default', labels: ourLabels('west', false) },
      spec: { ports: [{ name: 'http', port: 80 }] },
    });
    await exportService(west, 'web', { ready: 1 });
    await link(east, west, 'west');
    world.controller('east');

    const status = await serviceStatus(east, 'web');
    expect(status.reason).toBe('Conflict');
    expect(status.message).toBe(
      `Service default/web-west is labelled as a mirror of west, but neither Isthmus (no ${ISTHMUS_MIRROR_LABEL} label) nor Linkerd made it, so it is left alone: delete it to have west's Service mirrored here`,
    );
    expect((await getService(east, 'default', 'web-west'))?.metadata?.resourceVersion).toBe(
      made.metadata?.resourceVersion,
    );
  });

  it('takes back the mirrors an Isthmus without the mark wrote: marks them in place, removes the orphaned ones', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    const direct = { exported: false, labels: { [EXPORTED_LABEL]: REMOTE_DISCOVERY_EXPORT } };
    await exportService(west, 'web', { ready: 1 });
    await exportService(west, 'db', { ready: 1, ...direct });
    await exportService(west, 'gone', { ready: 1, ...direct });
    await link(east, west, 'west');
    const first = world.controller('east');
    await waitReady(east, 'default', 'web-west');
    await waitReady(east, 'default', 'db-west');
    await waitReady(east, 'default', 'gone-west');
    await first.stop();

    // The older controller's mirrors: a gateway mirror and two remote-discovery mirrors, which
    // carried no isthmus.dev key at all; one of them lost its remote Service meanwhile.
    const before = new Map<string, string | undefined>();
    for (const name of ['web-west', 'db-west', 'gone-west']) {
      await unmark(east, name);
      before.set(name, (await getService(east, 'default', name))?.metadata?.uid);
    }
    expect((await getService(east, 'default', 'db-west'))?.metadata?.annotations).not.toHaveProperty(
      REMOTE_GATEWAY_ANNOTATION,
    );
    await west.client.delete(R.services, 'default', 'gone');

    world.controller('east');
    for (const name of ['web-west', 'db-west'])
      await waitFor(
        async () =>
          (await getService(east, 'default', name))?.metadata?.labels?.[ISTHMUS_MIRROR_LABEL] === 'west',
        { what: `${name} marked` },
      );
    await waitFor(async () => !(await getService(east, 'default', 'gone-west')), { what: 'orphan deleted' });
    for (const name of ['web-west', 'db-west'])
      expect((await getService(east, 'default', name))?.metadata?.uid).toBe(before.get(name));
    await waitFor(async () => (await getLink(east, 'west'))?.status?.mirroredServices === 2, {
      what: 'both mirrored, no Conflict',
    });
    expect((await getLink(east, 'west'))?.status?.services ?? []).toEqual([]);

    // And unlinking deletes them as its own.
    await east.client.delete(R.links, SYSTEM_NAMESPACE, 'west');
    await waitFor(async () => !(await getLink(east, 'west')), { what: 'Link finalized' });
    expect(await getService(east, 'default', 'db-west')).toBeUndefined();
  });
});
