import { describe, expect, it } from 'vitest';
import { mismatchMessage, type RemoteIdentity, unconfirmedMessage } from './remote-identity.js';
import { type IdentityPlan, planIdentity, type Refusal, refusalOf } from './remote-refusal.js';

const names = {
  cluster: 'west',
  server: 'https://10.2.0.10:6443',
  secret: 'isthmus-system/cluster-credentials-west',
};
const mismatch: RemoteIdentity = { verdict: 'mismatch', installed: 'east' };
const unconfirmed: RemoteIdentity = {
  verdict: 'unconfirmed',
  why: 'no-namespace',
  before: { verdict: 'confirmed' },
};
const mismatchRefusal: Refusal = {
  reason: 'RemoteClusterMismatch',
  message: mismatchMessage({ ...names, installed: 'east' }),
};

describe('refusalOf', () => {
  it.each<[string, RemoteIdentity, Refusal | undefined]>([
    ['confirmed', { verdict: 'confirmed' }, undefined],
    ['cannot say on a new connection', { verdict: 'unknown', why: 'forbidden' }, undefined],
    ['mismatch', mismatch, mismatchRefusal],
    [
      'unconfirmed',
      unconfirmed,
      {
        reason: 'RemoteClusterUnconfirmed',
        message: unconfirmedMessage({ ...names, why: 'no-namespace', before: { verdict: 'confirmed' } }),
      },
    ],
  ])('%s', (_, identity, want) => {
    expect(refusalOf(identity, names)).toEqual(want);
  });
});

describe('planIdentity', () => {
  type State = Parameters<typeof planIdentity>[2];
  const listed: State = { before: undefined, remoteSynced: true, remoteApiUp: true };
  const refused = (over: Partial<Extract<IdentityPlan, { kind: 'refused' }>>, refusal = mismatchRefusal) => ({
    kind: 'refused',
    refusal,
    restart: false,
    markDown: true,
    announce: true,
    ...over,
  });
  const accepted = (over: Partial<Extract<IdentityPlan, { kind: 'accepted' }>> = {}) => ({
    kind: 'accepted',
    unchecked: false,
    mirroringAgain: false,
    ...over,
  });

  it.each<[string, RemoteIdentity, State, object]>([
    ['confirmed', { verdict: 'confirmed' }, listed, accepted()],
    [
      'cannot say (forbidden): not checked',
      { verdict: 'unknown', why: 'forbidden' },
      listed,
      accepted({ unchecked: true }),
    ],
    ['cannot say (unlabelled)', { verdict: 'unknown', why: 'unlabelled' }, listed, accepted()],
    [
      'confirmed after a refusal',
      { verdict: 'confirmed' },
      { ...listed, before: mismatchRefusal, remoteApiUp: false },
      accepted({ mirroringAgain: true }),
    ],
    [
      'mismatch at the first connection',
      mismatch,
      { before: undefined, remoteSynced: false, remoteApiUp: undefined },
      refused({}),
    ],
    ['mismatch found by a re-check after listing: start over', mismatch, listed, refused({ restart: true })],
    [
      'the same refusal again, already down: nothing',
      mismatch,
      { before: mismatchRefusal, remoteSynced: false, remoteApiUp: false },
      refused({ markDown: false, announce: false }),
    ],
    [
      'the same refusal, the API marked up since: down again, not said again',
      mismatch,
      { before: mismatchRefusal, remoteSynced: false, remoteApiUp: true },
      refused({ announce: false }),
    ],
    [
      'another message: said',
      { verdict: 'mismatch', installed: 'north' },
      { before: mismatchRefusal, remoteSynced: false, remoteApiUp: false },
      refused(
        {},
        { reason: 'RemoteClusterMismatch', message: mismatchMessage({ ...names, installed: 'north' }) },
      ),
    ],
  ])('%s', (_, identity, state, want) => {
    expect(planIdentity(identity, names, state)).toEqual(want);
  });
});
