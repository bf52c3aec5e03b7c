/**
 * What `isthmus check` reads of a move from Linkerd multicluster, against a strict sandbox: Linkerd's
 * mirrors and their slices, Linkerd's Links (or that Linkerd multicluster is not installed), the
 * slices of Isthmus's mirrors that another writer made, labelled TrafficSplits and linkerd-failover.
 */
import { describe, expect, it } from 'vitest';
import type { KubeClient } from '../../kube/client.js';
import { SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { KubeObject, TrafficSplit, V1EndpointSlice, V1Service } from '../../kube/types.js';
import { waitFor } from '../../wait-for.js';
import { installRecordManifest } from '../install/install-record.js';
import { gatherFacts } from './gather.js';
import {
  readForeignMirrors,
  readForeignSlices,
  readLabelledSplits,
  readLinkerdFailover,
  readLinkerdLinks,
} from './linkerd-leftovers.js';
import { mirror } from './test-builders.js';
import { sandboxPerDescribe } from './test-sandbox.js';

const NAMESPACES = [SYSTEM_NAMESPACE, 'test', 'linkerd-multicluster', 'linkerd-failover'];

/** A mirror-labelled Service of west in namespace test, with Linkerd's annotation unless `labels` say otherwise. */
const mirrorService = (
  name: string,
  labels: Record<string, string> = {},
  annotations: Record<string, string> = {
    'mirror.linkerd.io/remote-svc-fq-name': 'web.test.svc.cluster.local',
  },
): V1Service => ({
  metadata: {
    name,
    namespace: 'test',
    labels: {
      'mirror.linkerd.io/mirrored-service': 'true',
      'mirror.linkerd.io/cluster-name': 'west',
      ...labels,
    },
    annotations,
  },
  spec: { ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
});

/** A slice of `service` listing 172.18.0.9 (Linkerd's gateway) as kube's EndpointSlice mirroring writes it. */
const slice = (service: string, name: string, managedBy: string, ready = true): V1EndpointSlice => ({
  metadata: {
    name,
    namespace: 'test',
    labels: { 'kubernetes.io/service-name': service, 'endpointslice.kubernetes.io/managed-by': managedBy },
  },
  addressType: 'IPv4',
  endpoints: [{ addresses: ['172.18.0.9'], conditions: { ready } }],
  ports: [{ name: 'http', port: 4143, protocol: 'TCP' }],
});

const MIRRORING = 'endpointslicemirroring-controller.k8s.io';

/** Linkerd's Link CRD as its charts ship it: several served versions, the newest stored. */
const LINKERD_LINK_CRD = {
  metadata: { name: 'links.multicluster.linkerd.io' },
  spec: {
    group: 'multicluster.linkerd.io',
    scope: 'Namespaced',
    names: { kind: 'Link', listKind: 'LinkList', plural: 'links', singular: 'link' },
    versions: ['v1alpha1', 'v1alpha2'].map((name) => ({
      name,
      served: true,
      storage: name === 'v1alpha2',
      schema: {
        openAPIV3Schema: {
          type: 'object',
          properties: { spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
        },
      },
    })),
  },
};

describe("reading Linkerd's leftovers", () => {
  const ctx = sandboxPerDescribe(true, NAMESPACES);

  it("lists the mirrors of a cluster that are not Isthmus's, with their ready addresses from any writer's slices", async () => {
    const { client } = ctx;
    await client.create(R.services, mirrorService('web-west'));
    await client.create(R.services, mirrorService('ok-west'));
    await client.create(R.endpointSlices, slice('ok-west', 'ok-west-abcde', MIRRORING));
    await client.create(R.services, mirrorService('hand-west', {}, {}));
    // Linkerd's mirror of north's Isthmus mirror, exported on: Linkerd copied north's mark.
    await client.create(R.services, mirrorService('copied-west', { 'isthmus.dev/mirror': 'north' }));
    // Isthmus's own (marked), and Linkerd's remote-discovery mirror, which has no endpoints by design.
    await client.create(R.services, mirrorService('ours-west', { 'isthmus.dev/mirror': 'west' }));
    await client.create(
      R.services,
      mirrorService('rd-west', {
        'mirror.linkerd.io/remote-discovery': 'west',
        'mirror.linkerd.io/remote-service': 'rd',
      }),
    );
    const found = await readForeignMirrors(client);
    expect(found.sort((a, b) => a.name.localeCompare(b.name))).toEqual([
      { namespace: 'test', name: 'copied-west', cluster: 'west', linkerd: true, readyEndpoints: 0 },
      { namespace: 'test', name: 'hand-west', cluster: 'west', linkerd: false, readyEndpoints: 0 },
      { namespace: 'test', name: 'ok-west', cluster: 'west', linkerd: true, readyEndpoints: 1 },
      { namespace: 'test', name: 'web-west', cluster: 'west', linkerd: true, readyEndpoints: 0 },
    ]);
  });

  it("finds the slices of Isthmus's mirrors that another manager wrote, not Isthmus's own", async () => {
    const { client } = ctx;
    await client.create(R.endpointSlices, slice('podinfo-west', 'podinfo-west', 'mirror.isthmus.dev'));
    await client.create(R.endpointSlices, slice('podinfo-west', 'podinfo-west-l5d01', MIRRORING));
    await client.create(R.endpointSlices, slice('other', 'other-l5d01', MIRRORING));
    expect(await readForeignSlices(client, [mirror('podinfo-west')])).toEqual([
      {
        namespace: 'test',
        name: 'podinfo-west-l5d01',
        service: 'podinfo-west',
        managedBy: MIRRORING,
        addresses: ['172.18.0.9:4143'],
      },
    ]);
  });

  it("reads Linkerd's Links through a served version once its CRD exists", async () => {
    const { client } = ctx;
    expect(await readLinkerdLinks(client)).toBeUndefined();
    await client.create(R.crds, LINKERD_LINK_CRD);
    const linkerdLinks = {
      group: 'multicluster.linkerd.io',
      version: 'v1alpha2',
      plural: 'links',
      kind: 'Link',
      namespaced: true,
    };
    await waitFor('the Linkerd Link CRD served', () => client.list(linkerdLinks).then(() => true));
    expect(await readLinkerdLinks(client)).toEqual([]);
    await client.create<KubeObject>(linkerdLinks, {
      apiVersion: 'multicluster.linkerd.io/v1alpha2',
      kind: 'Link',
      metadata: { name: 'west', namespace: 'linkerd-multicluster' },
      spec: { targetClusterName: 'west' },
    } as KubeObject);
    expect(await readLinkerdLinks(client)).toEqual([
      { namespace: 'linkerd-multicluster', name: 'west', cluster: 'west' },
    ]);
  });

  it('records a headless one: Linkerd lists one address per ready remote pod there, none when none is', async () => {
    const { client } = ctx;
    await client.create(R.services, {
      ...mirrorService('db-west'),
      spec: { clusterIP: 'None', ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }] },
    });
    expect((await readForeignMirrors(client)).find((m) => m.name === 'db-west')).toEqual({
      namespace: 'test',
      name: 'db-west',
      cluster: 'west',
      linkerd: true,
      readyEndpoints: 0,
      headless: true,
    });
  });

  it('writes an IPv6 address of a foreign slice in brackets before its port', async () => {
    const { client } = ctx;
    await client.create(R.endpointSlices, {
      ...slice('v6-west', 'v6-west-l5d01', MIRRORING),
      addressType: 'IPv6',
      endpoints: [{ addresses: ['fd00::9'], conditions: { ready: true } }],
    });
    expect(await readForeignSlices(client, [mirror('v6-west')])).toMatchObject([
      { name: 'v6-west-l5d01', addresses: ['[fd00::9]:4143'] },
    ]);
  });

  it('reads the foreign slices of many mirrors in one list, page by page, whatever their number', async () => {
    const { client } = ctx;
    const lists: unknown[] = [];
    const counting = new Proxy(client, {
      get: (target, key, receiver) =>
        key === 'list'
          ? (...args: Parameters<KubeClient['list']>) => {
              lists.push(args[1]);
              return target.list(...args);
            }
          : Reflect.get(target, key, receiver),
    });
    const many = Array.from({ length: 500 }, (_, i) => mirror(`svc-${i}-west`));
    await client.create(R.endpointSlices, slice('svc-499-west', 'svc-499-west-l5d01', MIRRORING));
    const found = await readForeignSlices(counting, [...many, mirror('podinfo-west')]);
    expect(found.map((s) => s.name).sort()).toEqual(['podinfo-west-l5d01', 'svc-499-west-l5d01']);
    expect(lists).toEqual([expect.objectContaining({ limit: expect.any(Number) })]);
  });

  it('reads the TrafficSplits labelled for any failover controller', async () => {
    const { client } = ctx;
    for (const [name, labels] of [
      ['mine', { 'failover.linkerd.io/controlled-by': 'isthmus' }],
      ['theirs', { 'failover.linkerd.io/controlled-by': 'linkerd-failover' }],
      ['steered', { 'split.isthmus.dev/steer': 'true' }],
    ] as const)
      await client.create<TrafficSplit>(R.trafficSplitsV1alpha2, {
        metadata: { name, namespace: 'test', labels },
        spec: { service: 'podinfo', backends: [{ service: 'podinfo', weight: 1 }] },
      });
    expect((await readLabelledSplits(client)).map((s) => s.metadata?.name).sort()).toEqual([
      'mine',
      'theirs',
    ]);
  });

  it("reads linkerd-failover's Deployment and its --selector, as its chart renders them", async () => {
    const { client } = ctx;
    await client.create(R.deployments, {
      metadata: {
        name: 'linkerd-failover',
        namespace: 'linkerd-failover',
        labels: { 'app.kubernetes.io/name': 'linkerd-failover', 'linkerd.io/extension': 'failover' },
      },
      spec: {
        replicas: 1,
        selector: { matchLabels: { 'linkerd.io/extension': 'failover' } },
        template: {
          metadata: { labels: { 'linkerd.io/extension': 'failover' } },
          spec: {
            containers: [
              {
                name: 'linkerd-failover',
                image: 'cr.l5d.io/linkerd/failover:0.1.3',
                args: [
                  '--log-level=linkerd=info,warn',
                  '--selector=failover.linkerd.io/controlled-by=linkerd-failover',
                ],
              },
            ],
          },
        },
      },
    });
    expect(await readLinkerdFailover(client)).toEqual([
      {
        namespace: 'linkerd-failover',
        name: 'linkerd-failover',
        available: 0,
        selector: 'failover.linkerd.io/controlled-by=linkerd-failover',
      },
    ]);
  });

  it('gatherFacts carries all of it', async () => {
    await ctx.client.create(R.endpointSlices, slice('ours-west', 'ours-west-l5d01', MIRRORING));
    // What the failover controller acts on when its Deployment cannot be read.
    await ctx.client.create(
      R.configMaps,
      installRecordManifest(SYSTEM_NAMESPACE, {
        version: '0.0.0',
        flags: { 'failover-controlled-by': 'isthmus' },
        objects: [],
      }),
    );
    const facts = await gatherFacts(ctx.client, { remoteTimeoutMs: 2_000 });
    expect(facts.foreignMirrors).toMatchObject({
      ok: true,
      value: expect.arrayContaining([expect.anything()]),
    });
    expect(facts.linkerdLinks).toMatchObject({ ok: true, value: [{ cluster: 'west' }] });
    expect(facts.foreignSlices).toMatchObject({ ok: true, value: [{ name: 'ours-west-l5d01' }] });
    expect(facts.labelledSplits).toMatchObject({ ok: true });
    expect(facts.linkerdFailover).toMatchObject({ ok: true, value: [{ name: 'linkerd-failover' }] });
    expect(facts.recordedControlledBy).toBe('isthmus');
  });
});

describe('without Linkerd multicluster or a TrafficSplit CRD', () => {
  const ctx = sandboxPerDescribe(false, NAMESPACES);

  it('Links: not installed; labelled splits: none', async () => {
    expect(await readLinkerdLinks(ctx.client)).toBeUndefined();
    expect(await readLabelledSplits(ctx.client)).toEqual([]);
  });
});
