import { describe, expect, it } from 'vitest';
import type { V1Condition } from '../kube/types.js';
import { linkConditionEvents } from './link-events.js';

const at = new Date(0);
const c = (type: string, status: string, reason: string, message = ''): V1Condition => ({
  type,
  status,
  reason,
  message,
  lastTransitionTime: at,
});

const healthy = [
  c('Ready', 'True', 'Synced'),
  c('RemoteAPIAvailable', 'True', 'Connected', 'remote API reachable'),
  c('GatewayAlive', 'True', 'ProbeSucceeded', 'remote gateway answers probes'),
  c('ServicesMirrored', 'True', 'AllMirrored', '3 services mirrored'),
];

describe('linkConditionEvents', () => {
  it('a remote gateway going dead is a Warning, its return a Normal', () => {
    const dead = healthy.map((x) =>
      x.type === 'GatewayAlive'
        ? c('GatewayAlive', 'False', 'ProbeFailed', 'connect ECONNREFUSED 10.1.0.1:4143')
        : x,
    );
    expect(linkConditionEvents(healthy, dead)).toEqual([
      { type: 'Warning', reason: 'ProbeFailed', message: 'GatewayAlive: connect ECONNREFUSED 10.1.0.1:4143' },
    ]);
    expect(linkConditionEvents(dead, healthy)).toEqual([
      { type: 'Normal', reason: 'ProbeSucceeded', message: 'GatewayAlive: remote gateway answers probes' },
    ]);
  });

  it('the remote API lost, Services failing and a local gateway unable to probe are Warnings', () => {
    const after = [
      c('Ready', 'True', 'Synced'),
      c('RemoteAPIAvailable', 'False', 'Unreachable', 'GET /version: ECONNREFUSED'),
      c('GatewayAlive', 'Unknown', 'LocalGatewayUnavailable', "this cluster's gateway cannot probe"),
      c('ServicesMirrored', 'False', 'SomeNotMirrored', '1 of 3 services not mirrored'),
    ];
    expect(linkConditionEvents(healthy, after).map((e) => [e.type, e.reason])).toEqual([
      ['Warning', 'Unreachable'],
      ['Warning', 'LocalGatewayUnavailable'],
      ['Warning', 'SomeNotMirrored'],
    ]);
  });

  it('says nothing for a healthy new Link, a still-failing one whose message changed, Ready, or a refusal recorded elsewhere', () => {
    expect(linkConditionEvents(undefined, healthy)).toEqual([]);
    // A new Link's first probe and first list: Unknown, then True.
    const starting = [
      c('GatewayAlive', 'Unknown', 'NotProbedYet'),
      c('ServicesMirrored', 'Unknown', 'Syncing'),
    ];
    expect(linkConditionEvents(starting, healthy)).toEqual([]);
    const failing = [c('GatewayAlive', 'False', 'ProbeFailed', 'timeout')];
    expect(linkConditionEvents(failing, [c('GatewayAlive', 'False', 'ProbeFailed', 'ECONNRESET')])).toEqual(
      [],
    );
    expect(
      linkConditionEvents(healthy, [c('Ready', 'False', 'CredentialsUnavailable', 'no Secret')]),
    ).toEqual([]);
    expect(
      linkConditionEvents(healthy, [
        c('RemoteAPIAvailable', 'False', 'RemoteClusterMismatch', 'it is north'),
      ]),
    ).toEqual([]);
    // A hold of a shrunk list's removals is recorded where it begins (link-deletion-hold.ts).
    expect(
      linkConditionEvents(healthy, [c('ServicesMirrored', 'False', 'RemoteListShrunk', '2 mirrors kept')]),
    ).toEqual([]);
    // Unknown for another reason (a new gateway not probed yet) is no trouble and no recovery.
    expect(linkConditionEvents(healthy, [c('GatewayAlive', 'Unknown', 'NotProbedYet')])).toEqual([]);
  });

  it("a remote found dead as this cluster's gateway comes back is a Warning of its own", () => {
    const local = [c('GatewayAlive', 'Unknown', 'LocalGatewayUnavailable', 'cannot probe')];
    const dead = [c('GatewayAlive', 'False', 'ProbeFailed', 'connect ECONNREFUSED')];
    expect(linkConditionEvents(local, dead)).toEqual([
      { type: 'Warning', reason: 'ProbeFailed', message: 'GatewayAlive: connect ECONNREFUSED' },
    ]);
  });

  it('a Link that starts in trouble says so once', () => {
    const down = [c('RemoteAPIAvailable', 'False', 'Unreachable', 'ECONNREFUSED')];
    expect(linkConditionEvents(undefined, down)).toHaveLength(1);
  });
});
