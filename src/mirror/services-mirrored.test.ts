import { describe, expect, it } from 'vitest';
import type { ServiceMirrorStatus } from '../kube/types.js';
import { type LinkState, linkStatus, sameStatus } from './link-status.js';
import { linkState } from './test-builders.js';

const base = linkState();
const t0 = new Date('2026-01-01T00:00:00Z');
const t1 = new Date('2026-01-01T00:01:00Z');

const svc = (name: string, reason: string, namespace = 'shop'): ServiceMirrorStatus => ({
  namespace,
  name,
  reason,
  message: `why ${name}`,
});

function servicesMirrored(over: Partial<LinkState>, previous?: Parameters<typeof linkStatus>[1]) {
  return linkStatus({ ...base, ...over }, previous, t0).conditions?.find(
    (c) => c.type === 'ServicesMirrored',
  );
}

describe('the ServicesMirrored condition', () => {
  it('says first that removals of a shrunk remote list are held: how many, until when', () => {
    const deletionsHeld = { count: 3, until: '2026-01-01T00:02:00.000Z' };
    for (const over of [{}, { servicesUnsynced: 2 }, { problems: [svc('a', 'Conflict')] }]) {
      const c = servicesMirrored({ ...over, deletionsHeld }, undefined);
      expect(c).toMatchObject({ status: 'False', reason: 'RemoteListShrunk' });
      expect(c?.message).toMatch(/^3 mirrors kept although the remote's last list lacks their Services/);
      expect(c?.message).toContain('deleted at 2026-01-01T00:02:00.000Z unless listed again by then');
    }
  });

  it('a hold does not hide the Services that cannot be mirrored: its message says them too', () => {
    const deletionsHeld = { count: 2, until: '2026-01-01T00:02:00.000Z' };
    const c = servicesMirrored(
      {
        deletionsHeld,
        problems: [svc('a', 'ApplyFailed'), svc('b', 'PortRangeExhausted'), svc('x', 'NotAllowed')],
      },
      undefined,
    );
    expect(c).toMatchObject({ status: 'False', reason: 'RemoteListShrunk' });
    expect(c?.message).toMatch(/^2 mirrors kept although/);
    expect(c?.message).toMatch(
      /unless listed again by then \(isthmus controller --mirror-deletion-grace\); besides, 2 of 4 services not mirrored: shop\/a \(ApplyFailed\), shop\/b \(PortRangeExhausted\); status\.services says why$/,
    );
    // Nothing else wrong: nothing else said.
    expect(servicesMirrored({ deletionsHeld }, undefined)?.message).not.toContain('besides');
  });

  it.each<[string, Partial<LinkState>, string, string, string]>([
    ['every Service mirrored', {}, 'True', 'AllMirrored', '2 services mirrored, none failed'],
    ['nothing to mirror', { mirrored: 0 }, 'True', 'AllMirrored', '0 services mirrored, none failed'],
    [
      'left out by choice: the exporter (NotAllowed), Isthmus (OwnedByIsthmus, ExternalName), the local cluster (no namespace)',
      {
        problems: [
          svc('a', 'NotAllowed'),
          svc('b', 'OwnedByIsthmus'),
          svc('c', 'UnsupportedServiceType'),
          svc('d', 'MissingNamespace'),
          svc('e', 'NotAllowed'),
        ],
      },
      'True',
      'AllMirrored',
      '2 services mirrored, none failed; 5 left out (1 MissingNamespace, 2 NotAllowed, 1 OwnedByIsthmus, 1 UnsupportedServiceType)',
    ],
    [
      'some refused (RBAC, a stranger holding the name)',
      { problems: [svc('web', 'Conflict', 'b'), svc('api', 'ApplyFailed', 'a'), svc('x', 'NotAllowed')] },
      'False',
      'SomeNotMirrored',
      '2 of 4 services not mirrored: a/api (ApplyFailed), b/web (Conflict); status.services says why',
    ],
    [
      'none can be mirrored',
      { mirrored: 0, problems: [svc('web', 'ApplyFailed'), svc('x', 'MissingNamespace')] },
      'False',
      'NoneMirrored',
      '1 of 1 services not mirrored: shop/web (ApplyFailed); status.services says why',
    ],
    [
      'an invalid Service (a 422, a name too long) and no egress port left are failures',
      { problems: [svc('a', 'InvalidService'), svc('b', 'PortRangeExhausted')] },
      'False',
      'SomeNotMirrored',
      '2 of 4 services not mirrored: shop/a (InvalidService), shop/b (PortRangeExhausted); status.services says why',
    ],
    [
      'many failures: the first three named, the rest counted',
      { mirrored: 5, problems: ['e', 'd', 'c', 'b', 'a'].map((n) => svc(n, 'Conflict')) },
      'False',
      'SomeNotMirrored',
      '5 of 10 services not mirrored: shop/a (Conflict), shop/b (Conflict), shop/c (Conflict) and 2 more; status.services says why',
    ],
    [
      'no complete remote list yet',
      { servicesUnsynced: undefined, remoteSynced: false },
      'Unknown',
      'Syncing',
      'waiting for the first list of the remote cluster',
    ],
    [
      'listed, its Services not all synced yet',
      { servicesUnsynced: 3, problems: [svc('web', 'Conflict')] },
      'Unknown',
      'Syncing',
      'not every Service of the remote list has been synced yet',
    ],
  ])('%s', (_name, over, status, reason, message) => {
    expect(servicesMirrored(over)).toMatchObject({ status, reason, message });
  });

  it('a Link the controller rejects has none (it mirrors nothing)', () => {
    expect(servicesMirrored({ invalid: 'bad port' })).toBeUndefined();
  });

  it('keeps what it said until every Service of a new list is synced: a restart or a reconnect does not flap it', () => {
    const failing = linkStatus({ ...base, problems: [svc('web', 'ApplyFailed')] }, undefined, t0);
    // Restarted: the list is complete, web not synced yet, so nothing says it fails.
    const restarted = linkStatus({ ...base, servicesUnsynced: 1 }, failing, t1);
    const cond = restarted.conditions?.find((c) => c.type === 'ServicesMirrored');
    expect(cond).toMatchObject({ status: 'False', reason: 'SomeNotMirrored', lastTransitionTime: t0 });
    // Before any list (the remote unreachable after a restart) too.
    const unreachable = linkStatus(
      { ...base, remoteSynced: false, remoteApiUp: false, servicesUnsynced: undefined },
      failing,
      t1,
    );
    expect(unreachable.conditions?.find((c) => c.type === 'ServicesMirrored')).toMatchObject({
      status: 'False',
      reason: 'SomeNotMirrored',
    });
  });

  it('is written on change only: a retry that fails the same way changes nothing; healed, it turns True', () => {
    const problems = [svc('web', 'ApplyFailed')];
    const first = linkStatus({ ...base, problems }, undefined, t0);
    const retried = linkStatus({ ...base, problems: [svc('web', 'ApplyFailed')] }, first, t1);
    expect(sameStatus(first, JSON.parse(JSON.stringify(retried)))).toBe(true);
    const healed = linkStatus({ ...base, mirrored: 3 }, retried, t1);
    expect(sameStatus(retried, healed)).toBe(false);
    expect(healed.conditions?.find((c) => c.type === 'ServicesMirrored')).toMatchObject({
      status: 'True',
      reason: 'AllMirrored',
      lastTransitionTime: t1,
    });
    // Ready is about the link itself, failing Services or not.
    for (const s of [first, healed])
      expect(s.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
        status: 'True',
        reason: 'Synced',
      });
  });
});
