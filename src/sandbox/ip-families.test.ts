import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from './index.js';
import { IpAllocator } from './ip-allocator.js';
import { call, closeAgent, svc } from './test-support.js';

const SVC = '/api/v1/namespaces/default/services';

describe('IpAllocator', () => {
  it('hands out IPv6 addresses in canonical form, skipping the network address', () => {
    const pool = new IpAllocator('fd00:10:96::/126');
    expect(pool.family).toBe('IPv6');
    expect(pool.firstAddress()).toBe('fd00:10:96::1');
    expect([pool.allocate(), pool.allocate(), pool.allocate(), pool.allocate()]).toEqual([
      'fd00:10:96::1',
      'fd00:10:96::2',
      'fd00:10:96::3',
      undefined,
    ]);
    pool.release('FD00:10:96:0:0:0:0:2');
    expect(pool.allocate()).toBe('fd00:10:96::2');
  });

  it('reserves requested addresses of its own family and range only', () => {
    const pool = new IpAllocator('fd00:10:96::/112');
    expect(pool.reserve('fd00:10:96::a')).toBeUndefined();
    expect(pool.reserve('fd00:10:96::a')?.message).toMatch(
      /failed to allocate IP fd00:10:96::a: provided IP is already allocated/,
    );
    expect(pool.reserve('fd00:10:97::1')?.message).toMatch(/provided IP is not in the valid range/);
    expect(pool.reserve('10.96.0.5')?.message).toMatch(/provided IP is not in the valid range/);
    expect(pool.reserve('fd00:10:96::')?.message).toMatch(/not in the valid range/);
  });

  it('refuses ranges kube-apiserver refuses', () => {
    expect(() => new IpAllocator('fd00::/64')).toThrow('the prefix must be /108 to /126');
    expect(() => new IpAllocator('10.0.0.0/4')).toThrow('the prefix must be /8 to /30');
    expect(() => new IpAllocator('nonsense/12')).toThrow('invalid service CIDR nonsense/12');
  });
});

describe('a single-stack IPv4 cluster', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await startSandbox({ name: 'single-stack', tls: false });
  });
  afterAll(async () => {
    await closeAgent(sb);
    await sb.close();
  });
  const create = (name: string, spec: Record<string, unknown>) => call(sb, 'POST', SVC, svc(name, { spec }));

  it('refuses IPv6 and RequireDualStack, gives PreferDualStack IPv4 alone', async () => {
    const v6 = await create('v6', { ipFamilies: ['IPv6'] });
    expect(v6.status).toBe(422);
    expect(v6.body.message).toBe(
      'Service "v6" is invalid: spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster',
    );
    const v6ip = await create('v6-ip', { clusterIP: 'fd00::5', clusterIPs: ['fd00::5'] });
    expect(v6ip.status).toBe(422);
    expect(v6ip.body.message).toMatch(
      /spec.clusterIPs\[0\]: Invalid value: .*IPv6 is not configured on this cluster/,
    );
    const required = await create('dual-required', { ipFamilyPolicy: 'RequireDualStack' });
    expect(required.status).toBe(422);
    expect(required.body.message).toMatch(
      /spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is not configured for dual-stack services/,
    );
    const preferred = await create('dual-preferred', { ipFamilyPolicy: 'PreferDualStack' });
    expect(preferred.status).toBe(201);
    expect(preferred.body.spec).toMatchObject({ ipFamilyPolicy: 'PreferDualStack', ipFamilies: ['IPv4'] });
    expect(preferred.body.spec.clusterIPs).toHaveLength(1);
  });

  it('gives a headless Service without a selector both families, as kube-apiserver does on any cluster', async () => {
    const r = await create('headless-selectorless', { clusterIP: 'None' });
    expect(r.status).toBe(201);
    expect(r.body.spec).toMatchObject({
      clusterIPs: ['None'],
      ipFamilyPolicy: 'RequireDualStack',
      ipFamilies: ['IPv4', 'IPv6'],
    });
    const selected = await create('headless-selected', { clusterIP: 'None', selector: { app: 'x' } });
    expect(selected.body.spec).toMatchObject({ ipFamilyPolicy: 'SingleStack', ipFamilies: ['IPv4'] });
  });
});

describe('a dual-stack cluster, IPv6 first', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await startSandbox({ name: 'dual-stack', tls: false, serviceCidr: 'fd00:10:96::/112,10.96.0.0/16' });
  });
  afterAll(async () => {
    await closeAgent(sb);
    await sb.close();
  });
  const create = (name: string, spec: Record<string, unknown> = {}) =>
    call(sb, 'POST', SVC, svc(name, { spec }));
  const patch = (name: string, spec: Record<string, unknown>) =>
    call(sb, 'PATCH', `${SVC}/${name}`, { spec }, { contentType: 'application/merge-patch+json' });

  it('gives the kubernetes Service and a Service without families the primary family', async () => {
    const kubernetes = await call(sb, 'GET', '/api/v1/namespaces/default/services/kubernetes');
    expect(kubernetes.body.spec).toMatchObject({
      clusterIP: 'fd00:10:96::1',
      ipFamilies: ['IPv6'],
      ipFamilyPolicy: 'SingleStack',
    });
    const plain = await create('plain');
    expect(plain.status).toBe(201);
    expect(plain.body.spec.ipFamilies).toEqual(['IPv6']);
    expect(plain.body.spec.clusterIP).toMatch(/^fd00:10:96::[0-9a-f]+$/);
    const v4 = await create('v4', { ipFamilies: ['IPv4'] });
    expect(v4.body.spec.clusterIPs).toEqual([expect.stringMatching(/^10\.96\./)]);
  });

  it('allocates one address per family for dual-stack policies, in the order asked', async () => {
    const preferred = await create('preferred', { ipFamilyPolicy: 'PreferDualStack' });
    expect(preferred.body.spec.ipFamilies).toEqual(['IPv6', 'IPv4']);
    expect(preferred.body.spec.clusterIPs).toEqual([
      expect.stringMatching(/^fd00:10:96::/),
      expect.stringMatching(/^10\.96\./),
    ]);
    const v4first = await create('v4-first', { ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4'] });
    expect(v4first.body.spec.ipFamilies).toEqual(['IPv4', 'IPv6']);
    expect(v4first.body.spec.clusterIP).toMatch(/^10\.96\./);
  });

  it('takes requested addresses, inferring their families, and refuses a family mismatch', async () => {
    const asked = await create('asked', {
      ipFamilyPolicy: 'RequireDualStack',
      clusterIP: '10.96.7.7',
      clusterIPs: ['10.96.7.7', 'fd00:10:96::707'],
    });
    expect(asked.status).toBe(201);
    expect(asked.body.spec.ipFamilies).toEqual(['IPv4', 'IPv6']);
    expect(asked.body.spec.clusterIPs).toEqual(['10.96.7.7', 'fd00:10:96::707']);
    const mismatch = await create('mismatch', {
      ipFamilies: ['IPv4'],
      clusterIP: 'fd00:10:96::909',
      clusterIPs: ['fd00:10:96::909'],
    });
    expect(mismatch.status).toBe(422);
    expect(mismatch.body.message).toMatch(/expected an IPv4 value as indicated by `ipFamilies\[0\]`/);
    // Nothing of the refused create stays allocated.
    const again = await create('again', { clusterIP: 'fd00:10:96::909', clusterIPs: ['fd00:10:96::909'] });
    expect(again.status).toBe(201);
  });

  it('adds a secondary address on upgrade and releases it only through SingleStack', async () => {
    const single = (await create('upgrade')).body;
    expect(single.spec.clusterIPs).toHaveLength(1);
    const upgraded = await patch('upgrade', { ipFamilyPolicy: 'PreferDualStack' });
    expect(upgraded.status).toBe(200);
    expect(upgraded.body.spec.ipFamilies).toEqual(['IPv6', 'IPv4']);
    expect(upgraded.body.spec.clusterIPs).toEqual([
      single.spec.clusterIP,
      expect.stringMatching(/^10\.96\./),
    ]);
    const secondary = upgraded.body.spec.clusterIPs[1];

    const dropped = await patch('upgrade', { clusterIPs: [single.spec.clusterIP], ipFamilies: ['IPv6'] });
    expect(dropped.status).toBe(422);
    expect(dropped.body.message).toMatch(/must be 'SingleStack' to release the secondary cluster IP/);

    const downgraded = await patch('upgrade', { ipFamilyPolicy: 'SingleStack' });
    expect(downgraded.status).toBe(200);
    expect(downgraded.body.spec).toMatchObject({ ipFamilies: ['IPv6'], clusterIPs: [single.spec.clusterIP] });
    // The released address can be asked for again.
    const reuse = await create('reuse', {
      ipFamilies: ['IPv4'],
      clusterIP: secondary,
      clusterIPs: [secondary],
    });
    expect(reuse.status).toBe(201);
  });

  it('returns both addresses of a deleted Service', async () => {
    const both = (await create('both', { ipFamilyPolicy: 'RequireDualStack' })).body.spec
      .clusterIPs as string[];
    expect((await call(sb, 'DELETE', `${SVC}/both`)).status).toBe(200);
    const again = await create('both-again', {
      ipFamilyPolicy: 'RequireDualStack',
      clusterIP: both[0],
      clusterIPs: both,
    });
    expect(again.status).toBe(201);
  });

  it('gives the addresses back when a Service becomes an ExternalName', async () => {
    const ips = (await create('renamed', { ipFamilyPolicy: 'RequireDualStack' })).body.spec
      .clusterIPs as string[];
    const external = await call(sb, 'PUT', `${SVC}/renamed`, {
      ...svc('renamed', { spec: { type: 'ExternalName', externalName: 'db.example.com', clusterIP: '' } }),
    });
    expect(external.status).toBe(200);
    expect(external.body.spec.clusterIPs).toBeUndefined();
    const again = await create('takes-them', {
      ipFamilyPolicy: 'RequireDualStack',
      clusterIP: ips[0],
      clusterIPs: ips,
    });
    expect(again.status).toBe(201);
  });

  it("refuses a change of a Service's primary family, and a reordering", async () => {
    await create('fixed', { ipFamilyPolicy: 'PreferDualStack' });
    const swapped = await patch('fixed', { ipFamilies: ['IPv4', 'IPv6'] });
    expect(swapped.status).toBe(422);
    expect(swapped.body.message).toMatch(/spec.ipFamilies\[0\]: Invalid value: .*may not change once set/);
    const single = (await create('fixed-single')).body;
    const moved = await patch('fixed-single', { ipFamilies: ['IPv4'], clusterIP: '', clusterIPs: [] });
    expect(moved.status).toBe(422);
    // Nothing changed.
    const kept = await call(sb, 'GET', `${SVC}/fixed-single`);
    expect(kept.body.spec.clusterIPs).toEqual(single.spec.clusterIPs);
  });
});
