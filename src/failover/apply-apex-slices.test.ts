/**
 * The apex-slice applier against the strict sandbox, for what the controller tests cannot time:
 * a slice whose backend changed address family between two reconciles, and writes that fail
 * amid others.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { KubeClient } from '../kube/client.js';
import { FlakyClient } from '../kube/flaky-client.js';
import { MANAGED_BY_FAILOVER, MANAGED_BY_LABEL } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { V1EndpointSlice } from '../kube/types.js';
import { type Sandbox, startSandbox } from '../sandbox/index.js';
import { applyApexSlices, isSliceOfSplit } from './apply-apex-slices.js';
import { SPLIT_LABEL } from './plan-apex-slices.js';
import { podIPs, slice } from './test-builders.js';

let sandbox: Sandbox;
let client: KubeClient;

beforeAll(async () => {
  sandbox = await startSandbox({ name: 'east' });
  client = KubeClient.fromKubeconfigString(sandbox.kubeconfig());
  await client.create(R.namespaces, { metadata: { name: 'shop' } });
});

afterAll(async () => {
  client?.close();
  await sandbox?.close();
});

/** The apex slice the planner names `podinfo-isthmus-<backend>`, for some gateway addresses. */
function apexSlice(address: string | string[], backend = 'podinfo-west'): V1EndpointSlice {
  const ready = typeof address === 'string' ? [address] : address;
  const base = slice('shop', 'podinfo', { ready, port: 20001 });
  return {
    ...base,
    metadata: {
      ...base.metadata,
      name: `podinfo-isthmus-${backend}`,
      labels: { ...base.metadata?.labels, [MANAGED_BY_LABEL]: MANAGED_BY_FAILOVER, [SPLIT_LABEL]: 'podinfo' },
    },
    addressType: ready[0]?.includes(':') ? 'IPv6' : 'IPv4',
  };
}

describe('applyApexSlices', () => {
  const isOwned = (s: V1EndpointSlice) => isSliceOfSplit(s, 'shop', 'podinfo');
  const ownedSlices = async () =>
    (await client.list<V1EndpointSlice>(R.endpointSlices, { namespace: 'shop' })).items.filter(isOwned);
  const names = async () => (await ownedSlices()).map((s) => s.metadata?.name).sort();
  const removeOwned = async () => {
    for (const s of await ownedSlices())
      await client.delete(R.endpointSlices, 'shop', s.metadata?.name ?? '');
  };

  it('one slice the API refuses does not stop the others: they are written, the stale one deleted, then it throws', async () => {
    onTestFinished(removeOwned);
    await applyApexSlices(client, 'shop', [apexSlice('10.0.0.9', 'podinfo-old')], [], isOwned);
    const stale = await ownedSlices();
    // 1001 endpoints: the API's limit per slice is 1000 (422, terminal).
    const refused = apexSlice(podIPs(1001, '10.2'), 'podinfo-big');
    await expect(
      applyApexSlices(client, 'shop', [refused, apexSlice('10.0.0.5', 'podinfo-north')], stale, isOwned),
    ).rejects.toMatchObject({ code: 'KUBE_INVALID', terminal: true });
    expect(await names()).toEqual(['podinfo-isthmus-podinfo-north']);
  });

  it('throws a transient failure rather than a terminal one, so the work queue retries it', async () => {
    const flaky = new FlakyClient(sandbox.kubeconfig(), 1, (method) => method === 'DELETE');
    onTestFinished(async () => {
      flaky.close();
      await removeOwned();
    });
    await applyApexSlices(client, 'shop', [apexSlice('10.0.0.9', 'podinfo-old')], [], isOwned);
    const refused = apexSlice(podIPs(1001, '10.2'), 'podinfo-big');
    await expect(
      applyApexSlices(flaky, 'shop', [refused], await ownedSlices(), isOwned),
    ).rejects.toMatchObject({
      code: 'KUBE_API_UNAVAILABLE',
    });
    expect(await names()).toEqual(['podinfo-isthmus-podinfo-old']);
  });

  it('re-creates a slice whose address family changed (addressType is immutable)', async () => {
    const list = ownedSlices;
    expect(await applyApexSlices(client, 'shop', [apexSlice('10.0.0.5')], [], isOwned)).toMatchObject({
      created: 1,
    });
    const ipv4 = await list();
    const result = await applyApexSlices(client, 'shop', [apexSlice('fd00::5')], ipv4, isOwned);
    expect(result).toMatchObject({ created: 1, deleted: 1, notOwned: [] });
    const [ipv6, ...rest] = await list();
    expect(rest).toEqual([]);
    expect(ipv6).toMatchObject({ addressType: 'IPv6', endpoints: [{ addresses: ['fd00::5'] }] });
    // Applied again from a cache that has caught up: nothing to do.
    expect(await applyApexSlices(client, 'shop', [apexSlice('fd00::5')], [ipv6!], isOwned)).toEqual({
      created: 0,
      updated: 0,
      deleted: 0,
      notOwned: [],
    });
  });
});
