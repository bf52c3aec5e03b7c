import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../sandbox/index.js';
import { createOrUpdate, updateWithRetry } from './apply.js';
import { KubeClient } from './client.js';
import { MIRRORED_SERVICE_LABEL } from './keys.js';
import { ownedFieldsPatch } from './owned-fields.js';
import { R } from './resources.js';
import { service } from './test-support.js';
import type { KubeObject, V1ConfigMap, V1Service } from './types.js';

let sandbox: Sandbox;
let client: KubeClient;
// One sandbox for the file; each test starts without the mirror.
beforeAll(async () => {
  sandbox = await startSandbox({ name: 'east' });
  client = KubeClient.fromKubeconfigString(sandbox.kubeconfig());
});
afterAll(async () => {
  client.close();
  await sandbox.close();
});

beforeEach(async () => {
  await client.delete(R.services, 'default', 'podinfo-west');
});

const owned = { fields: ['spec.ports'], ownedLabels: [MIRRORED_SERVICE_LABEL] };
const isOwned = (s: V1Service) => s.metadata?.labels?.[MIRRORED_SERVICE_LABEL] === 'true';
const mirror = (port: number): V1Service => {
  const s = service('default', 'podinfo-west', { [MIRRORED_SERVICE_LABEL]: 'true' });
  return { ...s, spec: { ports: [{ name: 'http', port }] } };
};

describe('createOrUpdate', () => {
  it('created → unchanged against server defaults → updated', async () => {
    const diff = (e: V1Service, d: V1Service) => ownedFieldsPatch(e, d, owned);
    expect(await createOrUpdate(client, R.services, mirror(9898), { isOwned, diff })).toBe('created');
    // The server added clusterIP, protocol, targetPort...: still unchanged for the fields we own.
    expect(await createOrUpdate(client, R.services, mirror(9898), { isOwned, diff })).toBe('unchanged');
    expect(await createOrUpdate(client, R.services, mirror(8080), { isOwned, diff })).toBe('updated');
    const stored = await client.get<V1Service>(R.services, 'default', 'podinfo-west');
    expect(stored?.spec?.ports?.[0]?.port).toBe(8080);
  });

  it('leaves an object it does not own alone', async () => {
    await client.create(R.services, service('default', 'podinfo-west', { team: 'payments' }));
    const diff = (e: V1Service, d: V1Service) => ownedFieldsPatch(e, d, owned);
    expect(await createOrUpdate(client, R.services, mirror(1), { isOwned, diff })).toBe('not-owned');
    const stored = await client.get<V1Service>(R.services, 'default', 'podinfo-west');
    expect(stored?.metadata?.labels).toEqual({ team: 'payments' });
  });

  it('a concurrent writer between read and write gives 409, and the retry re-reads', async () => {
    await createOrUpdate(client, R.services, mirror(9898), { diff: () => null });
    // The other writer lands between our read and our first patch, so that patch carries a stale
    // resourceVersion: the interleaving is forced, not left to timing.
    class RacedClient extends KubeClient {
      patches = 0;
      override async patch<T extends KubeObject>(...args: Parameters<KubeClient['patch']>): Promise<T> {
        if (this.patches++ === 0)
          await client.patch(R.services, 'default', 'podinfo-west', {
            metadata: { annotations: { other: 'writer' } },
          });
        return super.patch<T>(...args);
      }
    }
    const raced = new RacedClient(client.config);
    let diffs = 0;
    try {
      const outcome = await createOrUpdate(raced, R.services, mirror(7000), {
        isOwned,
        diff: (e, d) => {
          diffs++;
          return ownedFieldsPatch(e, d, owned);
        },
      });
      expect(outcome).toBe('updated');
    } finally {
      raced.close();
    }
    expect(diffs).toBe(2);
    expect(raced.patches).toBe(2);
    const stored = await client.get<V1Service>(R.services, 'default', 'podinfo-west');
    expect(stored?.spec?.ports?.[0]?.port).toBe(7000);
    expect(stored?.metadata?.annotations).toMatchObject({ other: 'writer' });
  });
});

describe('updateWithRetry', () => {
  it('retries on conflict with a fresh copy, and reports unchanged for null', async () => {
    await client.create<V1ConfigMap>(R.configMaps, {
      metadata: { namespace: 'default', name: 'counter' },
      data: { n: '0' },
    });
    // Two writers increment at once: with compare-and-swap neither increment is lost.
    const inc = (c: V1ConfigMap) => ({ ...c, data: { n: String(Number(c.data?.n) + 1) } });
    const outcomes = await Promise.all([
      updateWithRetry(client, R.configMaps, 'default', 'counter', inc),
      updateWithRetry(client, R.configMaps, 'default', 'counter', inc),
      updateWithRetry(client, R.configMaps, 'default', 'counter', inc),
    ]);
    expect(outcomes).toEqual(['updated', 'updated', 'updated']);
    const stored = await client.get<V1ConfigMap>(R.configMaps, 'default', 'counter');
    expect(stored?.data?.n).toBe('3');
    expect(await updateWithRetry(client, R.configMaps, 'default', 'counter', () => null)).toBe('unchanged');
    await expect(updateWithRetry(client, R.configMaps, 'default', 'missing', inc)).rejects.toMatchObject({
      code: 'KUBE_NOT_FOUND',
    });
  });
});
