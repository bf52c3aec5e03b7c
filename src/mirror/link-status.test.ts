import { describe, expect, it } from 'vitest';
import { type LinkState, linkStatus, MAX_LISTED_SERVICES, sameStatus } from './link-status.js';
import type { GatewayAlive } from './plan-mirror.js';
import { linkState } from './test-builders.js';

const base: LinkState = linkState();
const t0 = new Date('2026-01-01T00:00:00Z');
const t1 = new Date('2026-01-01T00:01:00Z');

function cond(s: LinkState, type: string) {
  return linkStatus(s, undefined, t0).conditions?.find((c) => c.type === type);
}

describe('linkStatus', () => {
  it.each<[string, Partial<LinkState>, string, string, string]>([
    ['healthy', {}, 'Ready', 'True', 'Synced'],
    ['invalid', { invalid: 'bad port' }, 'Ready', 'False', 'LinkInvalid'],
    ['no secret', { credentialsError: 'secret missing' }, 'Ready', 'False', 'CredentialsUnavailable'],
    [
      'secret gone, connection kept',
      { credentialsError: 'secret missing', credentialsKept: true },
      'Ready',
      'True',
      'Synced',
    ],
    [
      'secret gone, connection kept',
      { credentialsError: 'secret missing', credentialsKept: true },
      'RemoteAPIAvailable',
      'True',
      'Connected',
    ],
    ['first list pending', { remoteSynced: false }, 'Ready', 'False', 'Syncing'],
    [
      'a new Link, the remote API not tried yet: no news, not "unreachable"',
      { remoteApiUp: undefined, remoteSynced: false },
      'RemoteAPIAvailable',
      'Unknown',
      'Connecting',
    ],
    [
      'credentials unusable before any connection: unreachable with them',
      { remoteApiUp: undefined, remoteSynced: false, credentialsError: 'secret missing' },
      'RemoteAPIAvailable',
      'False',
      'Unreachable',
    ],
    [
      'remote API down',
      { remoteApiUp: false, remoteApiError: 'ECONNREFUSED' },
      'RemoteAPIAvailable',
      'False',
      'Unreachable',
    ],
    [
      'remote API down before the first list: still waiting for it',
      { remoteApiUp: false, remoteApiError: 'ECONNREFUSED', remoteSynced: false },
      'Ready',
      'False',
      'Syncing',
    ],
    ...(['Unauthorized', 'Forbidden'] as const).flatMap(
      (refused): [string, Partial<LinkState>, string, string, string][] => {
        const down = { remoteApiUp: false, remoteApiError: 'refused: fix it', remoteApiRefused: refused };
        return [
          [`${refused}: the remote API says so`, down, 'RemoteAPIAvailable', 'False', refused],
          [
            `${refused} before the first list: Ready says why it waits`,
            { ...down, remoteSynced: false },
            'Ready',
            'False',
            refused,
          ],
          [`${refused} once listed: Ready stays about the link`, down, 'Ready', 'True', 'Synced'],
          [
            `${refused}, then the remote answers: connected`,
            { ...down, remoteApiUp: true },
            'RemoteAPIAvailable',
            'True',
            'Connected',
          ],
          [
            `${refused}, and the Secret gone with no connection: CredentialsUnavailable first`,
            { ...down, remoteSynced: false, credentialsError: 'secret missing' },
            'Ready',
            'False',
            'CredentialsUnavailable',
          ],
          [
            `${refused}, and the remote another cluster: the refusal first`,
            { ...down, remoteSynced: false, remoteClusterMismatch: 'not west' },
            'RemoteAPIAvailable',
            'False',
            'RemoteClusterMismatch',
          ],
        ];
      },
    ),
    [
      'credentials reach another cluster',
      { remoteClusterMismatch: 'not west', remoteApiUp: false, remoteSynced: false },
      'Ready',
      'False',
      'RemoteClusterMismatch',
    ],
    [
      'credentials reach another cluster',
      { remoteClusterMismatch: 'not west', remoteApiUp: false, remoteSynced: false },
      'RemoteAPIAvailable',
      'False',
      'RemoteClusterMismatch',
    ],
    [
      'credentials reach another cluster, and the Secret is gone too',
      { remoteClusterMismatch: 'not west', credentialsError: 'missing', credentialsKept: true },
      'Ready',
      'False',
      'RemoteClusterMismatch',
    ],
    [
      'the remote said its name and no longer can',
      { remoteClusterUnconfirmed: 'no longer west', remoteApiUp: false, remoteSynced: true },
      'Ready',
      'False',
      'RemoteClusterUnconfirmed',
    ],
    [
      'the remote said its name and no longer can',
      { remoteClusterUnconfirmed: 'no longer west', remoteApiUp: false, remoteSynced: true },
      'RemoteAPIAvailable',
      'False',
      'RemoteClusterUnconfirmed',
    ],
    ['gateway dead', { gatewayAlive: false }, 'GatewayAlive', 'False', 'ProbeFailed'],
    ['gateway unknown', { gatewayAlive: 'unknown' }, 'GatewayAlive', 'Unknown', 'NotProbedYet'],
    ...(['unknown', true, false] as const).map(
      (alive): [string, Partial<LinkState>, string, string, string] => [
        `the local gateway cannot probe (remote last known ${alive})`,
        {
          gatewayAlive: alive,
          localGatewayError: "this cluster's gateway cannot probe: certificates not loaded",
        },
        'GatewayAlive',
        'Unknown',
        'LocalGatewayUnavailable',
      ],
    ),
  ])('%s', (_n, over, type, status, reason) => {
    expect(cond({ ...base, ...over }, type)).toMatchObject({ status, reason });
  });

  it('says where the remote gateway answers when it is another address the Link names', () => {
    const alive = { ...base, gatewayAlive: true as const, probeTarget: '192.0.2.10:30143' };
    expect(cond({ ...alive, probeVia: '192.0.2.11:30143' }, 'GatewayAlive')).toMatchObject({
      status: 'True',
      reason: 'ProbeSucceeded',
      message:
        'remote gateway answers probes at 192.0.2.11:30143, another address the Link names (192.0.2.10:30143 did not answer when last tried)',
    });
    expect(cond(alive, 'GatewayAlive')?.message).toBe('remote gateway answers probes');
  });

  // The probe goes through this cluster's gateway: a failure there says nothing of the remote.
  it.each<[GatewayAlive, string]>([
    [true, 'it last answered'],
    [false, 'it last failed failureThreshold probes in a row'],
    ['unknown', 'it has not been probed yet'],
  ])('a local failure blames this cluster, not the remote (last known %s)', (alive, last) => {
    const error = "this cluster's gateway admin (http://127.0.1.1:4191) did not answer: connect ECONNREFUSED";
    expect(
      cond(
        { ...base, gatewayAlive: alive, localGatewayError: error, probeTarget: '10.1.0.1:4143' },
        'GatewayAlive',
      )?.message,
    ).toBe(
      `${error}: nothing new is known of the remote gateway 10.1.0.1:4143 until this cluster's gateway can probe it (${last})`,
    );
  });

  it('names the cluster whose mirrors the Link holds once checked, and keeps the last one until then', () => {
    expect(linkStatus(base, undefined, t0).mirroredClusterName).toBeUndefined();
    const checked = linkStatus({ ...base, mirroredClusterName: 'west' }, undefined, t0);
    expect(checked.mirroredClusterName).toBe('west');
    // A retargeted Link's watcher has not checked its new name: the status keeps the old one.
    const unchecked = { ...base, remoteClusterMismatch: 'not north' };
    expect(linkStatus(unchecked, checked, t1).mirroredClusterName).toBe('west');
    expect(linkStatus({ ...base, invalid: 'bad' }, checked, t1).mirroredClusterName).toBe('west');
    expect(linkStatus({ ...base, mirroredClusterName: 'north' }, checked, t1).mirroredClusterName).toBe(
      'north',
    );
    expect(sameStatus(checked, linkStatus(base, undefined, t0))).toBe(false);
  });

  it('a Link that keeps its connection without its Secret says so in Ready, with what it runs on', () => {
    const kept = { ...base, credentialsError: 'Secret creds not found', credentialsKept: true };
    expect(cond(kept, 'Ready')?.message).toBe(
      '2 services mirrored; Secret creds not found: the connection keeps running on the credentials read before (a restarted controller cannot connect until the Secret is usable again)',
    );
    expect(cond({ ...kept, remoteSynced: false }, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'Syncing',
      message: expect.stringMatching(
        /^waiting for the first list of the remote cluster; Secret creds not found: /,
      ),
    });
  });

  it('credentials refused before the first list: both conditions carry the fix, Ready with what the connection runs on', () => {
    const refused: LinkState = {
      ...base,
      remoteSynced: false,
      remoteApiUp: false,
      remoteApiError: 'GET /api/v1/namespaces/isthmus-system: 401 Unauthorized: re-create it',
      remoteApiRefused: 'Unauthorized',
    };
    expect(cond(refused, 'RemoteAPIAvailable')?.message).toBe(refused.remoteApiError);
    expect(cond(refused, 'Ready')?.message).toBe(refused.remoteApiError);
    const kept = { ...refused, credentialsError: 'Secret creds not found', credentialsKept: true };
    expect(cond(kept, 'Ready')?.message).toMatch(
      /re-create it; Secret creds not found: the connection keeps/,
    );
  });

  it('a Link without a gateway has no GatewayAlive condition', () => {
    const types = linkStatus({ ...base, gatewayAlive: undefined }, undefined, t0).conditions?.map(
      (c) => c.type,
    );
    expect(types).toEqual(['Ready', 'RemoteAPIAvailable', 'ServicesMirrored']);
  });

  it('keeps lastTransitionTime while a condition holds and compares without timestamps', () => {
    const first = linkStatus(base, undefined, t0);
    const second = linkStatus(base, first, t1);
    expect(second.conditions?.[0]?.lastTransitionTime).toEqual(t0);
    expect(sameStatus(first, JSON.parse(JSON.stringify(second)))).toBe(true);
    const dead = linkStatus({ ...base, gatewayAlive: false }, second, t1);
    expect(dead.conditions?.find((c) => c.type === 'GatewayAlive')?.lastTransitionTime).toEqual(t1);
    expect(sameStatus(second, dead)).toBe(false);
  });

  it('lists per-service problems in a stable order', () => {
    const s = linkStatus(
      {
        ...base,
        problems: [
          { namespace: 'b', name: 'x', reason: 'Conflict' },
          { namespace: 'a', name: 'y', reason: 'MissingNamespace' },
        ],
      },
      undefined,
      t0,
    );
    expect(s.services?.map((p) => p.namespace)).toEqual(['a', 'b']);
  });

  it('names the first 100 Services not mirrored and counts them all, so the Link stays storable', () => {
    const problems = Array.from({ length: 5000 }, (_, i) => ({
      namespace: `team-${String(i).padStart(4, '0')}`,
      name: 'api',
      reason: 'MissingNamespace' as const,
      message: `namespace team-${i} does not exist locally`,
    }));
    const s = linkStatus({ ...base, problems }, undefined, t0);
    expect(s.services).toHaveLength(MAX_LISTED_SERVICES);
    expect(s.services?.[0]?.namespace).toBe('team-0000');
    expect(s.servicesNotMirrored).toBe(5000);
    expect(JSON.stringify(s).length).toBeLessThan(20_000);
    expect(sameStatus(s, linkStatus({ ...base, problems: problems.slice(1) }, undefined, t0))).toBe(false);
    // Under the limit, the list is the whole story and there is no count.
    expect(linkStatus({ ...base, problems: problems.slice(0, 3) }, undefined, t0)).not.toHaveProperty(
      'servicesNotMirrored',
    );
  });

  it("lists faults before NotAllowed (the exporter's choice) and counts those apart", () => {
    const notAllowed = Array.from({ length: 150 }, (_, i) => ({
      namespace: 'a-shared',
      name: `svc-${String(i).padStart(3, '0')}`,
      reason: 'NotAllowed',
    }));
    const faults = [{ namespace: 'z-team', name: 'cart', reason: 'MissingNamespace' }];
    const s = linkStatus({ ...base, problems: [...notAllowed, ...faults] }, undefined, t0);
    expect(s.services?.[0]).toMatchObject({ namespace: 'z-team', name: 'cart' });
    expect(s.servicesNotMirrored).toBe(151);
    expect(s.servicesNotAllowed).toBe(150);
  });
});
