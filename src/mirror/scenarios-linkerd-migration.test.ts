/**
 * Moving from Linkerd multicluster (README): Linkerd's service mirror writes mirrors with our two
 * labels, and its gateway identity on their Endpoints, not on the Service. Isthmus knows its own
 * mirrors by `isthmus.dev/mirror`, and those an older Isthmus wrote without it by what only Isthmus
 * wrote on them, so an upgrade orphans none.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { updateWithRetry } from '../kube/apply.js';
import { FlakyClient } from '../kube/flaky-client.js';
import {
  EGRESS_PORTS_ANNOTATION,
  EXPORTED_LABEL,
  ISTHMUS_MIRROR_LABEL,
  MANAGED_BY_LABEL,
  MANAGED_BY_MIRROR,
  REMOTE_DISCOVERY_EXPORT,
  REMOTE_GATEWAY_ANNOTATION,
  SERVICE_NAME_LABEL,
  SYSTEM_NAMESPACE,
} from '../kube/keys.js';
import { claimsRoutes } from '../kube/linkerd-mirror.js';
import { R } from '../kube/resources.js';
import { SYNC_DEADLINE_MS, within } from '../kube/test-support.js';
import type { CoreV1Event, KubeObject, V1EndpointSlice, V1Service } from '../kube/types.js';
import { createLocalInformers } from './controller.js';
import { mirrorOwner } from './port-allocator.js';
import { Leadership } from './shared.js';
import { ourLabels } from './test-builders.js';
import {
  type Cluster,
  type ControllerOverrides,
  capturedLog,
  exportService,
  getLink,
  getService,
  getSlice,
  link,
  startCluster,
  type World,
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

/** A Link Event that names `text`, once recorded. */
async function linkEvent(east: Cluster, reason: string, text: string): Promise<CoreV1Event> {
  return waitFor(
    async () =>
      (await east.client.list<CoreV1Event>(R.events, { namespace: SYSTEM_NAMESPACE })).items.find(
        (e) =>
          e.involvedObject?.kind === 'Link' &&
          e.involvedObject.name === 'west' &&
          e.reason === reason &&
          (e.message ?? '').includes(text),
      ),
    { what: `a ${reason} Event on Link west naming ${text}` },
  );
}

/**
 * What Linkerd's service mirror does to a mirror of that name that it did not make, the next time
 * the remote Service changes (cluster_watcher.go handleRemoteExportedServiceUpdated): labels and
 * annotations replaced wholesale, and its Endpoints for the name created.
 */
async function linkerdRewrites(east: Cluster, name: string): Promise<V1Service> {
  await updateWithRetry<V1Service>(east.client, R.services, 'default', name, (svc) => ({
    ...svc,
    metadata: {
      ...svc.metadata,
      labels: { ...ourLabels('west', false), app: 'web' },
      annotations: {
        'mirror.linkerd.io/remote-svc-fq-name': 'web.default.svc.cluster.local',
        'mirror.linkerd.io/remote-resource-version': '4712',
      },
    },
  }));
  await east.client.create<KubeObject>(R.endpoints, {
    metadata: {
      name,
      namespace: 'default',
      labels: ourLabels('west', false),
      annotations: {
        'mirror.linkerd.io/remote-gateway-identity':
          'linkerd-gateway.linkerd-multicluster.serviceaccount.identity.linkerd.cluster.local',
      },
    },
    subsets: [{ addresses: [{ ip: '172.18.0.9' }], ports: [{ name: 'http', port: 4143, protocol: 'TCP' }] }],
  } as KubeObject);
  return (await getService(east, 'default', name))!;
}

/** README step 2 for one name: Linkerd's Endpoints, then its mirror Service. */
async function deleteLinkerdMirror(east: Cluster, name: string): Promise<void> {
  await east.client.delete(R.endpoints, 'default', name);
  await east.client.delete(R.services, 'default', name);
}

/** What an Isthmus from before `isthmus.dev/mirror` left: the mirror without the mark. */
async function unmark(east: Cluster, name: string): Promise<void> {
  await updateWithRetry<V1Service>(east.client, R.services, 'default', name, (svc) => {
    const { [ISTHMUS_MIRROR_LABEL]: _mark, ...labels } = svc.metadata?.labels ?? {};
    return { ...svc, metadata: { ...svc.metadata, labels } };
  });
}

/**
 * `linkerd multicluster unlink --cluster-name N`, up to 2.17, as linkerd2's multicluster/cmd/unlink.go
 * does it against the API server: it reads Linkerd's Link first (and fails once it is gone), then
 * prints bare references to its credentials, probe Service, RBAC, service mirror and Link, and to
 * every Service labelled as a mirror of N, Isthmus's among them.
 */
const LINKERD_UNLINK = `#!/bin/sh
ctx=""; name=""
while [ $# -gt 0 ]; do
  case "$1" in
    --context) ctx="--context $2"; shift 2;;
    --cluster-name) name="$2"; shift 2;;
    *) shift;;
  esac
done
ns=linkerd-multicluster
kubectl $ctx -n $ns get links.multicluster.linkerd.io "$name" -o name >/dev/null || exit 1
ref() { printf -- '---\\napiVersion: %s\\nkind: %s\\nmetadata:\\n  name: %s\\n' "$1" "$2" "$3"; [ -n "$4" ] && printf '  namespace: %s\\n' "$4"; return 0; }
ref v1 Secret cluster-credentials-$name $ns
ref v1 Service probe-gateway-$name $ns
ref multicluster.linkerd.io/v1alpha1 Link $name $ns
ref rbac.authorization.k8s.io/v1 ClusterRole linkerd-service-mirror-access-local-resources-$name
ref v1 ServiceAccount linkerd-service-mirror-$name $ns
ref apps/v1 Deployment linkerd-service-mirror-$name $ns
kubectl $ctx get svc -A -l "mirror.linkerd.io/mirrored-service=true,mirror.linkerd.io/cluster-name=$name" \\
  -o jsonpath='{range .items[*]}{.metadata.namespace}{" "}{.metadata.name}{"\\n"}{end}' |
while read -r n s; do [ -n "$s" ] && ref v1 Service "$s" "$n"; done
exit 0
`;

/** The README's shell block that follows `marker`, as a user pastes it. */
function readmeBlock(marker: string): string {
  const readme = readFileSync('README.md', 'utf8');
  const at = readme.indexOf(marker);
  expect(at, `README.md has "${marker}"`).toBeGreaterThanOrEqual(0);
  const block = /```sh\n([\s\S]*?)\n\s*```/.exec(readme.slice(at));
  if (!block?.[1]) throw new Error(`no sh block after "${marker}" in README.md`);
  return block[1].replace(/^ {3}/gm, '');
}

/** Linkerd's Link CRD and its Link to west, which its `unlink` needs. */
async function linkerdLink(east: Cluster, ns: string): Promise<void> {
  await east.client.create(R.crds, {
    metadata: { name: 'links.multicluster.linkerd.io' },
    spec: {
      group: 'multicluster.linkerd.io',
      scope: 'Namespaced',
      names: { plural: 'links', singular: 'link', kind: 'Link', listKind: 'LinkList' },
      versions: [
        {
          name: 'v1alpha1',
          served: true,
          storage: true,
          schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
        },
      ],
    },
  } as KubeObject);
  const links = { group: 'multicluster.linkerd.io', version: 'v1alpha1', plural: 'links', namespaced: true };
  // The CRD's resource is served once it is Established.
  await waitFor(
    () =>
      east.client
        .create(
          links as never,
          {
            apiVersion: 'multicluster.linkerd.io/v1alpha1',
            kind: 'Link',
            metadata: { name: 'west', namespace: ns },
            spec: { targetClusterName: 'west' },
          } as KubeObject,
        )
        .then(
          () => true,
          () => false,
        ),
    { what: "Linkerd's Link to west" },
  );
}

/** A shell script with the real kubectl (and `linkerd`, when in `dir`), run in `dir` as a user would. */
function sh(dir: string, script: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      ['-c', script],
      {
        cwd: dir,
        env: { ...process.env, KUBECONFIG: join(dir, 'kubeconfig'), PATH: `${dir}:${process.env.PATH}` },
        timeout: 30_000,
      },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

/**
 * A follower controller of east sees Linkerd's mirror `web-west` go and writes nothing; meanwhile
 * another Service is given its address. Returns the follower's leadership, to make it lead.
 */
async function followerSeesAddressTaken(
  world: World,
  east: Cluster,
  informers: ReturnType<typeof createLocalInformers>,
  oldIP: string,
  overrides: ControllerOverrides,
): Promise<Leadership> {
  const leadership = new Leadership(false);
  const { ctl } = world.controller('east', { ...overrides, leadership, localInformers: informers });
  await within(ctl.ready, SYNC_DEADLINE_MS, 'the follower ready');
  await deleteLinkerdMirror(east, 'web-west');
  await waitFor(() => informers.services.get('default', 'web-west') === undefined, {
    what: "the controller's cache without Linkerd's mirror",
  });
  await east.client.create<V1Service>(R.services, {
    metadata: { name: 'squatter', namespace: 'default' },
    spec: { clusterIP: oldIP, ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
  });
  return leadership;
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

  it("README step 2 (up to Linkerd 2.17), pasted as it stands, with the real kubectl: Linkerd's objects go, Isthmus's mirrors stay", async () => {
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
    await linkerdLink(east, ns);
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
      writeFileSync(join(dir, 'kubeconfig'), east.sandbox.kubeconfig());
      writeFileSync(join(dir, 'linkerd'), LINKERD_UNLINK, { mode: 0o755 });
      const step2 = await sh(dir, readmeBlock('Up to Linkerd 2.17, save what `unlink` lists first'));
      expect(step2).toMatchObject({ code: 0, stderr: '' });
      expect(step2.stdout.trim().split('\n')).toEqual([
        'link.multicluster.linkerd.io "west" deleted',
        'endpoints "web-west" deleted',
        'secret "cluster-credentials-west" deleted',
        'clusterrole.rbac.authorization.k8s.io "linkerd-service-mirror-access-local-resources-west" deleted',
        'serviceaccount "linkerd-service-mirror-west" deleted',
        'deployment.apps "linkerd-service-mirror-west" deleted',
        'service "web-west" deleted',
      ]);
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

describe('moving from Linkerd multicluster: a mirror name changing hands', () => {
  it('a mirror of ours that Linkerd rewrites loses the slice Isthmus wrote and its egress ports, and the Link says so', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'web', { ready: 1, labels: { app: 'web' } });
    await link(east, west, 'west');
    const { ctl } = world.controller('east');
    await waitReady(east, 'default', 'web-west');
    const ours = (await getService(east, 'default', 'web-west'))!;
    expect(ours.metadata?.annotations?.[EGRESS_PORTS_ANNOTATION]).toBe('http=20000');
    expect(ctl.allocator.owned(mirrorOwner('west', 'default', 'web-west')).size).toBe(1);

    const rewritten = await linkerdRewrites(east, 'web-west');
    // The gateways judge it Linkerd's: no egress listener for it any more.
    expect(claimsRoutes(rewritten)).toBe(false);
    // So nothing of Isthmus's may send callers of web-west to the gateways' egress ports.
    await waitFor(async () => !(await getSlice(east, 'default', 'web-west')), {
      what: "Isthmus's slice of web-west deleted",
    });
    const isthmusSlices = await east.client.list<V1EndpointSlice>(R.endpointSlices, {
      namespace: 'default',
      labelSelector: `${SERVICE_NAME_LABEL}=web-west,${MANAGED_BY_LABEL}=${MANAGED_BY_MIRROR}`,
    });
    expect(isthmusSlices.items).toEqual([]);
    expect(await serviceStatus(east, 'web')).toEqual({
      namespace: 'default',
      name: 'web',
      reason: 'Conflict',
      message:
        "Service default/web-west is Linkerd's mirror of west: unlink west from Linkerd multicluster first",
    });
    await waitFor(() => ctl.allocator.owned(mirrorOwner('west', 'default', 'web-west')).size === 0, {
      what: "web-west's egress port released",
    });
    const event = await linkEvent(east, 'MirrorSliceDeleted', 'default/web-west');
    expect(event.type).toBe('Warning');
    expect(event.message).toMatch(/Linkerd's mirror of west/);
    // The Service itself is Linkerd's now: never written by Isthmus.
    expect((await getService(east, 'default', 'web-west'))?.metadata?.resourceVersion).toBe(
      rewritten.metadata?.resourceVersion,
    );

    // README step 2: Linkerd's goes, ours comes back at the address callers hold.
    await deleteLinkerdMirror(east, 'web-west');
    await waitReady(east, 'default', 'web-west');
    const back = (await getService(east, 'default', 'web-west'))!;
    expect(back.metadata?.labels?.[ISTHMUS_MIRROR_LABEL]).toBe('west');
    expect(back.metadata?.uid).not.toBe(ours.metadata?.uid);
    expect(back.spec?.clusterIP).toBe(ours.spec?.clusterIP);
  });

  it("takes over Linkerd's mirror at the ClusterIP callers already hold", async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    const linkerds = await linkerdMirrorOfWeb(east);
    const oldIP = linkerds.spec?.clusterIP;
    expect(oldIP).toMatch(/^10\.96\.\d+\.\d+$/);
    await exportService(west, 'web', { ready: 1 });
    await link(east, west, 'west');
    const { log, lines } = capturedLog('east');
    world.controller('east', { log });
    await serviceStatus(east, 'web');

    await deleteLinkerdMirror(east, 'web-west');
    await waitReady(east, 'default', 'web-west');
    const ours = (await getService(east, 'default', 'web-west'))!;
    expect(ours.metadata?.labels?.[ISTHMUS_MIRROR_LABEL]).toBe('west');
    expect(ours.spec).toMatchObject({
      type: 'ClusterIP',
      clusterIP: oldIP,
      clusterIPs: [oldIP],
      ipFamilies: ['IPv4'],
    });
    const kept = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => String(l.msg).includes('ClusterIP'));
    expect(kept, lines.join('\n')).toMatchObject({ mirror: 'default/web-west', clusterIP: oldIP });
  });

  it("makes the mirror with a new ClusterIP when Linkerd's is taken meanwhile, and says why", async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    const linkerds = await linkerdMirrorOfWeb(east);
    const oldIP = linkerds.spec!.clusterIP!;
    await exportService(west, 'web', { ready: 1 });
    await link(east, west, 'west');
    // A follower sees Linkerd's mirror go but writes nothing, until it leads: meanwhile another
    // Service is given its address.
    const informers = createLocalInformers(east.client);
    informers.services.start();
    informers.slices.start();
    try {
      const { log, lines } = capturedLog('east');
      const leadership = await followerSeesAddressTaken(world, east, informers, oldIP, { log });
      leadership.set(true);

      await waitReady(east, 'default', 'web-west');
      const ours = (await getService(east, 'default', 'web-west'))!;
      expect(ours.metadata?.labels?.[ISTHMUS_MIRROR_LABEL]).toBe('west');
      expect(ours.spec?.clusterIP).toMatch(/^10\.96\./);
      expect(ours.spec?.clusterIP).not.toBe(oldIP);
      const refused = lines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => String(l.msg).includes('ClusterIP'));
      expect(refused, lines.join('\n')).toMatchObject({ mirror: 'default/web-west', clusterIP: oldIP });
      expect(String(refused?.reason)).toMatch(/provided IP is already allocated/);
      const event = await linkEvent(east, 'ClusterIPNotKept', 'default/web-west');
      expect(event.type).toBe('Warning');
      expect(event.message).toContain(oldIP);
    } finally {
      await Promise.all([informers.services.stop(), informers.slices.stop()]);
    }
  });

  it('says the ClusterIP was not kept even when a later write of the same sync fails', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    const oldIP = (await linkerdMirrorOfWeb(east)).spec!.clusterIP!;
    await exportService(west, 'web', { ready: 1 });
    await link(east, west, 'west');
    const informers = createLocalInformers(east.client);
    informers.services.start();
    informers.slices.start();
    // The mirror's first slice create meets a 503: its sync fails after the Service was created,
    // and the retry finds the Service there, with nothing left to say about its address.
    const flaky = new FlakyClient(
      east.sandbox.kubeconfig(),
      0,
      (method, path) => method === 'POST' && path.includes('/endpointslices'),
    );
    try {
      const leadership = await followerSeesAddressTaken(world, east, informers, oldIP, { client: flaky });
      flaky.failuresLeft = 1;
      leadership.set(true);

      await waitReady(east, 'default', 'web-west');
      expect(flaky.failuresLeft).toBe(0);
      expect((await getService(east, 'default', 'web-west'))?.spec?.clusterIP).not.toBe(oldIP);
      const event = await linkEvent(east, 'ClusterIPNotKept', 'default/web-west');
      expect(event.message).toContain(oldIP);
    } finally {
      flaky.close();
      await Promise.all([informers.services.stop(), informers.slices.stop()]);
    }
  });
});
