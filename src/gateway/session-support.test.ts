/** What a tunnel does when its remote has no usable session. */
import { describe, expect, it } from 'vitest';
import { IsthmusError } from '../errors.js';
import { hungError } from './session-liveness.js';
import { hungMarksRemote, noSessionStep } from './session-support.js';

const refused = new IsthmusError('GATEWAY_UNREACHABLE', 'gateway a:1 unreachable: connect ECONNREFUSED');
const hung = hungError('a:1', 'no PING answer within 2000 ms');
const timedOut = new IsthmusError('GATEWAY_CONNECT_TIMEOUT', 'no session with a:1 within 5000 ms');

describe('noSessionStep', () => {
  it.each([
    ['never failed: wait for the dial', undefined, false, true, false, 'wait'],
    ['refused, in backoff: fail fast', refused, false, false, false, 'fail'],
    ['refused, backoff over: dial and wait (it ends quickly)', refused, false, true, false, 'wait'],
    ['refused, a dial running: wait for it', refused, true, true, false, 'wait'],
    ['hung, in backoff: fail fast', hung, false, false, false, 'fail'],
    ['hung, backoff over: dial behind, fail fast', hung, false, true, false, 'dial-behind'],
    ['hung, a dial running: fail fast, not wait up to the connect timeout', hung, true, true, false, 'fail'],
    ['dial timed out, a dial running: fail fast', timedOut, true, true, false, 'fail'],
    ['dial timed out, backoff over: dial behind', timedOut, false, true, false, 'dial-behind'],
    ['a probe: always waits (probes notice recovery)', hung, true, false, true, 'wait'],
  ] as const)('%s', (_, lastError, connecting, backoffOver, ignoreBackoff, expected) => {
    expect(noSessionStep({ lastError, connecting, backoffOver, ignoreBackoff })).toBe(expected);
  });
});

describe('hungMarksRemote', () => {
  it.each([
    ['the only session to the remote: the remote is hung', false, false, true],
    ['already draining (GOAWAY, an earlier verdict): the remote is not marked again', true, false, false],
    ['another session takes tunnels: the remote answers on it', false, true, false],
    ['draining, another session ready', true, true, false],
  ] as const)('%s', (_, draining, otherReady, expected) => {
    expect(hungMarksRemote({ draining, otherReady })).toBe(expected);
  });
});
