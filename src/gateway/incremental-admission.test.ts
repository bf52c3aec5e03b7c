/**
 * The incremental admission gives exactly what a full pass (`admitRoutes`) gives, over random
 * sequences of Service, slice and Link events; and an event it calls unchanged (`changes*`, which
 * lets the watcher skip the pass) leaves the full pass's result as it was.
 */
import { describe, expect, it } from 'vitest';
import {
  CLUSTER_NAME_LABEL,
  EGRESS_PORTS_ANNOTATION,
  MANAGED_BY_LABEL,
  MANAGED_BY_MIRROR,
  MIRRORED_SERVICE_LABEL,
  REMOTE_GATEWAY_ANNOTATION,
  REMOTE_SVC_FQ_NAME_ANNOTATION,
  SERVICE_NAME_LABEL,
} from '../kube/keys.js';
import { vouchedNames, vouchedPorts } from '../kube/linkerd-mirror.js';
import type { Link, V1EndpointSlice, V1Service } from '../kube/types.js';
import { link } from './e2e/fixtures.js';
import { incrementalAdmission } from './incremental-admission.js';
import { type AdmittedMirror, type AdmittedRoutes, admitRoutes } from './mirror-admission.js';

const RANGE = { first: 20001, last: 20006 };
const FQ = 'db.a.svc.cluster.local';

/** mulberry32: a seeded generator, so a failing sequence can be replayed. */
function generator(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function world(random: () => number) {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const names = ['a/db-west', 'a/web-west', 'b/db-west', 'b/cache-east', 'a/old-west', 'b/api-east'];
  // Weighted by repetition: mostly claims that can be admitted, and contested (few ports).
  const egressPorts = [
    'http=20001',
    'http=20001',
    'http=20002',
    'http=20002',
    'http=20003',
    'http=20001,grpc=20002',
    '5432=20002',
    'http=20007',
    'http=x',
    '',
  ];
  const gateways = [
    '192.0.2.7:4143',
    '192.0.2.7:4143',
    '192.0.2.7:4143',
    '192.0.2.8:4143',
    '198.51.100.1:4143',
    'nope',
    undefined,
  ];
  const created = [
    '2026-01-01T00:00:00Z',
    '2026-01-01T00:00:01Z',
    new Date('2026-01-01T00:00:00Z'),
    undefined,
  ];

  const service = (key: string): V1Service => {
    const [namespace, name] = key.split('/') as [string, string];
    const annotations: Record<string, string> = {};
    const gateway = pick(gateways);
    if (gateway !== undefined) annotations[REMOTE_GATEWAY_ANNOTATION] = gateway;
    if (random() < 0.95) annotations[EGRESS_PORTS_ANNOTATION] = pick(egressPorts);
    if (random() < 0.95)
      annotations[REMOTE_SVC_FQ_NAME_ANNOTATION] = random() < 0.9 ? FQ : 'other.b.svc.cluster.local';
    if (random() < 0.1) annotations.unrelated = `${random()}`;
    const labels: Record<string, string> = { [MIRRORED_SERVICE_LABEL]: 'true' };
    if (random() < 0.95) labels[CLUSTER_NAME_LABEL] = random() < 0.85 ? 'west' : 'east';
    return {
      metadata: {
        namespace,
        name,
        uid: pick(['u1', 'u2']),
        creationTimestamp: pick(created) as never,
        labels,
        annotations,
      },
      spec: {
        ...(random() < 0.1 ? { clusterIP: 'None' } : {}),
        ports: [
          { name: 'http', port: 80 },
          { name: 'grpc', port: 9090 },
        ],
      },
    };
  };
  const slice = (key: string, n: number): V1EndpointSlice => {
    const [namespace, name] = key.split('/') as [string, string];
    const ports = [20001, 20002, 20003, 20004, 20007].filter((p) => random() < (p < 20004 ? 0.8 : 0.3));
    return {
      metadata: {
        namespace,
        name: `${name}-${n}`,
        labels: {
          [MANAGED_BY_LABEL]: random() < 0.95 ? MANAGED_BY_MIRROR : 'someone-else',
          [SERVICE_NAME_LABEL]: name,
        },
        annotations: {
          ...(random() < 0.9
            ? { [REMOTE_SVC_FQ_NAME_ANNOTATION]: random() < 0.9 ? FQ : 'other.b.svc.cluster.local' }
            : {}),
          ...(random() < 0.3 ? { [EGRESS_PORTS_ANNOTATION]: pick(egressPorts) } : {}),
        },
      },
      addressType: 'IPv4',
      endpoints: [{ addresses: [`10.0.0.${Math.floor(random() * 250)}`] }],
      ports: ports.map((port) => ({ port })),
    };
  };
  const aLink = (cluster: string): Link => {
    const l = link(cluster, pick(['192.0.2.7', '192.0.2.8']), 4143);
    if (random() < 0.3) l.status = { gatewayAddresses: ['198.51.100.1'] } as never;
    if (random() < 0.05) l.metadata!.deletionTimestamp = '2026-01-02T00:00:00Z' as never;
    return l;
  };
  return { pick, names, service, slice, aLink };
}

const plain = (r: AdmittedRoutes) => ({ ...r, admitted: [...r.admitted] });

describe('incrementalAdmission', () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8])('equals a full pass over a random event sequence (seed %i)', (seed) => {
    const random = generator(seed);
    const w = world(random);
    const services = new Map<string, V1Service>();
    const slices = new Map<string, V1EndpointSlice>();
    const links = new Map<string, Link>([['west', link('west', '192.0.2.7', 4143)]]);
    const incremental = incrementalAdmission(RANGE);
    let previous: ReadonlyMap<string, AdmittedMirror> = new Map();
    let last: AdmittedRoutes | undefined;
    let passes = 0;

    for (let step = 0; step < 400; step++) {
      let changed: boolean;
      const r = random();
      if (r < 0.3) {
        const key = w.pick(w.names);
        const svc = random() < 0.15 ? undefined : w.service(key);
        if (svc === undefined) services.delete(key);
        else services.set(key, svc);
        changed = incremental.changesService(key, svc);
      } else if (r < 0.55) {
        const key = `${w.pick(w.names)}`;
        const s = w.slice(key, w.pick([0, 1]));
        const sliceKey = `${s.metadata?.namespace}/${s.metadata?.name}`;
        const gone = random() < 0.15;
        if (gone) slices.delete(sliceKey);
        else slices.set(sliceKey, s);
        changed = incremental.changesSlice(sliceKey, gone ? undefined : s);
      } else if (r < 0.75) {
        // An endpoint-only rewrite, or a resync: a new object, or the same one, saying the same.
        const [sliceKey, s] = w.pick([...slices]) ?? [];
        if (sliceKey === undefined || s === undefined) continue;
        const again = random() < 0.5 ? s : { ...s, endpoints: [{ addresses: ['10.9.9.9'] }] };
        slices.set(sliceKey, again);
        changed = incremental.changesSlice(sliceKey, again);
      } else if (r < 0.85) {
        const [key, svc] = w.pick([...services]) ?? [];
        if (key === undefined || svc === undefined) continue;
        const again = { ...svc, metadata: { ...svc.metadata, resourceVersion: `${step}` } };
        services.set(key, again);
        changed = incremental.changesService(key, again);
      } else {
        const cluster = w.pick(['west', 'east']);
        if (random() < 0.1) links.delete(cluster);
        else links.set(cluster, w.aLink(cluster));
        changed = incremental.changesLinks([...links.values()]);
      }

      const inputs = {
        services: [...services.values()],
        slices: [...slices.values()],
        links: [...links.values()],
      };
      const full = admitRoutes(inputs.services, {
        links: inputs.links,
        vouched: vouchedPorts(inputs.slices),
        vouchedNames: vouchedNames(inputs.slices),
        egressRange: RANGE,
        previous,
      });
      previous = full.admitted;
      // What the watcher relies on when it skips a pass: the full pass gives what it gave.
      if (!changed && last !== undefined) expect(plain(full), `step ${step}`).toEqual(plain(last));
      // The watcher runs a pass on a change (and on retries, refreshes: sometimes anyway).
      if (changed || last === undefined || random() < 0.2) {
        passes++;
        expect(plain(incremental.admit(inputs)), `step ${step}`).toEqual(plain(full));
        last = full;
      }
    }
    expect(passes).toBeGreaterThan(50);
  });
});
