/**
 * The pure decisions behind an informer's recovery from a server whose history went back (etcd
 * restored without --bump-revision): recognising kube-apiserver's ResourceVersionTooLarge answer,
 * a resourceVersion below the informer's, and a relist whose equal versions prove nothing.
 */
import { describe, expect, it } from 'vitest';
import { errorFromResponse, errorFromWatchStatus, isGone, isTooLargeResourceVersion } from './errors.js';
import { resumeNeedsCheck } from './informer.js';
import { InformerStore, isBefore, resourceVersionBefore, revisionOf } from './informer-store.js';
import type { KubeObject } from './types.js';

/** What kube-apiserver sends (storage.NewTooLargeResourceVersionError through the cacher). */
const TOO_LARGE = {
  kind: 'Status',
  apiVersion: 'v1',
  status: 'Failure',
  message: 'Timeout: Too large resource version: 186, current: 126',
  reason: 'Timeout',
  details: {
    causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
    retryAfterSeconds: 1,
  },
  code: 504,
};

describe('isTooLargeResourceVersion', () => {
  it('recognises the 504 as an HTTP answer and as a watch ERROR event', () => {
    const answer = errorFromResponse(504, TOO_LARGE, { method: 'GET', path: '/api/v1/services' });
    expect(isTooLargeResourceVersion(answer)).toBe(true);
    expect(isTooLargeResourceVersion(errorFromWatchStatus(TOO_LARGE, '/api/v1/services'))).toBe(true);
    // Older servers: no cause, only the message.
    const { details: _d, ...bare } = TOO_LARGE;
    expect(isTooLargeResourceVersion(errorFromWatchStatus(bare, '/api/v1/services'))).toBe(true);
  });

  it('is not any other 504, nor a 410', () => {
    const timeout = { kind: 'Status', code: 504, reason: 'Timeout', message: 'request did not complete' };
    expect(isTooLargeResourceVersion(errorFromWatchStatus(timeout, '/api/v1/services'))).toBe(false);
    const gone = errorFromWatchStatus({ kind: 'Status', code: 410, reason: 'Expired' }, '/api/v1/services');
    expect(isTooLargeResourceVersion(gone)).toBe(false);
    expect(isGone(gone)).toBe(true);
  });
});

describe('resourceVersionBefore', () => {
  it('compares etcd revisions as numbers, and nothing it cannot read', () => {
    expect(resourceVersionBefore('126', '186')).toBe(true);
    expect(resourceVersionBefore('99', '100')).toBe(true);
    expect(resourceVersionBefore('186', '186')).toBe(false);
    expect(resourceVersionBefore('1000', '999')).toBe(false);
    expect(resourceVersionBefore('', '186')).toBe(false);
    expect(resourceVersionBefore('126', '')).toBe(false);
    expect(resourceVersionBefore('a1', 'b2')).toBe(false);
    expect(resourceVersionBefore('18446744073709551615', '18446744073709551616')).toBe(true);
  });
});

describe('InformerStore.replace after lost history', () => {
  const svc = (name: string, rv: string, port: number): KubeObject =>
    ({
      metadata: { name, namespace: 'ns', resourceVersion: rv },
      spec: { ports: [{ port }] },
    }) as KubeObject;

  it('an equal resourceVersion proves nothing once the server reused versions: content decides', () => {
    const s = new InformerStore<KubeObject>();
    s.replace([svc('reused', '150', 80), svc('same', '120', 80)]);
    // Restored without bump, the server wrote `reused` again and reached 150 anew, with other content.
    const events = s.replace([svc('reused', '150', 8080), svc('same', '120', 80)], {
      trustResourceVersions: false,
    });
    expect(events).toEqual([
      { type: 'update', object: svc('reused', '150', 8080), old: svc('reused', '150', 80) },
    ]);
    // An ordinary relist still trusts versions.
    expect(s.replace([svc('reused', '150', 1), svc('same', '120', 80)])).toEqual([]);
  });
});

describe('revisionOf / isBefore', () => {
  it('parses an etcd revision once, for comparisons without parsing again', () => {
    expect(revisionOf('186')).toBe(186n);
    expect(revisionOf('')).toBeNull();
    expect(revisionOf('a1')).toBeNull();
    expect(isBefore(126n, 186n)).toBe(true);
    expect(isBefore(186n, 186n)).toBe(false);
    expect(isBefore(null, 186n)).toBe(false);
    expect(isBefore(126n, null)).toBe(false);
  });
});

describe('resumeNeedsCheck', () => {
  it('only a clean end after a line at or above our version resumes without checking the server', () => {
    expect(resumeNeedsCheck({ clean: true, reachedOurVersion: true })).toBe(false);
    // A server behind us keeps the watch silent until its timeout.
    expect(resumeNeedsCheck({ clean: true, reachedOurVersion: false })).toBe(true);
    // A broken connection: what an API server restart (an etcd restore) looks like.
    expect(resumeNeedsCheck({ clean: false, reachedOurVersion: true })).toBe(true);
    // The watch, or the check before it, failed (a 5xx, a refused connection).
    expect(resumeNeedsCheck(undefined)).toBe(true);
  });
});
