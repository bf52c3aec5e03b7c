import { describe, expect, it } from 'vitest';
import { linkCredentialsAccess, rbacManifests } from '../cli/install/rbac.js';
import { applyObjects } from '../cli/lab/apply-objects.js';
import { serviceAccountToken } from '../cli/lab/bootstrap.js';
import { updateWithRetry } from '../kube/apply.js';
import { KubeClient } from '../kube/client.js';
import { EGRESS_PORTS_ANNOTATION, REMOTE_SVC_FQ_NAME_ANNOTATION, SYSTEM_NAMESPACE } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { CoreV1Event, V1ConfigMap, V1Namespace, V1Service } from '../kube/types.js';
import { foreignService, linkerdMirror } from './test-builders.js';
import {
  condition,
  eastMirrorsWest,
  editLinkSpec,
  exportService,
  getLink,
  getService,
  getSlice,
  link,
  mirrorsOf,
  waitFor,
  waitReady,
  worldPerTest,
} from './test-harness.js';

const startWorld = worldPerTest();

describe('mirror lifecycle', () => {
  it('follows port changes and deletion of the remote service', async () => {
    const world = await startWorld(['east', 'west']);
    const { east, west } = await eastMirrorsWest(world, 'podinfo');

    const svc = await getService(west, 'default', 'podinfo');
    await west.client.replace(R.services, {
      ...svc,
      spec: {
        ...svc!.spec,
        ports: [
          { name: 'http', port: 9898, protocol: 'TCP' },
          { name: 'grpc', port: 9999, protocol: 'TCP' },
        ],
      },
    });
    const mirror = await waitFor(async () => {
      const m = await getService(east, 'default', 'podinfo-west');
      return m?.spec?.ports?.length === 2 ? m : undefined;
    });
    expect(mirror.spec?.ports?.map((p) => p.port)).toEqual([9898, 9999]);
    expect(mirror.metadata?.annotations?.[EGRESS_PORTS_ANNOTATION]).toBe('http=20000,grpc=20001');
    await waitFor(async () => (await getSlice(east, 'default', 'podinfo-west'))?.ports?.length === 2);

    await west.client.delete(R.services, 'default', 'podinfo');
    await waitFor(async () => !(await getService(east, 'default', 'podinfo-west')), {
      what: 'mirror deleted',
    });
    expect(await getSlice(east, 'default', 'podinfo-west')).toBeUndefined();
  });

  it('mirrors only the TCP ports through the gateways (a Warning says which were left), none for UDP alone', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    const dnsPorts = [
      { name: 'dns', port: 53, protocol: 'UDP' },
      { name: 'dns-tcp', port: 53, protocol: 'TCP' },
    ];
    await exportService(west, 'dns', { ready: 1, ports: dnsPorts });
    await exportService(west, 'syslog', {
      ready: 1,
      ports: [{ name: 'syslog', port: 514, protocol: 'UDP' }],
    });
    await link(east, west, 'west');
    world.controller('east');
    const slice = await waitReady(east, 'default', 'dns-west');
    expect(slice.ports).toEqual([{ name: 'dns-tcp', port: 20000, protocol: 'TCP' }]);
    const mirror = await getService(east, 'default', 'dns-west');
    expect(mirror?.spec?.ports?.map((p) => `${p.name} ${p.port}/${p.protocol}`)).toEqual(['dns-tcp 53/TCP']);
    expect(mirror?.metadata?.annotations?.[EGRESS_PORTS_ANNOTATION]).toBe('dns-tcp=20000');
    const l = await waitFor(async () => {
      const got = await getLink(east, 'west');
      return got?.status?.services?.length ? got : undefined;
    });
    expect(l.status?.services?.map((s) => [s.name, s.reason])).toEqual([['syslog', 'InvalidService']]);
    expect(await getService(east, 'default', 'syslog-west')).toBeUndefined();
    await waitFor(async () => {
      const list = await east.client.list<CoreV1Event>(R.events, { namespace: 'isthmus-system' });
      return list.items.some(
        (e) =>
          e.reason === 'PortsNotMirrored' &&
          e.type === 'Warning' &&
          e.message === 'default/dns: dns (53/UDP) not mirrored: only TCP crosses the gateways',
      );
    });
  });

  it('waits for a missing namespace, then mirrors as soon as it appears', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'api', { namespace: 'shop', ready: 1 });
    await link(east, west, 'west');
    world.controller('east');
    await waitFor(
      async () =>
        (await getLink(east, 'west'))?.status?.services?.some((s) => s.reason === 'MissingNamespace'),
      { what: 'MissingNamespace status' },
    );
    expect(await getService(east, 'shop', 'api-west')).toBeUndefined();
    await east.client.create(R.namespaces, { metadata: { name: 'shop' } });
    await waitReady(east, 'shop', 'api-west');
    await waitFor(async () => (await getLink(east, 'west'))?.status?.services?.length === 0);
  });

  it('a namespace held in Terminating counts as missing: reported, not claimed, and mirrored again once re-created', async () => {
    const services = ['api', 'cart', 'web'];
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await east.client.create(R.namespaces, { metadata: { name: 'shop' } });
    for (const name of services) await exportService(west, name, { namespace: 'shop', ready: 1 });
    await link(east, west, 'west');
    world.controller('east');
    const saysMirrored = (n: number) => {
      const message = `${n} services mirrored`;
      const ready = async () => condition(await getLink(east, 'west'), 'Ready')?.message === message;
      return waitFor(ready, { what: `Ready: ${message}` });
    };
    for (const name of services) await waitReady(east, 'shop', `${name}-west`);
    await saysMirrored(3);

    // Something in it with a finalizer (an operator's, a PVC's protection) holds the namespace.
    await east.client.create(R.configMaps, {
      metadata: { name: 'held', namespace: 'shop', finalizers: ['example.com/hold'] },
    });
    await east.client.delete(R.namespaces, undefined, 'shop');
    const terminating = await waitFor(
      async () => {
        const l = await getLink(east, 'west');
        const listed = l?.status?.services ?? [];
        return listed.length === 3 && listed.every((s) => s.reason === 'MissingNamespace') ? l : undefined;
      },
      { what: 'every service MissingNamespace' },
    );
    expect(terminating.status?.services?.map((s) => [s.name, s.message])).toEqual(
      services.map((name) => [
        name,
        'namespace shop is being deleted locally: mirrored again once it is re-created',
      ]),
    );
    await saysMirrored(0);
    expect((await getLink(east, 'west'))?.status?.mirroredServices).toBe(0);
    expect(await mirrorsOf(east, 'west')).toEqual([]);

    // Released, the namespace goes; re-created, the mirrors come back without a restart.
    await updateWithRetry<V1ConfigMap>(east.client, R.configMaps, 'shop', 'held', (cm) => ({
      ...cm,
      metadata: { ...cm.metadata, finalizers: [] },
    }));
    await waitFor(async () => !(await east.client.get<V1Namespace>(R.namespaces, undefined, 'shop')), {
      what: 'namespace shop gone',
    });
    await east.client.create(R.namespaces, { metadata: { name: 'shop' } });
    for (const name of services) await waitReady(east, 'shop', `${name}-west`);
    await saysMirrored(3);
    await waitFor(async () => (await getLink(east, 'west'))?.status?.services?.length === 0, {
      what: 'no service listed as not mirrored',
    });
  });

  it('creates a missing namespace for a Link that enables it, once the install grants it; the namespace outlives the Link', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    // The controller runs as its service account, under the RBAC `isthmus install` renders.
    const installRbac = (enableNamespaceCreation: boolean) =>
      applyObjects(
        east.client,
        rbacManifests({ namespace: SYSTEM_NAMESPACE, enableNamespaceCreation, gateway: true }),
      );
    await installRbac(false);
    await applyObjects(
      east.client,
      linkCredentialsAccess('west', 'cluster-credentials-west', SYSTEM_NAMESPACE),
    );
    const token = await serviceAccountToken(east.client, 'isthmus-controller');
    const client = KubeClient.fromKubeconfigString(east.sandbox.kubeconfig({ token, user: 'controller' }));
    try {
      await exportService(west, 'api', { namespace: 'shop', ready: 1 });
      await exportService(west, 'web', { namespace: 'shop', ready: 1 });
      await link(east, west, 'west', { enableNamespaceCreation: true });
      world.controller('east', { client });
      const refused = await waitFor(
        async () => {
          const services = (await getLink(east, 'west'))?.status?.services ?? [];
          return services.length === 2 && services.every((s) => s.reason === 'MissingNamespace')
            ? services
            : undefined;
        },
        { what: 'MissingNamespace without the grant' },
      );
      expect(refused[0]?.message).toMatch(
        /namespace shop does not exist locally and the controller may not create it \(isthmus install --enable-namespace-creation grants it\): .*forbidden/,
      );
      expect(await east.client.get(R.namespaces, undefined, 'shop')).toBeUndefined();

      // Granted later: the retries (with backoff) mirror both, without a restart.
      await installRbac(true);
      await waitReady(east, 'shop', 'api-west');
      await waitReady(east, 'shop', 'web-west');
      const ns = await east.client.get<V1Namespace>(R.namespaces, undefined, 'shop');
      expect(ns?.metadata?.labels).toMatchObject({
        'mirror.linkerd.io/mirrored-service': 'true',
        'mirror.linkerd.io/cluster-name': 'west',
      });
      await waitFor(async () => (await getLink(east, 'west'))?.status?.services?.length === 0, {
        what: 'no service left unmirrored',
      });

      // Deleted while the Link still mirrors into it, the namespace comes back with its mirrors.
      const before = ns?.metadata?.uid;
      await east.client.delete(R.namespaces, undefined, 'shop');
      await waitFor(
        async () => {
          const again = await east.client.get<V1Namespace>(R.namespaces, undefined, 'shop');
          return again && again.metadata?.uid !== before && !again.metadata?.deletionTimestamp;
        },
        { what: 'shop re-created' },
      );
      await waitReady(east, 'shop', 'api-west');

      // Unlinking removes the mirrors, never the namespace: it may hold things that are not ours.
      await east.client.delete(R.links, SYSTEM_NAMESPACE, 'west');
      await waitFor(async () => !(await getLink(east, 'west')), { what: 'Link finalized' });
      expect(await getService(east, 'shop', 'api-west')).toBeUndefined();
      expect(await east.client.get(R.namespaces, undefined, 'shop')).toBeDefined();
    } finally {
      client.close();
    }
  });

  it("reads only its Link's own credentials Secret: without the Role `isthmus link` prints, the Link says which to apply", async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await applyObjects(
      east.client,
      rbacManifests({ namespace: SYSTEM_NAMESPACE, enableNamespaceCreation: false, gateway: true }),
    );
    const token = await serviceAccountToken(east.client, 'isthmus-controller');
    const client = KubeClient.fromKubeconfigString(east.sandbox.kubeconfig({ token, user: 'controller' }));
    try {
      // The identity issuer's key lives in the same namespace: out of the controller's reach.
      await east.client.create(R.secrets, {
        metadata: { name: 'isthmus-issuer', namespace: SYSTEM_NAMESPACE },
        type: 'kubernetes.io/tls',
        stringData: { 'tls.crt': 'x', 'tls.key': 'x' },
      });
      await expect(client.get(R.secrets, SYSTEM_NAMESPACE, 'isthmus-issuer')).rejects.toThrow(/forbidden/);
      await expect(client.list(R.secrets, { namespace: SYSTEM_NAMESPACE })).rejects.toThrow(/forbidden/);

      await exportService(west, 'web', { ready: 1 });
      await link(east, west, 'west');
      world.controller('east', { client });
      const refused = await waitFor(
        async () => {
          const c = condition(await getLink(east, 'west'), 'Ready');
          return c?.reason === 'CredentialsUnavailable' ? c : undefined;
        },
        { what: 'CredentialsUnavailable' },
      );
      expect(refused.message).toMatch(
        /the controller may not read Secret cluster-credentials-west: apply the Role and RoleBinding isthmus-controller-credentials-west that `isthmus link` prints/,
      );

      // Applied later (as `isthmus link | kubectl apply` does): mirrored without a restart.
      await applyObjects(
        east.client,
        linkCredentialsAccess('west', 'cluster-credentials-west', SYSTEM_NAMESPACE),
      );
      await waitReady(east, 'default', 'web-west');
      await expect(client.get(R.secrets, SYSTEM_NAMESPACE, 'isthmus-issuer')).rejects.toThrow(/forbidden/);
    } finally {
      client.close();
    }
  });

  it('a mirror the local API server refuses to re-create (RBAC 403) is ApplyFailed in the status, no longer counted as mirrored', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await east.client.create(R.namespaces, { metadata: { name: 'locked' } });
    await exportService(west, 'web', { ready: 1, namespace: 'locked' });
    await link(east, west, 'west');
    const first = world.controller('east');
    await waitReady(east, 'locked', 'web-west');
    await first.stop();
    // Restarted with an account that may no longer create Services in `locked` (a Role edited).
    east.sandbox.addToken('restricted-controller', {
      username: 'isthmus-controller',
      rules: [
        { verbs: ['get', 'list', 'watch', 'update', 'patch', 'delete'], resources: ['*'] },
        { verbs: ['create'], resources: ['endpointslices', 'events'] },
        { verbs: ['create'], resources: ['services'], namespaces: ['default'] },
      ],
    });
    const client = KubeClient.fromKubeconfigString(
      east.sandbox.kubeconfig({ token: 'restricted-controller', user: 'controller' }),
    );
    try {
      const { ctl } = world.controller('east', { client });
      await waitFor(() => ctl.manager()?.watcher(SYSTEM_NAMESPACE, 'west')?.settled(), { what: 'settled' });
      expect((await getLink(east, 'west'))?.status?.mirroredServices).toBe(1);

      await east.client.delete(R.services, 'locked', 'web-west');
      const l = await waitFor(
        async () => {
          const got = await getLink(east, 'west');
          return got?.status?.services?.length ? got : undefined;
        },
        { what: 'web listed as not mirrored' },
      );
      expect(l.status?.services).toEqual([
        {
          namespace: 'locked',
          name: 'web',
          reason: 'ApplyFailed',
          message: expect.stringMatching(
            /^the local API server refused the mirror: POST .*: 403 Forbidden: .*cannot create resource "services"/,
          ),
        },
      ]);
      expect(l.status?.mirroredServices).toBe(0);
    } finally {
      client.close();
    }
  });

  it('never overwrites a local object that is not ours (Conflict + Warning Event) and rejects long names', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    const stranger = await east.client.create<V1Service>(R.services, foreignService('web-west'));
    await exportService(west, 'web', { ready: 1 });
    const long = 'a'.repeat(60);
    await exportService(west, long, { ready: 1 });
    await exportService(west, 'ok', { ready: 1 });
    await link(east, west, 'west');
    world.controller('east');
    await waitReady(east, 'default', 'ok-west');
    const l = await waitFor(async () => {
      const got = await getLink(east, 'west');
      return (got?.status?.services?.length ?? 0) >= 2 ? got : undefined;
    });
    expect(l.status?.services?.map((s) => [s.name, s.reason])).toEqual([
      [long, 'InvalidService'],
      ['web', 'Conflict'],
    ]);
    const after = await getService(east, 'default', 'web-west');
    expect(after?.metadata?.resourceVersion).toBe(stranger.metadata?.resourceVersion);
    const events = await waitFor(async () => {
      const list = await east.client.list<CoreV1Event>(R.events, { namespace: 'isthmus-system' });
      return list.items.some((e) => e.reason === 'Conflict' && e.type === 'Warning') ? list.items : undefined;
    });
    expect(events.find((e) => e.reason === 'Conflict')?.involvedObject.kind).toBe('Link');
  });

  it("leaves Linkerd's mirrors of the same cluster alone mid-migration, and takes over each one Linkerd lets go", async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    const linkerds = {
      web: await east.client.create<V1Service>(R.services, linkerdMirror('web-west', 'west')),
      api: await east.client.create<V1Service>(R.services, linkerdMirror('api-west', 'west')),
    };
    for (const name of ['web', 'api', 'ok']) await exportService(west, name, { ready: 1 });
    await link(east, west, 'west');
    world.controller('east');
    await waitReady(east, 'default', 'ok-west');
    const l = await waitFor(async () => {
      const got = await getLink(east, 'west');
      return got?.status?.services?.length === 2 ? got : undefined;
    });
    for (const name of ['api', 'web'])
      expect(l.status?.services).toContainEqual(
        expect.objectContaining({
          name,
          reason: 'Conflict',
          message: expect.stringContaining('unlink west from Linkerd multicluster first'),
        }),
      );
    expect(await getSlice(east, 'default', 'web-west')).toBeUndefined();
    expect((await getService(east, 'default', 'web-west'))?.metadata?.resourceVersion).toBe(
      linkerds.web.metadata?.resourceVersion,
    );

    // `linkerd multicluster unlink` deletes Linkerd's mirror: ours follows at once, no resync needed.
    await east.client.delete(R.services, 'default', 'web-west');
    await waitReady(east, 'default', 'web-west');
    expect((await getService(east, 'default', 'web-west'))?.metadata?.annotations).toHaveProperty(
      EGRESS_PORTS_ANNOTATION,
    );

    // Deleting our Link takes our mirrors and leaves Linkerd's.
    await east.client.delete(R.links, SYSTEM_NAMESPACE, 'west');
    await waitFor(async () => !(await getLink(east, 'west')), { what: 'Link finalized' });
    expect(await getService(east, 'default', 'web-west')).toBeUndefined();
    expect(await getService(east, 'default', 'ok-west')).toBeUndefined();
    expect((await getService(east, 'default', 'api-west'))?.metadata?.resourceVersion).toBe(
      linkerds.api.metadata?.resourceVersion,
    );
  });

  it('mirrors headless services with per-pod mirrors when the Link opts in', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'db', { headless: true, ready: 2, hostnames: ['db-0', 'db-1'] });
    await link(east, west, 'west', { mirrorHeadless: true });
    world.controller('east');
    const parent = await waitFor(
      async () => {
        const s = await getSlice(east, 'default', 'db-west');
        return s?.endpoints?.length === 2 ? s : undefined;
      },
      { what: 'headless parent slice' },
    );
    const pod0 = await getService(east, 'default', 'db-0-west');
    expect(pod0?.metadata?.annotations?.[REMOTE_SVC_FQ_NAME_ANNOTATION]).toBe(
      'db-0.db.default.svc.cluster.local',
    );
    expect((await getService(east, 'default', 'db-west'))?.spec?.clusterIP).toBe('None');
    expect(parent.endpoints?.map((e) => e.hostname).sort()).toEqual(['db-0', 'db-1']);
    expect(parent.endpoints?.find((e) => e.hostname === 'db-0')?.addresses).toEqual([pod0?.spec?.clusterIP]);
    // Labelled as kube labels a headless Service's slices; a per-pod mirror has a cluster IP.
    expect(parent.metadata?.labels?.['service.kubernetes.io/headless']).toBe('');
    const pod1 = await waitReady(east, 'default', 'db-1-west');
    expect(pod1.metadata?.labels).not.toHaveProperty('service.kubernetes.io/headless');

    // Opting out turns the mirror into a plain one and removes the per-pod mirrors.
    await editLinkSpec(east, 'west', (spec) => ({ ...spec, mirrorHeadless: false }));
    await waitFor(async () => !(await getService(east, 'default', 'db-0-west')), {
      what: 'per-pod mirrors gone',
    });
    const plain = await waitFor(
      async () => {
        const s = await getService(east, 'default', 'db-west');
        return s?.spec?.clusterIP && s.spec.clusterIP !== 'None' ? s : undefined;
      },
      { what: 'plain mirror' },
    );
    expect(plain.metadata?.annotations?.[EGRESS_PORTS_ANNOTATION]).toMatch(/^http=\d+$/);
    const plainSlice = await waitReady(east, 'default', 'db-west');
    expect(plainSlice.metadata?.labels).not.toHaveProperty('service.kubernetes.io/headless');
  });

  it('an edited Link re-reconciles in place; a deleted Link takes its mirrors and releases the finalizer', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'podinfo', { ready: 1, labels: { team: 'a' } });
    await link(east, west, 'west');
    world.controller('east');
    await waitReady(east, 'default', 'podinfo-west');
    const before = await getService(east, 'default', 'podinfo-west');
    expect(before?.metadata?.labels?.team).toBe('a');

    await editLinkSpec(east, 'west', (spec) => ({ ...spec, excludedLabels: ['team'] }));
    await waitFor(
      async () => (await getService(east, 'default', 'podinfo-west'))?.metadata?.labels?.team === undefined,
    );
    expect((await getService(east, 'default', 'podinfo-west'))?.metadata?.uid).toBe(before?.metadata?.uid);

    await east.client.delete(R.links, 'isthmus-system', 'west');
    await waitFor(async () => !(await getLink(east, 'west')), { what: 'Link gone after clean-up' });
    expect(await getService(east, 'default', 'podinfo-west')).toBeUndefined();
    expect(await getSlice(east, 'default', 'podinfo-west')).toBeUndefined();
  });

  it('reports an invalid Link in its status instead of crashing', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    // Passes the CRD schema, fails the controller's checks: In needs values.
    await link(east, west, 'west', { selector: { matchExpressions: [{ key: 'tier', operator: 'In' }] } });
    world.controller('east');
    await waitFor(async () => condition(await getLink(east, 'west'), 'Ready')?.reason === 'LinkInvalid', {
      what: 'LinkInvalid',
    });
    expect(condition(await getLink(east, 'west'), 'Ready')?.message).toMatch(/needs values/);
  });

  it('reports egress port exhaustion in the status and mirrors once a port is freed', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'one', { ready: 1 });
    await link(east, west, 'west');
    world.controller('east', { egressPortRange: { first: 20000, last: 20000 } });
    await waitReady(east, 'default', 'one-west');
    await exportService(west, 'two', { ready: 1 });
    await waitFor(
      async () =>
        (await getLink(east, 'west'))?.status?.services?.some((p) => p.reason === 'PortRangeExhausted'),
      { what: 'PortRangeExhausted status' },
    );
    expect(await getService(east, 'default', 'two-west')).toBeUndefined();
    await west.client.delete(R.services, 'default', 'one');
    const svc = await waitFor(async () => getService(east, 'default', 'two-west'), { what: 'two mirrored' });
    expect(svc.metadata?.annotations?.[EGRESS_PORTS_ANNOTATION]).toBe('http=20000');
  });

  it('a Service whose ports do not fit holds none of them: a smaller one that fits is mirrored', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    const ports = ['a', 'b', 'c'].map((name, i) => ({ name, port: i + 1 }));
    await exportService(west, 'big', { ready: 1, ports });
    await link(east, west, 'west');
    const { ctl } = world.controller('east', { egressPortRange: { first: 20000, last: 20001 } });
    await waitFor(
      async () =>
        (await getLink(east, 'west'))?.status?.services?.some(
          (p) => p.name === 'big' && p.reason === 'PortRangeExhausted',
        ),
      { what: 'big: PortRangeExhausted' },
    );
    expect(await getService(east, 'default', 'big-west')).toBeUndefined();
    expect(ctl.allocator.size).toBe(0);

    await exportService(west, 'small', { ready: 1 });
    const small = await waitFor(async () => getService(east, 'default', 'small-west'), {
      what: 'small mirrored',
    });
    expect(small.metadata?.annotations?.[EGRESS_PORTS_ANNOTATION]).toBe('http=20000');
    // big is still retried and still does not fit; it took nothing meanwhile.
    expect(ctl.allocator.size).toBe(1);
  });
});
