import { constants as h2 } from 'node:http2';
import { describe, expect, it } from 'vitest';
import { refusalDebugData, refusalReason } from './tunnel-settings.js';

describe('the refusal a GOAWAY carries', () => {
  const refused = h2.NGHTTP2_INADEQUATE_SECURITY;

  it('round-trips the reason, and only on a refusing GOAWAY', () => {
    const data = refusalDebugData('cluster "east" is not linked and not in --allow-cluster');
    expect(refusalReason(refused, data)).toBe('cluster "east" is not linked and not in --allow-cluster');
    expect(refusalReason(h2.NGHTTP2_NO_ERROR, data)).toBeUndefined();
    expect(refusalReason(refused, Buffer.from('some other debug data'))).toBeUndefined();
    expect(refusalReason(refused, undefined)).toBeUndefined();
  });

  it('reads a session cap\'s ENHANCE_YOUR_CALM too: the egress reports "too many sessions"', () => {
    const data = refusalDebugData('too many sessions from this cluster: the limit is 32');
    expect(refusalReason(h2.NGHTTP2_ENHANCE_YOUR_CALM, data)).toBe(
      'too many sessions from this cluster: the limit is 32',
    );
    // A rapid-reset GOAWAY carries no reason.
    expect(refusalReason(h2.NGHTTP2_ENHANCE_YOUR_CALM, undefined)).toBeUndefined();
  });

  it('bounds and cleans what a peer sent, whatever it sent: it lands in logs and Link conditions', () => {
    const flood = Buffer.concat([refusalDebugData(''), Buffer.from(`a\u001b[31m\n${'x'.repeat(60_000)}`)]);
    const reason = refusalReason(refused, flood)!;
    expect(reason.length).toBeLessThanOrEqual(512);
    expect(reason).toMatch(/^a\?\[31m\?x+$/);
  });
});
