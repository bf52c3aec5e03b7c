import { describe, expect, it } from 'vitest';
import { type LinkFacts, linkStateOf } from './link-state.js';
import type { LinkState } from './link-status.js';

const facts: LinkFacts = {
  generation: undefined,
  clusterName: 'west',
  hasGateway: true,
  connected: true,
  remoteSynced: true,
  remoteApiUp: true,
  remoteApiError: undefined,
  remoteApiReason: undefined,
  credentialsError: undefined,
  refusal: undefined,
  nameChecked: false,
  gatewayAddresses: ['10.2.0.1'],
  mirrored: 2,
  statuses: [
    { namespace: 'default', name: 'web', reason: 'Mirrored' },
    { namespace: 'default', name: 'db', reason: 'Conflict', message: 'held by default/db-west' },
  ],
  unsynced: undefined,
  probe: { alive: true, lastError: undefined, localError: undefined, target: '10.2.0.1:4143' },
};
const base: LinkState = {
  remoteSynced: true,
  remoteApiUp: true,
  gatewayAlive: true,
  gatewayAddresses: ['10.2.0.1'],
  mirrored: 2,
  problems: [{ namespace: 'default', name: 'db', reason: 'Conflict', message: 'held by default/db-west' }],
  probeTarget: '10.2.0.1:4143',
};
const probe = facts.probe;

describe('linkStateOf', () => {
  it.each<[string, Partial<LinkFacts>, Partial<LinkState>, (keyof LinkState)[]?]>([
    ['healthy: problems are the entries not Mirrored', {}, {}],
    ['generation', { generation: 3 }, { generation: 3 }],
    [
      'credentials unusable, connection kept',
      { credentialsError: 'gone' },
      { credentialsError: 'gone', credentialsKept: true },
    ],
    [
      'credentials unusable, no connection',
      { credentialsError: 'gone', connected: false },
      { credentialsError: 'gone' },
    ],
    [
      'mismatch',
      { refusal: { reason: 'RemoteClusterMismatch', message: 'installed as east' } },
      { remoteClusterMismatch: 'installed as east' },
    ],
    [
      'unconfirmed',
      { refusal: { reason: 'RemoteClusterUnconfirmed', message: 'no longer says' } },
      { remoteClusterUnconfirmed: 'no longer says' },
    ],
    ['name checked', { nameChecked: true }, { mirroredClusterName: 'west' }],
    ['unsynced keys, none left', { unsynced: 0 }, { servicesUnsynced: 0 }],
    [
      'remote API error',
      { remoteApiUp: false, remoteApiError: 'ECONNREFUSED', remoteApiReason: 'Unreachable' },
      { remoteApiUp: false, remoteApiError: 'ECONNREFUSED' },
      ['remoteApiRefused'],
    ],
    [
      'remote API refuses the credentials',
      { remoteApiUp: false, remoteApiError: '401 Unauthorized: re-link', remoteApiReason: 'Unauthorized' },
      { remoteApiUp: false, remoteApiError: '401 Unauthorized: re-link', remoteApiRefused: 'Unauthorized' },
    ],
    [
      'probe errors',
      { probe: { ...probe, alive: false, lastError: 'timeout', localError: 'refused' } },
      { gatewayAlive: false, probeError: 'timeout', localGatewayError: 'refused' },
    ],
    ['probe target not known yet', { probe: { ...probe, target: undefined } }, {}, ['probeTarget']],
    [
      'alive at another address of the gateway',
      { probe: { ...probe, via: '10.2.0.2:4143' } },
      { probeVia: '10.2.0.2:4143' },
    ],
    [
      'where it last answered is not said while it is not alive',
      { probe: { ...probe, alive: false, lastError: 'timeout', via: '10.2.0.2:4143' } },
      { gatewayAlive: false, probeError: 'timeout' },
    ],
    [
      'no gateway: no liveness, local error or target',
      { hasGateway: false, probe: { ...probe, localError: 'refused' } },
      { gatewayAlive: undefined },
      ['probeTarget'],
    ],
  ])('%s', (_, over, want, absent = []) => {
    const expected: LinkState = { ...base, ...want };
    for (const k of absent) delete expected[k];
    expect(linkStateOf({ ...facts, ...over })).toEqual(expected);
  });

  it('reads no probe target for a Link without a gateway', () => {
    const noTarget = {
      ...probe,
      get target(): string {
        throw new Error('read');
      },
    };
    expect(() => linkStateOf({ ...facts, hasGateway: false, probe: noTarget })).not.toThrow();
  });
});
