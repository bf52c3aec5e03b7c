import { describe, expect, it } from 'vitest';
import { updateWithRetry } from '../kube/apply.js';
import {
  REMOTE_GATEWAY_ANNOTATION,
  REMOTE_KUBECONFIG_KEY,
  REMOTE_KUBECONFIG_SECRET_TYPE,
  SYSTEM_NAMESPACE,
} from '../kube/keys.js';
import { R } from '../kube/resources.js';
import { requestServiceAccountToken } from '../kube/token-request.js';
import type { Link, V1Secret } from '../kube/types.js';
import { CREDENTIALS_KEPT } from './link-status.js';
import { linkObject } from './test-builders.js';
import {
  addReaderToken,
  type Cluster,
  condition,
  credentialsSecret,
  eastMirrorsWest,
  editLinkSpec,
  exportService,
  getLink,
  getService,
  link,
  linkReadyReason,
  metricValue,
  mirrorIdentityOf,
  mirrorsOf,
  setCredentialsToken,
  waitFor,
  waitReady,
  worldPerTest,
} from './test-harness.js';

const startWorld = worldPerTest();

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

/** The data of a Secret in the install namespace. */
async function secretData(c: Cluster, name: string): Promise<Record<string, string>> {
  const secret = await c.client.get<V1Secret>(R.secrets, SYSTEM_NAMESPACE, name);
  return { ...secret?.data };
}

/** Replaces a Secret's data, as a hand edit (or a broken tool) would. */
async function setSecretData(c: Cluster, name: string, data: Record<string, string>): Promise<void> {
  await updateWithRetry<V1Secret>(c.client, R.secrets, SYSTEM_NAMESPACE, name, (secret) => ({
    ...secret,
    data,
  }));
}

/** A kubeconfig without its current-context: it names no context to use. */
function withoutCurrentContext(kubeconfig: string): string {
  const lines = kubeconfig.split('\n');
  const kept = lines.filter((l) => !l.startsWith('current-context:'));
  if (kept.length !== lines.length - 1) throw new Error(`no current-context line in:\n${kubeconfig}`);
  return kept.join('\n');
}

describe('Link behaviour', () => {
  it('a selector edit re-lists the remote and removes only what no longer matches', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'web', { ready: 1, labels: { tier: 'web' } });
    await exportService(west, 'db', { ready: 1, labels: { tier: 'db' } });
    await link(east, west, 'west');
    world.controller('east');
    await waitReady(east, 'default', 'web-west');
    await waitReady(east, 'default', 'db-west');
    const webUid = (await getService(east, 'default', 'web-west'))?.metadata?.uid;

    await editLinkSpec(east, 'west', (spec) => ({
      ...spec,
      selector: { matchLabels: { 'mirror.linkerd.io/exported': 'true', tier: 'web' } },
    }));
    await waitFor(async () => !(await getService(east, 'default', 'db-west')), { what: 'db mirror removed' });
    expect((await getService(east, 'default', 'web-west'))?.metadata?.uid).toBe(webUid);

    // An empty selector mirrors nothing.
    await editLinkSpec(east, 'west', (spec) => ({ ...spec, selector: {} }));
    await waitFor(async () => (await mirrorsOf(east, 'west')).length === 0, { what: 'all mirrors removed' });
  });

  it('reports missing credentials, then connects once the Secret appears', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'podinfo', { ready: 1 });
    await east.client.create<Link>(R.links, linkObject('west', { clusterCredentialsSecret: 'creds-west' }));
    const { ctl } = world.controller('east');
    await waitFor(
      async () => condition(await getLink(east, 'west'), 'Ready')?.reason === 'CredentialsUnavailable',
      {
        what: 'CredentialsUnavailable',
      },
    );
    // Nothing can be listed without credentials: 0, not absent, or `isthmus_remote_api_up == 0` never fires.
    const apiUp = () => metricValue(ctl.registry, 'isthmus_remote_api_up', { target_cluster_name: 'west' });
    await waitFor(async () => (await apiUp()) === 0, { what: 'isthmus_remote_api_up 0' });
    await credentialsSecret(east, west, 'creds-west');
    await waitReady(east, 'default', 'podinfo-west', true, 15_000);
    await waitFor(async () => condition(await getLink(east, 'west'), 'Ready')?.status === 'True');
    expect(await apiUp()).toBe(1);
  });

  it('a credentials Secret deleted while connected: the connection keeps running on what it read, and the status says so once', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'podinfo', { ready: 1 });
    await link(east, west, 'west');
    const logged: { msg: string; fields: object }[] = [];
    const record = (fields: object, msg: string) => logged.push({ msg, fields });
    world.controller('east', { log: { info: record, warn: record, error: record, debug() {} } });
    await waitReady(east, 'default', 'podinfo-west');

    await east.client.delete(R.secrets, SYSTEM_NAMESPACE, 'cluster-credentials-west');
    const ready = await waitFor(
      async () => {
        const c = condition(await getLink(east, 'west'), 'Ready');
        return c?.message.includes('not found') ? c : undefined;
      },
      { what: 'Ready names the missing Secret' },
    );
    // It still mirrors, so it is Ready, connected, and says what it runs on.
    expect(ready).toMatchObject({ status: 'True', reason: 'Synced' });
    expect(ready.message).toBe(
      '1 services mirrored; Secret cluster-credentials-west not found: the connection keeps running on the credentials read before (a restarted controller cannot connect until the Secret is usable again)',
    );
    expect(condition(await getLink(east, 'west'), 'RemoteAPIAvailable')).toMatchObject({
      status: 'True',
      reason: 'Connected',
    });
    await exportService(west, 'api', { ready: 1 });
    await waitReady(east, 'default', 'api-west');
    // Said once (a Warning log and Event), not as a sync failing every few seconds.
    expect(logged.filter((l) => l.msg === 'mirror sync failed')).toEqual([]);
    expect(logged.filter((l) => l.msg.includes('credentials'))).toHaveLength(1);

    // The Secret back (`isthmus link` re-run): the note goes.
    await credentialsSecret(east, west, 'cluster-credentials-west');
    await waitFor(
      async () => condition(await getLink(east, 'west'), 'Ready')?.message === '2 services mirrored',
      {
        what: 'note cleared',
      },
    );
  });

  it('a credentials Secret made unusable while connected (no kubeconfig key, not YAML, no context): each problem in the status, the connection and mirrors kept; fixed, the note goes', async () => {
    const world = await startWorld(['east', 'west']);
    const { east, west, ctl } = await eastMirrorsWest(world, 'podinfo');
    const mirror = mirrorIdentityOf(await getService(east, 'default', 'podinfo-west'));
    const good = await secretData(east, 'cluster-credentials-west');
    const kubeconfig = Buffer.from(good.kubeconfig ?? '', 'base64').toString('utf8');
    const source = 'secret isthmus-system/cluster-credentials-west';
    const broken: [string, Record<string, string>, string][] = [
      [
        'no kubeconfig key',
        { config: b64(kubeconfig) },
        `${source}: missing key "kubeconfig" (keys: config)`,
      ],
      ['not YAML', { kubeconfig: b64('clusters: [') }, `${source}: not YAML: `],
      [
        'no context',
        { kubeconfig: b64(withoutCurrentContext(kubeconfig)) },
        `${source}: no current-context and none given`,
      ],
    ];
    for (const [what, data, problem] of broken) {
      await setSecretData(east, 'cluster-credentials-west', data);
      const ready = await waitFor(
        async () => {
          const c = condition(await getLink(east, 'west'), 'Ready');
          return c?.message.includes(problem) ? c : undefined;
        },
        { what: `Ready naming the Secret's problem: ${what}` },
      );
      // Still mirroring on the credentials read before: Ready, connected, and saying so.
      expect(ready).toMatchObject({ status: 'True', reason: 'Synced' });
      expect(ready.message).toMatch(/^1 services mirrored; /);
      expect(ready.message.endsWith(CREDENTIALS_KEPT)).toBe(true);
      expect(condition(await getLink(east, 'west'), 'RemoteAPIAvailable')).toMatchObject({
        status: 'True',
        reason: 'Connected',
      });
      expect(mirrorIdentityOf(await getService(east, 'default', 'podinfo-west'))).toEqual(mirror);
    }
    // The connection works on: a new export is mirrored.
    await exportService(west, 'api', { ready: 1 });
    await waitReady(east, 'default', 'api-west');

    // Fixed (the Secret as `isthmus link` wrote it): the note goes, the mirrors are the same ones.
    await setSecretData(east, 'cluster-credentials-west', good);
    await waitFor(
      async () => condition(await getLink(east, 'west'), 'Ready')?.message === '2 services mirrored',
      { what: 'the note cleared' },
    );
    expect(mirrorIdentityOf(await getService(east, 'default', 'podinfo-west'))).toEqual(mirror);
    expect(await metricValue(ctl.registry, 'isthmus_remote_api_up', { target_cluster_name: 'west' })).toBe(1);
  });

  it('a controller started on a malformed credentials Secret: CredentialsUnavailable naming the problem, the mirrors kept; connects once the Secret is fixed', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'podinfo', { ready: 1 });
    await link(east, west, 'west');
    const first = world.controller('east');
    await waitReady(east, 'default', 'podinfo-west');
    await first.stop();
    const mirror = mirrorIdentityOf(await getService(east, 'default', 'podinfo-west'));
    const good = await secretData(east, 'cluster-credentials-west');
    await setSecretData(east, 'cluster-credentials-west', { kubeconfig: b64('clusters: [') });

    // Restarted (a new leader, an upgrade): nothing to connect with, and nothing read before.
    const { ctl } = world.controller('east');
    const l = await linkReadyReason(east, 'west', 'CredentialsUnavailable');
    expect(condition(l, 'Ready')).toMatchObject({ status: 'False' });
    expect(condition(l, 'Ready')?.message).toMatch(
      /^secret isthmus-system\/cluster-credentials-west: not YAML: /,
    );
    expect(condition(l, 'RemoteAPIAvailable')).toMatchObject({
      status: 'False',
      reason: 'Unreachable',
      message: condition(l, 'Ready')?.message,
    });
    const apiUp = () => metricValue(ctl.registry, 'isthmus_remote_api_up', { target_cluster_name: 'west' });
    await waitFor(async () => (await apiUp()) === 0, { what: 'isthmus_remote_api_up 0' });
    // Nothing was listed, so nothing is taken for gone: the mirror is the one made before.
    expect(mirrorIdentityOf(await getService(east, 'default', 'podinfo-west'))).toEqual(mirror);

    await setSecretData(east, 'cluster-credentials-west', good);
    await waitFor(async () => condition(await getLink(east, 'west'), 'Ready')?.status === 'True', {
      what: 'Ready once the Secret is fixed',
    });
    await exportService(west, 'api', { ready: 1 });
    await waitReady(east, 'default', 'api-west');
    expect(mirrorIdentityOf(await getService(east, 'default', 'podinfo-west'))).toEqual(mirror);
    expect(await apiUp()).toBe(1);
  });

  it('a Link whose remote API server is unreachable from the start: RemoteAPIAvailable False/Unreachable, nothing mirrored; connects and mirrors once it answers', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'podinfo', { ready: 1 });
    // Down before anything connects: its address refuses connections.
    await west.sandbox.faults.goOffline();
    await link(east, west, 'west');
    const { ctl } = world.controller('east');
    const api = await waitFor(
      async () => {
        const c = condition(await getLink(east, 'west'), 'RemoteAPIAvailable');
        return c?.reason === 'Unreachable' ? c : undefined;
      },
      { what: 'RemoteAPIAvailable=False/Unreachable' },
    );
    expect(api.status).toBe('False');
    expect(api.message).toMatch(/ECONNREFUSED|refused/);
    expect(condition(await getLink(east, 'west'), 'Ready')).toMatchObject({
      status: 'False',
      reason: 'Syncing',
    });
    const apiUp = () => metricValue(ctl.registry, 'isthmus_remote_api_up', { target_cluster_name: 'west' });
    await waitFor(async () => (await apiUp()) === 0, { what: 'isthmus_remote_api_up 0' });
    expect(await getService(east, 'default', 'podinfo-west')).toBeUndefined();

    // Up at that address (the server started, the network fixed): connected, listed, mirrored.
    await west.sandbox.faults.goOnline();
    await waitReady(east, 'default', 'podinfo-west', true, 20_000);
    await waitFor(
      async () => condition(await getLink(east, 'west'), 'RemoteAPIAvailable')?.reason === 'Connected',
      { what: 'RemoteAPIAvailable=True/Connected' },
    );
    await waitFor(async () => condition(await getLink(east, 'west'), 'Ready')?.status === 'True', {
      what: 'Ready',
    });
    expect(await apiUp()).toBe(1);
  });

  it('unlink and relink log no failure: a Link gone or changed under a finalizer update is no error', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'podinfo', { ready: 1 });
    await link(east, west, 'west');
    const failures: string[] = [];
    const record = (fields: object, msg: string) => failures.push(`${msg} ${JSON.stringify(fields)}`);
    world.controller('east', { log: { info() {}, warn: record, error: record, debug() {} } });
    for (let round = 0; round < 2; round++) {
      await waitReady(east, 'default', 'podinfo-west');
      // What `isthmus unlink` deletes; the finalizer then removes the mirrors.
      await east.client.delete(R.links, SYSTEM_NAMESPACE, 'west');
      await east.client.delete(R.secrets, SYSTEM_NAMESPACE, 'cluster-credentials-west');
      await waitFor(
        async () => !(await getLink(east, 'west')) && !(await getService(east, 'default', 'podinfo-west')),
        {
          what: 'Link and mirror gone',
        },
      );
      await link(east, west, 'west');
    }
    await waitReady(east, 'default', 'podinfo-west');
    await waitFor(async () => condition(await getLink(east, 'west'), 'Ready')?.status === 'True', {
      what: 'relinked Ready',
    });
    expect(failures).toEqual([]);
  });

  it('re-resolves a gateway hostname periodically and follows its address', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'podinfo', { ready: 1 });
    await link(east, west, 'west', { gatewayAddress: 'gw.west.example' });
    let ip = '10.5.0.1';
    world.controller('east', {
      resolve: async (host) => (host === 'gw.west.example' ? [ip] : []),
      resolveIntervalMs: 50,
    });
    const annotation = async () =>
      (await getService(east, 'default', 'podinfo-west'))?.metadata?.annotations?.[REMOTE_GATEWAY_ANNOTATION];
    await waitFor(async () => (await annotation()) === '10.5.0.1:4143', { what: 'resolved address' });
    ip = '10.5.0.2';
    await waitFor(async () => (await annotation()) === '10.5.0.2:4143', { what: 're-resolved address' });
  });

  it('credentials rotated in place (same Secret, new token) are used at once', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'podinfo', { ready: 1 });
    // A token the remote does not know (expired, revoked).
    const kubeconfig = (token: string) => ({
      [REMOTE_KUBECONFIG_KEY]: west.sandbox.kubeconfig({ token, user: 'remote-reader' }),
    });
    await east.client.create(R.secrets, {
      metadata: { name: 'creds-west', namespace: SYSTEM_NAMESPACE },
      type: REMOTE_KUBECONFIG_SECRET_TYPE,
      stringData: kubeconfig('revoked-token'),
    });
    await east.client.create<Link>(R.links, linkObject('west', { clusterCredentialsSecret: 'creds-west' }));
    world.controller('east');
    await waitFor(
      async () => condition(await getLink(east, 'west'), 'RemoteAPIAvailable')?.status === 'False',
      { what: 'remote API refused with the old token' },
    );

    // `isthmus link` re-run: the same Secret, a new token.
    addReaderToken(west, 'new-token');
    await setCredentialsToken(east, west, 'creds-west', 'new-token');
    await waitReady(east, 'default', 'podinfo-west');
    await waitFor(
      async () => condition(await getLink(east, 'west'), 'RemoteAPIAvailable')?.status === 'True',
      { what: 'remote API reachable with the new token' },
    );
  });

  it('a time-bound token: its expiry is a metric; once it lapses the mirrors stay, and a new one in place reconnects', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'podinfo', { ready: 1 });
    // A read-only account in west, and bound tokens for it (`isthmus link --token-duration`).
    await west.client.create(R.serviceAccounts, {
      metadata: { name: 'isthmus-remote-access', namespace: SYSTEM_NAMESPACE },
    });
    await west.client.create(R.clusterRoles, {
      metadata: { name: 'reader' },
      rules: [
        { apiGroups: [''], resources: ['services', 'namespaces'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
      ],
    });
    await west.client.create(R.clusterRoleBindings, {
      metadata: { name: 'reader' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'reader' },
      subjects: [{ kind: 'ServiceAccount', name: 'isthmus-remote-access', namespace: SYSTEM_NAMESPACE }],
    });
    const boundKubeconfig = async (expirationSeconds: number) => {
      const { token, expirationTimestamp } = await requestServiceAccountToken(
        west.client,
        SYSTEM_NAMESPACE,
        'isthmus-remote-access',
        { expirationSeconds },
      );
      const text = west.sandbox.kubeconfig({ token, user: 'isthmus-remote-access' });
      return {
        stringData: { [REMOTE_KUBECONFIG_KEY]: text },
        expires: Date.parse(expirationTimestamp) / 1000,
      };
    };
    const first = await boundKubeconfig(86_400);
    await east.client.create(R.secrets, {
      metadata: { name: 'creds-west', namespace: SYSTEM_NAMESPACE },
      type: REMOTE_KUBECONFIG_SECRET_TYPE,
      stringData: first.stringData,
    });
    await east.client.create<Link>(R.links, linkObject('west', { clusterCredentialsSecret: 'creds-west' }));
    const { ctl } = world.controller('east');
    await waitReady(east, 'default', 'podinfo-west');
    const expiry = () =>
      metricValue(ctl.registry, 'isthmus_remote_credentials_expiration_timestamp_seconds', {
        target_cluster_name: 'west',
      });
    await waitFor(async () => (await expiry()) === first.expires, { what: 'expiry of the first token' });
    const lifetime = () =>
      metricValue(ctl.registry, 'isthmus_remote_credentials_lifetime_seconds', {
        target_cluster_name: 'west',
      });
    expect(await lifetime()).toBe(86_400);

    // The token lapses: the next list or watch is refused, the mirror is kept, the Link says why.
    west.sandbox.faults.expireBoundTokens();
    west.sandbox.faults.dropWatches();
    await waitFor(
      async () => condition(await getLink(east, 'west'), 'RemoteAPIAvailable')?.status === 'False',
      { what: 'remote API refuses the expired token' },
    );
    expect(condition(await getLink(east, 'west'), 'RemoteAPIAvailable')?.message).toMatch(/401|Unauthorized/);
    expect(await getService(east, 'default', 'podinfo-west')).toBeDefined();

    // `isthmus link --token-duration` re-run and applied: same Secret, a fresh token.
    const second = await boundKubeconfig(172_800);
    await updateWithRetry<V1Secret>(east.client, R.secrets, SYSTEM_NAMESPACE, 'creds-west', (s) => ({
      ...s,
      data: undefined,
      stringData: second.stringData,
    }));
    await waitFor(
      async () => condition(await getLink(east, 'west'), 'RemoteAPIAvailable')?.status === 'True',
      { what: 'remote API reachable with the new token' },
    );
    await waitFor(async () => (await expiry()) === second.expires, { what: 'expiry of the second token' });
    expect(second.expires).toBeGreaterThan(first.expires);

    // Back to a token that never expires: no expiry to alert on.
    await updateWithRetry<V1Secret>(east.client, R.secrets, SYSTEM_NAMESPACE, 'creds-west', (s) => ({
      ...s,
      data: undefined,
      stringData: { [REMOTE_KUBECONFIG_KEY]: west.sandbox.kubeconfig() },
    }));
    await waitFor(async () => (await expiry()) === undefined, { what: 'expiry series removed' });
    expect(await lifetime()).toBeUndefined();
  });

  it('a Service the selector no longer picks leaves status.services', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'web', { ready: 1, labels: { tier: 'web' } });
    // No local namespace "shop": reported as MissingNamespace.
    await exportService(west, 'api', { namespace: 'shop', ready: 1, labels: { tier: 'api' } });
    await link(east, west, 'west');
    world.controller('east');
    await waitReady(east, 'default', 'web-west');
    await waitFor(
      async () =>
        (await getLink(east, 'west'))?.status?.services?.some((s) => s.reason === 'MissingNamespace'),
      { what: 'MissingNamespace reported' },
    );
    await editLinkSpec(east, 'west', (spec) => ({
      ...spec,
      selector: { matchLabels: { 'mirror.linkerd.io/exported': 'true', tier: 'web' } },
    }));
    await waitFor(async () => (await getLink(east, 'west'))?.status?.services?.length === 0, {
      what: 'shop/api gone from status.services',
    });
  });

  it('status.observedGeneration follows an edit that parses the same, without re-reconciling', async () => {
    const world = await startWorld(['east', 'west']);
    const { east, ctl } = await eastMirrorsWest(world, 'web');
    await waitFor(async () => condition(await getLink(east, 'west'), 'GatewayAlive')?.status === 'True', {
      what: 'status written',
    });
    const syncs = () =>
      metricValue(ctl.registry, 'isthmus_mirror_syncs_total', { target_cluster_name: 'west' });
    const syncsBefore = await syncs();

    // The same period in milliseconds: a new generation, the same configuration.
    await editLinkSpec(east, 'west', (spec) => ({
      ...spec,
      probeSpec: { ...spec.probeSpec, period: '3000ms' },
    }));
    const generation = (await getLink(east, 'west'))?.metadata?.generation;
    expect(generation).toBeGreaterThan(1);
    const status = await waitFor(
      async () => {
        const s = (await getLink(east, 'west'))?.status;
        return s?.observedGeneration === generation ? s : undefined;
      },
      { what: 'observedGeneration of the edit' },
    );
    expect(status.conditions?.every((c) => c.observedGeneration === generation)).toBe(true);
    expect(await syncs()).toBe(syncsBefore);
  });
});
