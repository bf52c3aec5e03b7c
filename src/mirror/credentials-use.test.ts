import { describe, expect, it } from 'vitest';
import { carriedIdentity, credentialsNotice, needsReconnect, type Said } from './credentials-use.js';
import { CREDENTIALS_KEPT } from './link-status.js';

describe('needsReconnect', () => {
  it.each<[string, boolean, string | undefined, boolean]>([
    ['no connection', false, undefined, true],
    ['no connection, stale fingerprint', false, 'abc', true],
    ['connected on this content', true, 'abc', false],
    ['connected on other content (rotated)', true, 'old', true],
  ])('%s', (_, connected, connectedWith, want) => {
    expect(needsReconnect(connected, connectedWith, 'abc')).toBe(want);
  });
});

describe('carriedIdentity', () => {
  const said: Said = { fingerprint: 'abc', identity: { verdict: 'confirmed' } };
  it.each<[string, Said | undefined, string, Said | undefined]>([
    ['nothing heard', undefined, 'abc', undefined],
    ['heard on the same credentials: kept', said, 'abc', said],
    ['new credentials: checked afresh', said, 'new', undefined],
  ])('%s', (_, before, fingerprint, want) => {
    expect(carriedIdentity(before, fingerprint)).toEqual(want);
  });
});

describe('credentialsNotice', () => {
  it.each<[string, string | undefined, boolean, ReturnType<typeof credentialsNotice>]>([
    ['the same error again: nothing', 'Secret not found', true, { changed: false }],
    ['new error without a connection: the status only', undefined, false, { changed: true }],
    [
      'new error with a connection kept: a Warning too',
      undefined,
      true,
      { changed: true, warning: `Secret not found: ${CREDENTIALS_KEPT}` },
    ],
    [
      'another error with a connection kept',
      'Secret has no kubeconfig',
      true,
      { changed: true, warning: `Secret not found: ${CREDENTIALS_KEPT}` },
    ],
  ])('%s', (_, before, connected, want) => {
    expect(credentialsNotice(before, 'Secret not found', connected)).toEqual(want);
  });
});
