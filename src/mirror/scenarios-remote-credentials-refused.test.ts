/**
 * A remote API server that refuses the Link's credentials (401: the token rejected; 403: the
 * account may not list) is not "unreachable", and the Link is not "waiting for the first list":
 * both conditions name the refusal and the fix (remote-api-failure.ts), of whichever remote read
 * is refused.
 */
import { describe, expect, it } from 'vitest';
import { LINK_SERVICE_ACCOUNT_ANNOTATION } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { Link } from '../kube/types.js';
import { linkObject } from './test-builders.js';
import {
  addReaderToken,
  capturedLog,
  condition,
  credentialsSecret,
  eastMirrorsWest,
  exportService,
  getLink,
  getService,
  linkReadyReason,
  metricValue,
  setCredentialsToken,
  waitReady,
  worldPerTest,
} from './test-harness.js';
import { waitFor } from './test-wait.js';

const startWorld = worldPerTest();
const SECRET = 'cluster-credentials-west';

describe('remote credentials refused', () => {
  it('a token the remote rejects (401): Ready and RemoteAPIAvailable say Unauthorized with the re-link, not Syncing; a good token, Ready again', async () => {
    const world = await startWorld(['east', 'west']);
    const { east, west, ctl } = await eastMirrorsWest(world, 'podinfo');
    await linkReadyReason(east, 'west', 'Synced');

    // The SRE walkthrough's repro: the Secret's kubeconfig patched to a wrong token.
    await setCredentialsToken(east, west, SECRET, 'wrong-token');
    const refused = await linkReadyReason(east, 'west', 'Unauthorized');
    expect(condition(refused, 'Ready')).toMatchObject({
      status: 'False',
      message: expect.stringContaining('rejects the token'),
    });
    const api = condition(refused, 'RemoteAPIAvailable');
    expect(api).toMatchObject({ status: 'False', reason: 'Unauthorized' });
    expect(api?.message).toMatch(/401/);
    expect(api?.message).toContain(`Secret isthmus-system/${SECRET}`);
    expect(api?.message).toContain('isthmus link --context <west> --cluster-name west');
    expect(await metricValue(ctl.registry, 'isthmus_remote_api_up', { target_cluster_name: 'west' })).toBe(0);
    expect(await getService(east, 'default', 'podinfo-west')).toBeDefined();

    // A token the remote knows: connected and listed again.
    addReaderToken(west, 'good-token');
    await setCredentialsToken(east, west, SECRET, 'good-token');
    const back = await linkReadyReason(east, 'west', 'Synced');
    expect(condition(back, 'RemoteAPIAvailable')?.reason).toBe('Connected');
  });

  it("an account that may not list Services (403): Ready and RemoteAPIAvailable say Forbidden with the account's `isthmus allow`", async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'podinfo', { ready: 1 });
    // `isthmus allow` made east-reader, then its binding was lost: it may read the namespace only.
    await credentialsSecret(east, west, SECRET);
    addReaderToken(west, 'narrow-token', ['namespaces']);
    await setCredentialsToken(east, west, SECRET, 'narrow-token');
    const object = linkObject('west');
    object.metadata = {
      ...object.metadata,
      annotations: { [LINK_SERVICE_ACCOUNT_ANNOTATION]: 'east-reader' },
    };
    await east.client.create<Link>(R.links, object);
    world.controller('east');

    const refused = await linkReadyReason(east, 'west', 'Forbidden');
    expect(condition(refused, 'Ready')?.status).toBe('False');
    const api = condition(refused, 'RemoteAPIAvailable');
    expect(api).toMatchObject({ status: 'False', reason: 'Forbidden' });
    expect(api?.message).toMatch(/403/);
    expect(api?.message).toContain(
      'isthmus allow --context <west> --service-account-name east-reader | kubectl --context <west> apply -f -',
    );
  });

  // Every remote informer counts (remote-api-sources.ts), not the Services one alone: this account
  // left the Link `Ready=False/Syncing` for ever, with isthmus_remote_api_up 1.
  it('an account that may list services but not endpointslices: Ready and RemoteAPIAvailable say Forbidden naming endpointslices, not Connected and Syncing', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'podinfo', { ready: 1 });
    await credentialsSecret(east, west, SECRET);
    addReaderToken(west, 'no-slices-token', ['services', 'namespaces']);
    await setCredentialsToken(east, west, SECRET, 'no-slices-token');
    await east.client.create<Link>(R.links, linkObject('west', { clusterCredentialsSecret: SECRET }));
    const { log, lines } = capturedLog('east');
    const { ctl } = world.controller('east', { log, cluster: 'east' });

    const refused = await linkReadyReason(east, 'west', 'Forbidden');
    expect(condition(refused, 'Ready')?.status).toBe('False');
    const api = condition(refused, 'RemoteAPIAvailable');
    expect(api).toMatchObject({ status: 'False', reason: 'Forbidden' });
    expect(api?.message).toMatch(/403/);
    expect(api?.message).toContain('may not read endpointslices');
    expect(await metricValue(ctl.registry, 'isthmus_remote_api_up', { target_cluster_name: 'west' })).toBe(0);
    const down = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === 'remote API unreachable');
    expect(down).toHaveLength(1);
    expect(String(down[0]?.reason)).toMatch(/endpointslices/);

    // Granted endpointslices too: connected, listed, mirrored.
    addReaderToken(west, 'full-token');
    await setCredentialsToken(east, west, SECRET, 'full-token');
    await waitReady(east, 'default', 'podinfo-west');
    const back = await linkReadyReason(east, 'west', 'Synced');
    expect(condition(back, 'RemoteAPIAvailable')?.reason).toBe('Connected');
    await waitFor(
      async () =>
        (await metricValue(ctl.registry, 'isthmus_remote_api_up', { target_cluster_name: 'west' })) === 1,
      { what: 'isthmus_remote_api_up 1' },
    );
    expect(condition(await getLink(east, 'west'), 'Ready')?.status).toBe('True');
  });
});
