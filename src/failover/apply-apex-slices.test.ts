/**
 * The apex-slice applier against the strict sandbox, for what the controller tests cannot time:
 * a slice whose backend changed address family between two reconciles.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../kube/client.js';
import { MANAGED_BY_FAILOVER, MANAGED_BY_LABEL } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { V1EndpointSlice } from '../kube/types.js';
import { type Sandbox, startSandbox } from '../sandbox/index.js';
import { applyApexSlices, isSliceOfSplit } from './apply-apex-slices.js';
import { SPLIT_LABEL } from './plan-apex-slices.js';
import { slice } from './test-builders.js';

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

/** The apex slice the planner names `podinfo-isthmus-podinfo-west`, for one gateway address. */
function apexSlice(address: string): V1EndpointSlice {
  const base = slice('shop', 'podinfo', { ready: [address], port: 20001 });
  return {
    ...base,
    metadata: {
      ...base.metadata,
      name: 'podinfo-isthmus-podinfo-west',
      labels: { ...base.metadata?.labels, [MANAGED_BY_LABEL]: MANAGED_BY_FAILOVER, [SPLIT_LABEL]: 'podinfo' },
    },
    addressType: address.includes(':') ? 'IPv6' : 'IPv4',
  };
}

describe('applyApexSlices', () => {
  it('re-creates a slice whose address family changed (addressType is immutable)', async () => {
    const isOwned = (s: V1EndpointSlice) => isSliceOfSplit(s, 'shop', 'podinfo');
    const list = async () =>
      (await client.list<V1EndpointSlice>(R.endpointSlices, { namespace: 'shop' })).items.filter(isOwned);
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
