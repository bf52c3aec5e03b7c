import { describe, expect, it } from 'vitest';
import type { LinkStatus } from '../kube/types.js';
import { type StatusFacts, statusDecided } from './status-decided.js';

/** A restarted watcher whose list is complete and whose first probe has not decided yet. */
const restarted: StatusFacts = {
  credentialsError: undefined,
  refused: false,
  remoteApiUp: true,
  remoteSynced: true,
  nameChecked: false,
  clusterName: 'west',
  localGatewayError: undefined,
  hasGateway: true,
  alive: 'unknown',
  superseded: false,
  gatewayKnown: true,
  gatewayAddresses: () => ['10.2.0.1'],
};
const found: LinkStatus = {
  conditions: [
    { type: 'Ready', status: 'True', reason: 'Synced', message: '', lastTransitionTime: new Date(0) },
  ],
  mirroredClusterName: 'west',
  gatewayAddresses: ['10.2.0.1'],
};

describe('statusDecided', () => {
  it.each<[string, LinkStatus | undefined, Partial<StatusFacts>, boolean]>([
    ['no status yet', undefined, { remoteSynced: false }, true],
    ['a status without conditions', { gatewayAddresses: [] }, { remoteSynced: false }, true],
    ['credentials unusable', found, { credentialsError: 'Secret not found', remoteSynced: false }, true],
    ['remote refused', found, { refused: true, remoteSynced: false }, true],
    ['remote API down', found, { remoteApiUp: false, remoteSynced: false }, true],
    ['first list pending: keeps what it found', found, { remoteSynced: false }, false],
    [
      'remote API state not known yet, list pending',
      found,
      { remoteApiUp: undefined, remoteSynced: false },
      false,
    ],
    [
      'cluster name checked and not the one found',
      { ...found, mirroredClusterName: 'east' },
      { nameChecked: true },
      true,
    ],
    ['cluster name checked and the one found', found, { nameChecked: true }, false],
    ['this cluster cannot probe', found, { localGatewayError: 'connect ECONNREFUSED' }, true],
    ['no gateway', found, { hasGateway: false }, true],
    ['probe decided', found, { alive: true }, true],
    ['probe decided dead', found, { alive: false }, true],
    ['liveness dropped since (gateway changed)', found, { superseded: true }, true],
    ['probe pending, gateway where the status says', found, {}, false],
    ['probe pending, gateway moved', found, { gatewayAddresses: () => ['10.2.0.2'] }, true],
    [
      'probe pending, gateway Service not listed yet',
      found,
      { gatewayKnown: false, gatewayAddresses: () => ['10.2.0.2'] },
      false,
    ],
    [
      'probe pending, a status with no addresses',
      { ...found, gatewayAddresses: undefined },
      { gatewayAddresses: () => [] },
      false,
    ],
  ])('%s → %s', (_, status, over, want) => {
    expect(statusDecided(status, { ...restarted, ...over })).toBe(want);
  });
});
