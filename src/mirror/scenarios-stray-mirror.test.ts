/**
 * A Service made by hand that carries the mark of a Link's mirrors (`isthmus.dev/mirror: west` with
 * the mirror labels of cluster west, named `<svc>-west`) is one of west's mirrors by the ownership
 * rule (isIsthmusMirror: the mark is how Isthmus knows its own). West exports no `<svc>`, so the
 * Link's sync deletes it as it deletes any mirror whose export is gone, and says so: a log line and
 * an Event on the Link naming the Service and why. Nothing calls it "not ours" first.
 */
import { describe, expect, it } from 'vitest';
import {
  CLUSTER_NAME_LABEL,
  EGRESS_PORTS_ANNOTATION,
  ISTHMUS_MIRROR_LABEL,
  MANAGED_BY_LABEL,
  MANAGED_BY_MIRROR,
  MIRRORED_SERVICE_LABEL,
  SERVICE_NAME_LABEL,
  SYSTEM_NAMESPACE,
} from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { CoreV1Event, V1EndpointSlice, V1Service } from '../kube/types.js';
import {
  capturedLog,
  exportService,
  getService,
  link,
  waitFor,
  waitReady,
  worldPerTest,
} from './test-harness.js';

const startWorld = worldPerTest();

describe('a hand-made Service marked as a mirror of a linked cluster', () => {
  it('is deleted as a mirror whose export is gone, with a log line and an Event on the Link', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'a', { ready: 1 });
    await link(east, west, 'west');
    const { log, lines } = capturedLog('east');
    world.controller('east', { log });
    await waitReady(east, 'default', 'a-west');

    // The report's forgery: a slice claiming a port first, then the marked Service naming it.
    await east.client.create<V1EndpointSlice>(R.endpointSlices, {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: 'evil-west',
        namespace: 'default',
        labels: { [MANAGED_BY_LABEL]: MANAGED_BY_MIRROR, [SERVICE_NAME_LABEL]: 'evil-west' },
      },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['10.0.0.5'], conditions: { ready: true } }],
      ports: [{ name: 'http', port: 20050, protocol: 'TCP' }],
    });
    const forged = await east.client.create<V1Service>(R.services, {
      metadata: {
        name: 'evil-west',
        namespace: 'default',
        labels: {
          [MIRRORED_SERVICE_LABEL]: 'true',
          [CLUSTER_NAME_LABEL]: 'west',
          [ISTHMUS_MIRROR_LABEL]: 'west',
        },
        annotations: { [EGRESS_PORTS_ANNOTATION]: 'http=20050' },
      },
      spec: { type: 'ClusterIP', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
    });

    await waitFor(
      async () => (await getService(east, 'default', 'evil-west'))?.metadata?.uid !== forged.metadata?.uid,
      {
        what: 'default/evil-west deleted',
      },
    );

    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const naming = entries.filter((l) => JSON.stringify(l).includes('default/evil-west'));
    // Never "not ours": by the mark it is one of west's mirrors.
    expect(naming.filter((l) => String(l.msg).includes('not mirrors of ours'))).toEqual([]);
    // Its deletion is logged, at info or above, with the reason.
    const deleted = naming.find((l) => (l.level as number) >= 30 && String(l.msg).includes('deleted'));
    expect(deleted, JSON.stringify(naming)).toBeDefined();
    expect(String(deleted?.msg)).toMatch(/west exports no Service default\/evil/);

    const event = await waitFor(
      async () =>
        (await east.client.list<CoreV1Event>(R.events, { namespace: SYSTEM_NAMESPACE })).items.find(
          (e) =>
            e.involvedObject?.kind === 'Link' &&
            e.involvedObject.name === 'west' &&
            (e.message ?? '').includes('default/evil-west'),
        ),
      { what: 'an Event on Link west naming default/evil-west' },
    );
    expect(event.reason).toBe('MirrorDeleted');
    expect(event.message).toMatch(/isthmus\.dev\/mirror=west/);
    expect(event.message).toMatch(/west exports no Service default\/evil/);

    // The real mirror is untouched.
    expect(await getService(east, 'default', 'a-west')).toBeDefined();
  });
});
