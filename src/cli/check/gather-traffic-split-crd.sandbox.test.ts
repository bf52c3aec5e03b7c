/**
 * Whether the TrafficSplit CRD has a status subresource, as the gatherer reads it from a strict
 * sandbox: Isthmus's CRD has one; Linkerd's SMI extension's (kept with `install
 * --no-traffic-split-crd`) has none, and then `isthmus check` says once that it cannot see the
 * splits' state instead of blaming the failover controller for every split.
 */
import { describe, expect, it } from 'vitest';
import { LINKERD_SMI_CRD, service, trafficSplit } from '../../failover/test-builders.js';
import type { KubeClient } from '../../kube/client.js';
import { FAILOVER_PRIMARY_ANNOTATION } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { KubeObject } from '../../kube/types.js';
import { waitFor } from '../../wait-for.js';
import { checkTrafficSplits } from './checks/traffic-splits.js';
import { gatherFacts } from './gather.js';
import { sandboxPerDescribe } from './test-sandbox.js';

const gather = (client: KubeClient) => gatherFacts(client, { remoteTimeoutMs: 2000 });

describe("gatherFacts: next to Linkerd's SMI extension's TrafficSplit CRD", () => {
  const ctx = sandboxPerDescribe(false);

  it('no CRD at all: nothing to say of a subresource', async () => {
    expect((await gather(ctx.client)).trafficSplitStatusSubresource).toEqual({ ok: true, value: undefined });
  });

  it('its CRD has no status subresource: the check says so once, not "no status yet" per split', async () => {
    const { client } = ctx;
    await client.create(R.crds, LINKERD_SMI_CRD);
    await waitFor('the linkerd-smi CRD served', () =>
      client.list(R.trafficSplitsV1alpha2, { namespace: 'default' }).then(() => true),
    );
    await client.create(R.namespaces, { metadata: { name: 'shop' } });
    await client.create(R.services, service('shop', 'podinfo'));
    for (const name of ['podinfo', 'cart'])
      await client.create(
        R.trafficSplitsV1alpha2,
        trafficSplit('shop', name, 'podinfo', [{ service: 'podinfo', weight: 1 }], {
          annotations: { [FAILOVER_PRIMARY_ANNOTATION]: 'podinfo' },
        }),
      );

    const facts = await gather(client);
    expect(facts.trafficSplitStatusSubresource).toEqual({ ok: true, value: false });
    expect(facts.trafficSplits.ok && facts.trafficSplits.value.map((s) => s.metadata?.name).sort()).toEqual([
      'cart',
      'podinfo',
    ]);
    const result = checkTrafficSplits(facts);
    expect(result.status).toBe('warn');
    expect(result.hints).toEqual([
      expect.stringMatching(
        /^the TrafficSplit CRD trafficsplits\.split\.smi-spec\.io has no status subresource/,
      ),
    ]);
  });

  it('a status subresource on any served version counts, not only the storage one', async () => {
    const { client } = ctx;
    const crd = (await client.get<KubeObject & typeof LINKERD_SMI_CRD>(
      R.crds,
      undefined,
      LINKERD_SMI_CRD.metadata.name,
    ))!;
    const versions = crd.spec.versions.map((v) =>
      v.name === 'v1alpha2' ? { ...v, subresources: { status: {} } } : v,
    );
    await client.replace(R.crds, { ...crd, spec: { ...crd.spec, versions } });
    expect((await gather(client)).trafficSplitStatusSubresource).toEqual({ ok: true, value: true });
  });
});

describe("gatherFacts: next to Isthmus's own TrafficSplit CRD", () => {
  const ctx = sandboxPerDescribe(true);

  it('it has a status subresource', async () => {
    expect((await gather(ctx.client)).trafficSplitStatusSubresource).toEqual({ ok: true, value: true });
  });
});
