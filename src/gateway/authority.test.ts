import { describe, expect, it } from 'vitest';
import { formatAuthority, parseAuthority } from './authority.js';

const D = 'cluster.local';

describe('parseAuthority', () => {
  it.each([
    [
      'podinfo.test.svc.cluster.local:9898',
      { kind: 'service', service: 'podinfo', namespace: 'test', port: 9898 },
    ],
    [
      'PodInfo.Test.svc.Cluster.Local:80',
      { kind: 'service', service: 'podinfo', namespace: 'test', port: 80 },
    ],
    [
      'podinfo.test.svc.cluster.local.:80',
      { kind: 'service', service: 'podinfo', namespace: 'test', port: 80 },
    ],
    [
      'web-0.web.db.svc.cluster.local:5432',
      { kind: 'pod', hostname: 'web-0', service: 'web', namespace: 'db', port: 5432 },
    ],
    ['a.b.svc.cluster.local:65535', { kind: 'service', service: 'a', namespace: 'b', port: 65535 }],
  ])('accepts %s', (authority, target) => {
    expect(parseAuthority(authority, D)).toEqual({ ok: true, target });
  });

  it('accepts a custom cluster domain, with or without a trailing dot', () => {
    expect(parseAuthority('a.b.svc.east.example:1', 'east.example.')).toMatchObject({ ok: true });
    expect(parseAuthority('a.b.svc.cluster.local:1', 'east.example')).toMatchObject({
      ok: false,
      status: 403,
    });
  });

  it.each([
    ['', 400],
    ['podinfo.test.svc.cluster.local', 400], // no port
    ['podinfo.test.svc.cluster.local:', 400],
    ['podinfo.test.svc.cluster.local:0', 400],
    ['podinfo.test.svc.cluster.local:65536', 400],
    ['podinfo.test.svc.cluster.local:123456', 400],
    ['podinfo.test.svc.cluster.local:+80', 400],
    ['podinfo.test.svc.cluster.local:8o', 400],
    [':80', 400],
    ['pod_info.test.svc.cluster.local:80', 400], // '_' is not in a DNS label
    ['-bad.test.svc.cluster.local:80', 400],
    ['bad-.test.svc.cluster.local:80', 400],
    ['a..test.svc.cluster.local:80', 400],
    ['user@podinfo.test.svc.cluster.local:80', 400],
    [`${'a'.repeat(64)}.test.svc.cluster.local:80`, 400],
    [`${'a.'.repeat(130)}svc.cluster.local:80`, 400], // overlong
    ['10.0.0.1:80', 403],
    ['127.1:80', 403],
    ['0x7f.0.0.1:80', 403],
    ['[::1]:80', 403],
    ['[2001:db8::1]:443', 403],
    ['::1:80', 403],
    ['example.com:443', 403],
    ['kubernetes.default.svc.cluster.local.evil.com:443', 403],
    ['test.svc.cluster.local:80', 403], // no service label
    ['a.b.c.d.svc.cluster.local:80', 403],
    ['localhost:80', 403],
  ])('refuses %s with %i', (authority, status) => {
    const result = parseAuthority(authority, D);
    expect(result).toMatchObject({ ok: false, status });
  });

  it('round-trips through formatAuthority', () => {
    for (const a of ['podinfo.test.svc.cluster.local:9898', 'web-0.web.db.svc.cluster.local:5432']) {
      const parsed = parseAuthority(a, D);
      if (!parsed.ok) throw new Error(parsed.reason);
      expect(formatAuthority(parsed.target, D)).toBe(a);
    }
  });
});
