import { describe, expect, it } from 'vitest';
import { certifyChannel } from '../../identity/certify-service.js';
import { logCertifyOutcomes } from './identity.js';

describe('isthmus identity: the Certify log', () => {
  it('says who got a certificate and why a request was refused, until stopped', () => {
    const out: string[] = [];
    const err: string[] = [];
    const stop = logCertifyOutcomes(
      (l) => out.push(l),
      (l) => err.push(l),
    );
    certifyChannel.publish({ outcome: 'issued', identity: 'spiffe://root.isthmus.dev/cluster/west/gateway' });
    certifyChannel.publish({ outcome: 'denied', reason: 'the token of east may not ask for west' });
    certifyChannel.publish({ outcome: 'unauthenticated' });
    stop();
    certifyChannel.publish({ outcome: 'invalid', reason: 'after stop' });
    expect(out).toEqual([
      'identity: issued a certificate for spiffe://root.isthmus.dev/cluster/west/gateway\n',
    ]);
    expect(err).toEqual([
      'identity: Certify denied: the token of east may not ask for west\n',
      'identity: Certify unauthenticated: no reason given\n',
    ]);
  });
});
