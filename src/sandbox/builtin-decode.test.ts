/**
 * How kube-apiserver decodes the scalar types of built-in kinds: metav1.Time parses RFC 3339 and is
 * written back to the second in UTC; metav1.MicroTime needs exactly six fraction digits (Go's
 * RFC3339Micro layout) and is written back in UTC; int32 fields take integers in range. Anything
 * else is a 400 decode error, not a 422.
 */
import { describe, expect, it } from 'vitest';
import { decodeBuiltinFields } from './builtin-fields.js';

const LEASE = 'coordination.k8s.io/v1/Lease';
const EVENT = 'v1/Event';

function lease(spec: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: 'l', namespace: 'n' },
    spec,
  };
}
function event(fields: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: 'e', namespace: 'n' },
    involvedObject: { kind: 'Service', namespace: 'n', name: 's' },
    ...fields,
  };
}
const decode = (gvk: string, obj: Record<string, unknown>) =>
  decodeBuiltinFields(gvk, String(obj.kind), obj, false);

describe('MicroTime (Lease acquireTime/renewTime, Event eventTime)', () => {
  it('takes exactly six fraction digits and writes the time back in UTC', () => {
    const l = lease({
      renewTime: '2026-11-25T10:00:00.123456+01:00',
      acquireTime: '2026-11-25T09:00:00.000001Z',
    });
    decode(LEASE, l);
    expect(l.spec).toEqual({
      renewTime: '2026-11-25T09:00:00.123456Z',
      acquireTime: '2026-11-25T09:00:00.000001Z',
    });
  });

  it.each([
    ['milliseconds, as Date.toISOString writes', '2026-11-25T10:00:00.123Z'],
    ['no fraction', '2026-11-25T10:00:00Z'],
    ['nanoseconds', '2026-11-25T10:00:00.123456789Z'],
    ['no time at all', 'yesterday'],
  ])('refuses %s with a 400 decode error', (_what, value) => {
    expect(() => decode(LEASE, lease({ renewTime: value }))).toThrow(
      expect.objectContaining({
        code: 400,
        message: expect.stringContaining(`parsing time "${value}" as "2006-01-02T15:04:05.000000Z07:00"`),
      }),
    );
  });

  it('refuses a non-string', () => {
    expect(() => decode(LEASE, lease({ renewTime: 17 }))).toThrow(expect.objectContaining({ code: 400 }));
  });

  it('applies to an Event eventTime too', () => {
    expect(() => decode(EVENT, event({ eventTime: '2026-11-25T10:00:00Z' }))).toThrow(
      expect.objectContaining({ code: 400 }),
    );
  });
});

describe('Time (Event timestamps, object metadata)', () => {
  it('takes RFC 3339 with or without a fraction and keeps the second, in UTC', () => {
    const e = event({
      firstTimestamp: '2026-11-25T10:00:00.987Z',
      lastTimestamp: '2026-11-25T12:30:00+02:00',
    });
    decode(EVENT, e);
    expect(e.firstTimestamp).toBe('2026-11-25T10:00:00Z');
    expect(e.lastTimestamp).toBe('2026-11-25T10:30:00Z');
  });

  it.each([
    ['not a time', 'not a time'],
    ['a date alone', '2026-11-25'],
    ['a month 13', '2026-13-25T10:00:00Z'],
    ['a space for the T', '2026-11-25 10:00:00Z'],
  ])('refuses %s with a 400 decode error', (_what, value) => {
    expect(() => decode(EVENT, event({ lastTimestamp: value }))).toThrow(
      expect.objectContaining({
        code: 400,
        message: expect.stringContaining(`parsing time "${value}" as "2006-01-02T15:04:05Z07:00"`),
      }),
    );
  });
});

describe('int32', () => {
  it.each([
    ['2^40', 2 ** 40],
    ['-2^31 - 1', -(2 ** 31) - 1],
    ['a fraction', 15.5],
  ])('refuses %s with a 400 decode error', (_what, value) => {
    expect(() => decode(LEASE, lease({ leaseDurationSeconds: value }))).toThrow(
      expect.objectContaining({
        code: 400,
        message: expect.stringContaining(`cannot unmarshal number ${value} into Go struct field`),
      }),
    );
  });

  it('takes the extremes of the range', () => {
    expect(decode(LEASE, lease({ leaseDurationSeconds: 2 ** 31 - 1, leaseTransitions: 0 }))).toEqual([]);
  });
});
