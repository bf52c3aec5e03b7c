import { describe, expect, it } from 'vitest';
import type { AppliedAction } from './applier.js';
import type { LinkEvent } from './link-events.js';
import { deletionNotices, handOverNotices, mirroredChange, statusNotice } from './mirror-notices.js';
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

describe('handOverNotices', () => {
  const linkerds =
    "Service default/web-west is Linkerd's mirror of west: unlink west from Linkerd multicluster first";
  const slice = (outcome: AppliedAction['outcome']): AppliedAction => ({
    action: 'deleteSlice',
    namespace: 'default',
    name: 'web-west',
    outcome,
  });
  const created = (clusterIP?: AppliedAction['clusterIP']): AppliedAction => ({
    action: 'applyService',
    namespace: 'default',
    name: 'web-west',
    outcome: 'created',
    ...(clusterIP ? { clusterIP } : {}),
  });

  it('tells of our slice deleted under a Service not ours, with why, as a Warning Event', () => {
    const [n, ...rest] = handOverNotices('west', 'default/web', at('Conflict', linkerds), [slice('deleted')]);
    expect(rest).toEqual([]);
    expect(n).toMatchObject({ level: 'warn', fields: { mirror: 'default/web-west' } });
    expect(n?.event).toEqual({ type: 'Warning', reason: 'MirrorSliceDeleted', message: n?.message });
    expect(n?.message).toBe(
      `default/web: deleted EndpointSlice default/web-west, which Isthmus wrote to send callers to the local gateways, as the Service of its name is not Isthmus's mirror any more: ${linkerds}`,
    );
    // Nothing deleted (gone already, or held by another now), or a removal for another reason.
    expect(handOverNotices('west', 'default/web', at('Conflict', linkerds), [slice('unchanged')])).toEqual(
      [],
    );
    expect(handOverNotices('west', 'default/web', at('InvalidService', 'x'), [slice('deleted')])).toEqual([]);
    expect(handOverNotices('west', 'default/web', undefined, [slice('deleted')])).toEqual([]);
  });

  it('logs a mirror created at the address it kept, and warns with an Event of one refused', () => {
    expect(
      handOverNotices('west', 'default/web', at('Mirrored'), [created({ asked: '10.96.0.42' })]),
    ).toEqual([
      {
        level: 'info',
        fields: { mirror: 'default/web-west', clusterIP: '10.96.0.42' },
        message:
          'created Service default/web-west at the ClusterIP of the mirror of west it replaces, which its callers hold',
      },
    ]);
    const refused =
      'spec.clusterIPs: Invalid value: ["10.96.0.42"]: failed to allocate IP 10.96.0.42: provided IP is already allocated';
    const [n] = handOverNotices('west', 'default/web', at('Mirrored'), [
      created({ asked: '10.96.0.42', refused }),
    ]);
    expect(n).toMatchObject({
      level: 'warn',
      fields: { mirror: 'default/web-west', clusterIP: '10.96.0.42', reason: refused },
      event: { type: 'Warning', reason: 'ClusterIPNotKept' },
    });
    expect(n?.message).toBe(
      `default/web: created Service default/web-west with a new ClusterIP: the API server refused 10.96.0.42, the ClusterIP of the mirror of west it replaces (${refused}); callers that hold 10.96.0.42 fail until they resolve default/web-west again`,
    );
    // A mirror created as ever says nothing.
    expect(handOverNotices('west', 'default/web', at('Mirrored'), [created()])).toEqual([]);
  });
});
