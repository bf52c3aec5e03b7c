import { describe, expect, it } from 'vitest';
import { logCertifyOutcomes } from './certify-log.js';
import { certifyChannel } from './certify-service.js';

const EAST = 'spiffe://root.isthmus.dev/cluster/east/gateway';

describe('the Certify audit log', () => {
  it('names the serial, notAfter, account and pod of every certificate issued, and who was refused, until stopped', () => {
    const out: string[] = [];
    const err: string[] = [];
    const stop = logCertifyOutcomes(
      (l) => out.push(l),
      (l) => err.push(l),
    );
    certifyChannel.publish({
      outcome: 'issued',
      identity: EAST,
      serial: '4f0a9c1e',
      notAfter: '2026-03-02T10:00:00.000Z',
      user: 'system:serviceaccount:isthmus-system:isthmus-gateway',
      pod: 'isthmus-gateway-5d8c7b9f4-x2kqp',
    });
    certifyChannel.publish({
      outcome: 'denied',
      reason: 'system:serviceaccount:default:web may not hold any identity in this cluster',
      user: 'system:serviceaccount:default:web',
      pod: 'web-7c9d8f6b5-q4lzm',
    });
    certifyChannel.publish({ outcome: 'unauthenticated', reason: 'token not accepted: token expired' });
    stop();
    certifyChannel.publish({ outcome: 'invalid', reason: 'after stop' });
    expect(out).toEqual([
      `identity: issued a certificate for ${EAST} serial=4f0a9c1e notAfter=2026-03-02T10:00:00.000Z user=system:serviceaccount:isthmus-system:isthmus-gateway pod=isthmus-gateway-5d8c7b9f4-x2kqp\n`,
    ]);
    expect(err).toEqual([
      'identity: Certify denied: system:serviceaccount:default:web may not hold any identity in this cluster user=system:serviceaccount:default:web pod=web-7c9d8f6b5-q4lzm\n',
      'identity: Certify unauthenticated: token not accepted: token expired\n',
    ]);
  });
});
