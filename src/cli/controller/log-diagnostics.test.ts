import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { IsthmusError } from '../../errors.js';
import { reconcileErrorChannel } from '../../failover/controller.js';
import { statusUnsupportedChannel } from '../../failover/split-writes.js';
import { federationErrorChannel } from '../../federation/controller.js';
import { eventErrorChannel } from '../../kube/events.js';
import { handlerErrorChannel } from '../../kube/informer.js';
import { logControllerDiagnostics } from './log-diagnostics.js';

describe('logControllerDiagnostics', () => {
  it('logs why a reconcile, a handler or an Event write failed, until unsubscribed', () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()));
        done();
      },
    });
    // pino writes synchronously to a plain Writable when it is not a SonicBoom.
    const stop = logControllerDiagnostics(pino({ level: 'info' }, sink));
    const refused = new IsthmusError('KUBE_API_UNAVAILABLE', 'injected: PUT failed');
    reconcileErrorChannel.publish({ key: 'shop/web', error: refused, failures: 2 });
    federationErrorChannel.publish({ key: 'shop/cart', error: new Error('conflict'), failures: 1 });
    handlerErrorChannel.publish({ resource: 'services', event: 'MODIFIED', error: new TypeError('boom') });
    eventErrorChannel.publish({ reason: 'Mirrored', error: 'forbidden' });
    stop();
    reconcileErrorChannel.publish({ key: 'shop/late', error: refused, failures: 1 });

    expect(lines).toMatchObject([
      {
        level: 40,
        part: 'failover',
        key: 'shop/web',
        failures: 2,
        msg: 'TrafficSplit reconcile failed; retrying',
      },
      { part: 'federation', key: 'shop/cart', failures: 1, err: expect.stringContaining('conflict') },
      { part: 'informer', resource: 'services', event: 'MODIFIED', err: expect.stringContaining('boom') },
      { part: 'events', reason: 'Mirrored', err: expect.stringContaining('forbidden') },
    ]);
    expect(lines[0]!.err).toContain('injected: PUT failed');
    expect(lines).toHaveLength(4);
  });

  it('logs at info that the TrafficSplit CRD keeps no status, naming the split that found it out, until unsubscribed', () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()));
        done();
      },
    });
    const stop = logControllerDiagnostics(pino({ level: 'info' }, sink));
    statusUnsupportedChannel.publish({ key: 'shop/podinfo' });
    stop();
    statusUnsupportedChannel.publish({ key: 'shop/late' });

    expect(lines).toEqual([
      expect.objectContaining({
        level: 30,
        part: 'failover',
        key: 'shop/podinfo',
        msg: 'the TrafficSplit CRD has no status subresource: failover works on without writing status; its state is kept in memory only',
      }),
    ]);
    expect(lines[0]).not.toHaveProperty('err');
  });
});
