import { afterEach, describe, expect, it } from 'vitest';
import type { Link, V1Service } from '../kube/types.js';
import { link } from './e2e/fixtures.js';
import { MemorySource } from './e2e/memory-source.js';
import { controllerSlices, vouchAll } from './test-support/mirror-slices.js';
import { waitFor } from './test-support/wait.js';
import {
  admitRoutes,
  type MirrorEgressRoute,
  type MirrorWatcher,
  type MirrorWatcherOptions,
  routesFromMirror,
  watchMirrors,
} from './watch-mirrors.js';

function mirror(
  name: string,
  annotations: Record<string, string>,
  ports = [{ name: 'http', port: 9898 }],
): V1Service {
  return {
    metadata: {
      name,
      namespace: 'test',
      labels: { 'mirror.linkerd.io/mirrored-service': 'true', 'mirror.linkerd.io/cluster-name': 'west' },
      annotations,
    },
    spec: { ports },
  };
}

const good = {
  'isthmus.dev/egress-ports': 'http=20001',
  'isthmus.dev/remote-gateway': '127.0.2.1:4143',
  'mirror.linkerd.io/remote-svc-fq-name': 'podinfo.test.svc.cluster.local',
};

describe('routesFromMirror', () => {
  it('builds one route per egress port with the remote port in the authority', () => {
    expect(routesFromMirror(mirror('podinfo-west', good))).toEqual({
      routes: [
        {
          port: 20001,
          remote: { host: '127.0.2.1', port: 4143 },
          authority: 'podinfo.test.svc.cluster.local:9898',
          mirror: 'test/podinfo-west',
          cluster: 'west',
        },
      ],
      problems: [],
    });
  });

  it("ignores Linkerd's own mirrors without a word: no route, no problem to log (mid-migration)", () => {
    const linkerds = mirror('web-west', {
      'mirror.linkerd.io/remote-gateway-identity':
        'linkerd-gateway.linkerd-multicluster.serviceaccount.identity.linkerd.cluster.local',
      'mirror.linkerd.io/remote-svc-fq-name': 'web.test.svc.cluster.local',
    });
    expect(routesFromMirror(linkerds)).toEqual({ routes: [], problems: [] });
  });

  it.each<[string, V1Service]>([
    [
      "Linkerd's gateway mirror as its service mirror writes it (its identity is on the Endpoints)",
      mirror('web-west', {
        'mirror.linkerd.io/remote-svc-fq-name': 'web.test.svc.cluster.local',
        'mirror.linkerd.io/remote-resource-version': '4711',
      }),
    ],
    [
      "Linkerd 2.17's federated Service, without a cluster-name label",
      {
        metadata: {
          name: 'cart3-federated',
          namespace: 'test',
          labels: { 'mirror.linkerd.io/mirrored-service': 'true' },
          annotations: { 'multicluster.linkerd.io/remote-discovery': 'cart3@west' },
        },
        spec: { ports: [{ name: 'http', port: 80 }] },
      },
    ],
    ['a hand-made Service with the two mirror labels and nothing of ours', mirror('web-west', {})],
  ])('claims nothing, so is neither routed nor refused: %s', (_what, svc) => {
    expect(routesFromMirror(svc)).toEqual({ routes: [], problems: [] });
    expect(
      admitRoutes([svc], { links: [westLink()], vouched: vouchAll([svc]), egressRange: RANGE }).refused,
    ).toEqual([]);
  });

  it('takes a headless parent (no egress port: its endpoints are the per-pod mirrors) for no claim', () => {
    const parent = mirror('db-west', { ...good, 'isthmus.dev/egress-ports': '' });
    parent.metadata!.labels!['isthmus.dev/mirror'] = 'west';
    parent.spec!.clusterIP = 'None';
    expect(routesFromMirror(parent)).toEqual({ routes: [], problems: [] });
    // Not so a Service with a cluster IP: a gateway mirror without ports is a broken claim.
    const ports = routesFromMirror({ ...parent, spec: { ...parent.spec, clusterIP: '10.96.0.9' } }).problems;
    expect(ports).toEqual(['test/db-west: no isthmus.dev/egress-ports']);
  });

  it('resolves ports by name or by number', () => {
    const ports = [
      { name: 'http', port: 9898 },
      { name: 'grpc', port: 9999 },
    ];
    const result = routesFromMirror(
      mirror('podinfo-west', { ...good, 'isthmus.dev/egress-ports': 'grpc=20002, 9898=20001' }, ports),
    );
    expect(result.problems).toEqual([]);
    expect(result.routes.map((r) => [r.port, r.authority])).toEqual([
      [20002, 'podinfo.test.svc.cluster.local:9999'],
      [20001, 'podinfo.test.svc.cluster.local:9898'],
    ]);
  });

  it.each<[string, Record<string, string>, string]>([
    ['no egress ports', { ...good, 'isthmus.dev/egress-ports': '' }, 'no isthmus.dev/egress-ports'],
    ['no gateway', omit(good, 'isthmus.dev/remote-gateway'), 'no isthmus.dev/remote-gateway'],
    ['bad gateway', { ...good, 'isthmus.dev/remote-gateway': 'west' }, 'is not <address>:<port>'],
    [
      'no fq name',
      omit(good, 'mirror.linkerd.io/remote-svc-fq-name'),
      'no mirror.linkerd.io/remote-svc-fq-name',
    ],
    [
      'unknown port name',
      { ...good, 'isthmus.dev/egress-ports': 'grpc=20001' },
      'names no port of the mirror',
    ],
    [
      'unknown port number',
      { ...good, 'isthmus.dev/egress-ports': '80=20001' },
      'names no port of the mirror',
    ],
    [
      'malformed entry',
      { ...good, 'isthmus.dev/egress-ports': 'http:20001' },
      'is not <portName or number>=<port>',
    ],
    ['egress port out of range', { ...good, 'isthmus.dev/egress-ports': 'http=0' }, 'is not <portName'],
    [
      'duplicate egress port',
      { ...good, 'isthmus.dev/egress-ports': 'http=20001,9898=20001' },
      'given twice',
    ],
  ])('reports %s', (_name, annotations, problem) => {
    const result = routesFromMirror(mirror('podinfo-west', annotations));
    expect(result.problems.join('\n')).toContain(problem);
    expect(result.problems.every((p) => p.startsWith('test/podinfo-west: '))).toBe(true);
  });

  it('reports a mirror without its cluster-name label: no cluster, no identity to expect', () => {
    const svc = mirror('podinfo-west', good);
    delete svc.metadata!.labels!['mirror.linkerd.io/cluster-name'];
    expect(routesFromMirror(svc)).toEqual({
      routes: [],
      problems: ['test/podinfo-west: no mirror.linkerd.io/cluster-name label'],
    });
  });

  it('keeps the good entries of a partly bad annotation', () => {
    const ports = [
      { name: 'http', port: 9898 },
      { name: 'grpc', port: 9999 },
    ];
    const result = routesFromMirror(
      mirror('m', { ...good, 'isthmus.dev/egress-ports': 'nope=1,grpc=20002' }, ports),
    );
    expect(result.routes.map((r) => r.port)).toEqual([20002]);
    expect(result.problems).toHaveLength(1);
  });
});

const RANGE = { first: 20000, last: 29999 };
/** The Link to west that names the gateway of `good`. */
const westLink = (): Link => link('west', '127.0.2.1');

describe('admitRoutes', () => {
  it('gives a contested egress port to the older claim, whatever the list order', () => {
    const a = mirror('a-west', good);
    const b = mirror('b-west', good);
    a.metadata!.creationTimestamp = '2024-05-02T10:00:00Z' as never;
    b.metadata!.creationTimestamp = '2024-05-01T10:00:00Z' as never;
    for (const list of [
      [a, b],
      [b, a],
    ]) {
      const result = admitRoutes(list, { links: [westLink()], vouched: vouchAll(list), egressRange: RANGE });
      expect(result.routes.map((r) => r.mirror)).toEqual(['test/b-west']);
      expect(result.problems).toEqual([
        'test/a-west: egress port 20001 is already held by test/b-west, an older claim',
      ]);
    }
  });
});

describe('watchMirrors', () => {
  const watchers: MirrorWatcher[] = [];
  const links = new MemorySource<Link>();
  links.put(westLink());
  const admission: Pick<MirrorWatcherOptions, 'links' | 'egressRange'> = { links, egressRange: RANGE };
  afterEach(async () => {
    for (const w of watchers.splice(0)) await w.close();
  });

  /** A sink whose applies can be held open, to observe serialisation. */
  class RecordingSink {
    applied: number[][] = [];
    inFlight = 0;
    maxInFlight = 0;
    gate: Promise<void> = Promise.resolve();
    async apply(routes: MirrorEgressRoute[]): Promise<void> {
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      await this.gate;
      this.applied.push(routes.map((r) => r.port));
      this.inFlight--;
    }
  }

  it('applies the initial state, then one apply per burst of changes', async () => {
    const source = new MemorySource<V1Service>();
    const sink = new RecordingSink();
    const watcher = watchMirrors(source, sink, {
      ...admission,
      slices: controllerSlices(source),
      debounceMs: 5,
    });
    watchers.push(watcher);
    await watcher.idle();
    expect(sink.applied).toEqual([[]]);

    source.put(mirror('a-west', good));
    source.put(mirror('b-west', { ...good, 'isthmus.dev/egress-ports': 'http=20002' }));
    await watcher.idle();
    expect(sink.applied).toEqual([[], [20001, 20002]]);

    source.remove(mirror('a-west', good));
    await watcher.idle();
    expect(sink.applied.at(-1)).toEqual([20002]);
  });

  it('never overlaps applies and re-applies a change made during an apply', async () => {
    const source = new MemorySource<V1Service>();
    const sink = new RecordingSink();
    let release = (): void => {};
    sink.gate = new Promise<void>((r) => {
      release = r;
    });
    const problems: string[][] = [];
    const watcher = watchMirrors(source, sink, {
      ...admission,
      slices: controllerSlices(source),
      debounceMs: 1,
      onRefused: (refused) => problems.push(refused.map((r) => `${r.mirror}: ${r.reason}`)),
    });
    watchers.push(watcher);
    // The first apply (of the empty list) is held at the gate: the changes below arrive during it.
    await waitFor(() => sink.inFlight > 0, 'the first apply to be in flight');
    source.put(mirror('a-west', good));
    source.put(mirror('bad-west', { ...good, 'isthmus.dev/remote-gateway': 'nope' }));
    release();
    await watcher.idle();
    expect(sink.maxInFlight).toBe(1);
    expect(sink.applied).toEqual([[], [20001]]);
    expect(problems.at(-1)).toEqual([
      'test/bad-west: isthmus.dev/remote-gateway "nope" is not <address>:<port>',
    ]);
  });

  it('reports a failed apply and retries on the next change', async () => {
    const source = new MemorySource<V1Service>();
    const errors: unknown[] = [];
    let fail = true;
    const applied: number[][] = [];
    const sink = {
      apply(routes: MirrorEgressRoute[]) {
        if (fail) throw new Error('EADDRINUSE');
        applied.push(routes.map((r) => r.port));
      },
    };
    const watcher = watchMirrors(source, sink, {
      ...admission,
      slices: controllerSlices(source),
      debounceMs: 1,
      onError: (e) => errors.push(e),
    });
    watchers.push(watcher);
    await watcher.idle();
    expect(errors).toHaveLength(1);
    fail = false;
    source.put(mirror('a-west', good));
    await watcher.idle();
    expect(applied).toEqual([[20001]]);
  });

  it('retries a failed apply on a timer too, when no mirror changes again', async () => {
    const source = new MemorySource<V1Service>();
    source.put(mirror('a-west', good));
    const errors: unknown[] = [];
    const applied: number[][] = [];
    const sink = {
      apply(routes: MirrorEgressRoute[]) {
        // The port is taken for the first two tries, then freed.
        if (errors.length < 2) throw new Error('EADDRINUSE');
        applied.push(routes.map((r) => r.port));
      },
    };
    const watcher = watchMirrors(source, sink, {
      ...admission,
      slices: controllerSlices(source),
      debounceMs: 1,
      retryMs: 10,
      onError: (e) => errors.push(e),
    });
    watchers.push(watcher);
    await waitFor(() => applied.length > 0, 'the apply once the port is free');
    expect(errors).toHaveLength(2);
    expect(applied).toEqual([[20001]]);
  });
});

function omit(record: Record<string, string>, key: string): Record<string, string> {
  const copy = { ...record };
  delete copy[key];
  return copy;
}
