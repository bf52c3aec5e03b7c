import { describe, expect, it } from 'vitest';
import {
  errorFromResponse,
  errorFromTransport,
  errorFromWatchStatus,
  isAlreadyExists,
  isNamespaceTerminating,
  isRetryable,
  parseRetryAfter,
  retryAfterMs,
} from './errors.js';

const ctx = { method: 'PUT', path: '/api/v1/namespaces/a/services/b' };

describe('errorFromResponse', () => {
  it.each([
    [401, 'KUBE_UNAUTHORIZED', false],
    [403, 'KUBE_FORBIDDEN', true],
    [404, 'KUBE_NOT_FOUND', false],
    [409, 'KUBE_CONFLICT', false],
    [410, 'KUBE_GONE', false],
    [422, 'KUBE_INVALID', true],
    [429, 'KUBE_TOO_MANY_REQUESTS', false],
    [500, 'KUBE_API_UNAVAILABLE', false],
    [503, 'KUBE_API_UNAVAILABLE', false],
    [400, 'KUBE_REQUEST_FAILED', true],
  ])('%i → %s (terminal %s)', (status, code, terminal) => {
    const err = errorFromResponse(status, { kind: 'Status', message: 'nope' }, ctx);
    expect(err.code).toBe(code);
    expect(err.terminal).toBe(terminal);
    expect(isRetryable(err)).toBe(!terminal);
    expect(err.message).toContain('nope');
  });

  it('422 carries the Status message and the field causes', () => {
    const err = errorFromResponse(
      422,
      {
        kind: 'Status',
        reason: 'Invalid',
        message: 'Service "b" is invalid',
        details: { causes: [{ field: 'spec.ports[0].port', message: 'must be between 1 and 65535' }] },
      },
      ctx,
    );
    expect(err.message).toBe(
      'PUT /api/v1/namespaces/a/services/b: 422 Invalid: Service "b" is invalid (spec.ports[0].port: must be between 1 and 65535)',
    );
    expect(err.causes).toHaveLength(1);
  });

  it('tells AlreadyExists from a stale update', () => {
    expect(isAlreadyExists(errorFromResponse(409, { kind: 'Status', reason: 'AlreadyExists' }, ctx))).toBe(
      true,
    );
    expect(isAlreadyExists(errorFromResponse(409, { kind: 'Status', reason: 'Conflict' }, ctx))).toBe(false);
  });

  it('honours Retry-After from the header, else from Status details', () => {
    expect(retryAfterMs(errorFromResponse(429, {}, { ...ctx, retryAfter: '2' }))).toBe(2000);
    expect(
      retryAfterMs(errorFromResponse(429, { kind: 'Status', details: { retryAfterSeconds: 3 } }, ctx)),
    ).toBe(3000);
  });

  it('403 in a namespace being deleted is retried; a 403 of RBAC stays terminal', () => {
    // kube-apiserver's NamespaceLifecycle admission: Forbidden, with a NamespaceTerminating cause.
    const terminating = errorFromResponse(
      403,
      {
        kind: 'Status',
        reason: 'Forbidden',
        message:
          'services "web-west" is forbidden: unable to create new content in namespace shop because it is being terminated',
        details: {
          name: 'web-west',
          kind: 'services',
          causes: [
            {
              reason: 'NamespaceTerminating',
              message: 'namespace shop is being terminated',
              field: 'metadata.namespace',
            },
          ],
        },
      },
      { method: 'POST', path: '/api/v1/namespaces/shop/services' },
    );
    expect(terminating.code).toBe('KUBE_FORBIDDEN');
    expect(isNamespaceTerminating(terminating)).toBe(true);
    expect(isRetryable(terminating)).toBe(true);
    const rbac = errorFromResponse(
      403,
      {
        kind: 'Status',
        reason: 'Forbidden',
        message:
          'services is forbidden: User "system:serviceaccount:isthmus-system:isthmus-controller" cannot create resource "services" in API group "" in the namespace "shop"',
        details: { kind: 'services' },
      },
      { method: 'POST', path: '/api/v1/namespaces/shop/services' },
    );
    expect(isNamespaceTerminating(rbac)).toBe(false);
    expect(isRetryable(rbac)).toBe(false);
    expect(isNamespaceTerminating(new Error('namespace shop is being terminated'))).toBe(false);
  });

  it('a non-JSON body is quoted, shortened', () => {
    expect(errorFromResponse(502, 'bad gateway', ctx).message).toContain(': 502: bad gateway');
  });
});

describe('other errors', () => {
  it('a watch ERROR event with code 410 is KUBE_GONE', () => {
    expect(errorFromWatchStatus({ kind: 'Status', code: 410, reason: 'Expired' }, '/api/v1/pods').code).toBe(
      'KUBE_GONE',
    );
  });

  it('connection refused is KUBE_API_UNAVAILABLE and retryable', () => {
    const e = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const err = errorFromTransport(e, ctx);
    expect(err.code).toBe('KUBE_API_UNAVAILABLE');
    expect(isRetryable(err)).toBe(true);
    expect(err.cause).toBe(e);
  });

  it.each([
    ['5', 5000],
    ['', undefined],
    ['soon', undefined],
  ])('parseRetryAfter(%j) = %s', (v, ms) => {
    expect(parseRetryAfter(v)).toBe(ms);
  });

  it('parses an HTTP date', () => {
    const now = Date.parse('2024-01-01T00:00:00Z');
    expect(parseRetryAfter('Mon, 01 Jan 2024 00:00:10 GMT', now)).toBe(10_000);
  });
});
