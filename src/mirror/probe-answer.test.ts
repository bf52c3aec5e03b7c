import { describe, expect, it } from 'vitest';
import { type ProbeResult, probeAnswer, probeUnanswered } from './probe-answer.js';

describe('probeAnswer: whose a failed probe is', () => {
  const refusal =
    '10.1.0.1:4143 is not a gateway that the Link to cluster "west" names: /probe dials only linked gateways';
  it.each<[string, number, Record<string, unknown>, ProbeResult]>([
    ['alive', 200, { alive: true, latencyMs: 3 }, { success: true, latencyMs: 3 }],
    [
      'alive at another address of the gateway (via)',
      200,
      { alive: true, latencyMs: 3, via: '192.0.2.11:30143' },
      { success: true, latencyMs: 3, via: '192.0.2.11:30143' },
    ],
    [
      'the remote did not answer (this gateway says so)',
      503,
      { alive: false, latencyMs: 2000, error: 'no answer within 2000 ms', failure: 'remote' },
      { success: false, failure: 'remote', latencyMs: 2000, error: 'no answer within 2000 ms' },
    ],
    [
      'a gateway older than `failure`: a 503 is the remote, as it always counted',
      503,
      { alive: false, latencyMs: 0, error: 'certificates not loaded' },
      { success: false, failure: 'remote', latencyMs: 0, error: 'certificates not loaded' },
    ],
    [
      'a `failure` no version says: as it always counted',
      503,
      { alive: false, error: 'x', failure: 'sideways' },
      { success: false, failure: 'remote', error: 'x' },
    ],
    [
      'this gateway cannot probe (no certificate)',
      503,
      { alive: false, latencyMs: 0, error: 'certificates not loaded', failure: 'local' },
      {
        success: false,
        failure: 'local',
        latencyMs: 0,
        error: "this cluster's gateway cannot probe: certificates not loaded",
      },
    ],
    [
      'this gateway refuses the target (any version): nothing was dialled',
      403,
      { alive: false, latencyMs: 0, error: refusal, refused: true },
      {
        success: false,
        failure: 'local',
        latencyMs: 0,
        error: `this cluster's gateway refuses to probe it: ${refusal}`,
      },
    ],
    [
      'a malformed query',
      400,
      { error: 'timeoutMs must be an integer in 1..30000' },
      {
        success: false,
        failure: 'local',
        error: "this cluster's gateway admin answered 400: timeoutMs must be an integer in 1..30000",
      },
    ],
    [
      'not /probe at all (a wrong admin URL)',
      404,
      {},
      { success: false, failure: 'local', error: "this cluster's gateway admin answered 404" },
    ],
    [
      'the admin errored',
      500,
      { error: 'boom' },
      { success: false, failure: 'local', error: "this cluster's gateway admin answered 500: boom" },
    ],
    [
      'alive on a 503 is no success, and the remote as before',
      503,
      { alive: true },
      { success: false, failure: 'remote', error: 'probe answered 503' },
    ],
  ])('%s', (_name, status, body, expected) => {
    expect(probeAnswer(status, body)).toEqual(expected);
  });

  it('keeps the version the remote answered with', () => {
    expect(probeAnswer(200, { alive: true, latencyMs: 1, version: '0.2.0' })).toEqual({
      success: true,
      latencyMs: 1,
      version: '0.2.0',
    });
  });
});

describe('probeUnanswered: the admin did not answer', () => {
  const admin = 'http://127.0.1.1:4191';
  it.each<[string, unknown, string]>([
    [
      'refused (fetch names the cause)',
      new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.1.1:4191') }),
      "this cluster's gateway admin (http://127.0.1.1:4191) did not answer: connect ECONNREFUSED 127.0.1.1:4191",
    ],
    [
      'timed out',
      new DOMException('The operation was aborted due to timeout', 'TimeoutError'),
      "this cluster's gateway admin (http://127.0.1.1:4191) did not answer: no answer within 3000 ms",
    ],
    [
      'anything else',
      new Error('socket hang up'),
      "this cluster's gateway admin (http://127.0.1.1:4191) did not answer: socket hang up",
    ],
  ])('%s: a failure on this side', (_name, err, error) => {
    expect(probeUnanswered(err, admin, 3000)).toEqual({ success: false, failure: 'local', error });
  });
});
