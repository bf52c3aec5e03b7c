import { describe, expect, it } from 'vitest';
import type { AppliedAction } from './applier.js';
import type { LinkEvent } from './link-events.js';
import { deletionNotices, mirroredChange, statusNotice } from './mirror-notices.js';
import type { ServiceMirrorStatus } from './plan-mirror.js';

const at = (reason: ServiceMirrorStatus['reason'], message?: string): ServiceMirrorStatus => ({
  namespace: 'default',
  name: 'web',
  reason,
  ...(message === undefined ? {} : { message }),
});

describe('statusNotice', () => {
  it.each<[string, ServiceMirrorStatus | undefined, ServiceMirrorStatus, LinkEvent | undefined]>([
    ['mirrored whole: nothing', undefined, at('Mirrored'), undefined],
    [
      'mirrored without some ports',
      at('Mirrored'),
      at('Mirrored', 'port 53/UDP left out'),
      { type: 'Warning', reason: 'PortsNotMirrored', message: 'default/web: port 53/UDP left out' },
    ],
    [
      'a conflict, new',
      undefined,
      at('Conflict', 'held by default/web-west'),
      { type: 'Warning', reason: 'Conflict', message: 'default/web: held by default/web-west' },
    ],
    ['the same conflict again: nothing', at('Conflict', 'held'), at('Conflict', 'held'), undefined],
    [
      'another message for the same reason',
      at('Conflict', 'held'),
      at('Conflict', 'held by another'),
      { type: 'Warning', reason: 'Conflict', message: 'default/web: held by another' },
    ],
    [
      'no message: the reason says it',
      at('Mirrored'),
      at('MissingNamespace'),
      { type: 'Warning', reason: 'MissingNamespace', message: 'default/web: MissingNamespace' },
    ],
    [
      "NotAllowed is the owner's choice: Normal",
      undefined,
      at('NotAllowed', 'west is not in isthmus.dev/allowed-clusters'),
      {
        type: 'Normal',
        reason: 'NotAllowed',
        message: 'default/web: west is not in isthmus.dev/allowed-clusters',
      },
    ],
  ])('%s', (_, before, status, want) => {
    expect(statusNotice('default/web', before, status)).toEqual(want);
  });
});

describe('mirroredChange', () => {
  it.each<[ServiceMirrorStatus | undefined, ServiceMirrorStatus | undefined, number]>([
    [undefined, at('Mirrored'), 1],
    [at('Mirrored'), undefined, -1],
    [at('Mirrored'), at('Mirrored', 'ports'), 0],
    [at('Conflict'), at('Mirrored'), 1],
    [at('Mirrored'), at('SyncFailing'), -1],
    [undefined, at('Conflict'), 0],
    [undefined, undefined, 0],
  ])('%j → %j: %i', (before, after, want) => {
    expect(mirroredChange(before, after)).toBe(want);
  });
});

describe('deletionNotices', () => {
  const applied: AppliedAction[] = [
    { action: 'deleteSlice', namespace: 'default', name: 'web-west', outcome: 'deleted' },
    { action: 'deleteService', namespace: 'default', name: 'web-west', outcome: 'deleted' },
    { action: 'deleteService', namespace: 'default', name: 'web-0-west', outcome: 'unchanged' },
    { action: 'applyService', namespace: 'default', name: 'api-west', outcome: 'created' },
  ];
  it.each<[string, boolean, string, boolean]>([
    ['an export that went away: a log line only', true, 'west no longer exports default/web', false],
    ['a key never mirrored here: an Event too', false, 'west exports no Service default/web', true],
  ])('%s', (_, known, why, event) => {
    expect(deletionNotices('west', 'default/web', known, applied)).toEqual([
      {
        mirror: 'default/web-west',
        message: `deleted Service default/web-west, a mirror of west (isthmus.dev/mirror=west): ${why}`,
        event,
      },
    ]);
  });

  it('nothing deleted: nothing said', () => {
    expect(deletionNotices('west', 'default/web', false, applied.slice(2))).toEqual([]);
  });
});
