import { describe, expect, it } from 'vitest';
import { resolverFor } from './resolver.js';
import { ServiceIndex } from './service-index.js';

describe('resolverFor', () => {
  const index = new ServiceIndex();
  index.upsertService({
    namespace: 'test',
    name: 'web',
    headless: false,
    ports: [{ name: 'http', port: 80 }],
  });
  const resolve = resolverFor(index, 'cluster.local');

  it('keeps parse refusals (400/403) and index answers (403/503) apart', () => {
    expect(resolve('10.0.0.1:80')).toMatchObject({ ok: false, status: 403 });
    expect(resolve('web.test.svc.cluster.local')).toMatchObject({ ok: false, status: 400 });
    expect(resolve('web.test.svc.cluster.local:81')).toMatchObject({ ok: false, status: 403 });
    expect(resolve('web.test.svc.cluster.local:80')).toMatchObject({ ok: false, status: 503 });
  });

  it('asks the index afresh each time (a cached parse never caches endpoints)', () => {
    expect(resolve('web.test.svc.cluster.local:80')).toMatchObject({ ok: false, status: 503 });
    index.setSliceEndpoints('test', 'web', 's', [
      { address: '10.0.0.9', ready: true, ports: [{ name: 'http', port: 8080 }] },
    ]);
    expect(resolve('web.test.svc.cluster.local:80')).toEqual({
      ok: true,
      candidates: [{ host: '10.0.0.9', port: 8080 }],
    });
  });

  it('stays bounded under a stream of distinct authorities', () => {
    for (let i = 0; i < 5000; i++)
      expect(resolve(`s${i}.test.svc.cluster.local:80`)).toMatchObject({ ok: false });
  });
});
