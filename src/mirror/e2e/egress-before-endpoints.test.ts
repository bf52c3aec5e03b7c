/**
 * A mirror's EndpointSlice sends callers (through kube-proxy) to east's gateway egress port: that
 * port must accept the moment the slice lists it on a ready endpoint, or a new mirror's first
 * callers are refused. A watcher of east's mirror slices connects to every ready `address:port` it
 * has not seen before, in the event's own tick (as soon as kube-proxy could forward there), for
 * many new mirrors and for a port added to each of them.
 */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { NS, SERVICE_PORT } from '../../failover/e2e/world.js';
import { worldPerFile } from '../../failover/e2e/world-per-file.js';
import { endpointSlice, exportedService } from '../../gateway/e2e/fixtures.js';
import { createInformer } from '../../kube/informer.js';
import { MANAGED_BY_LABEL, MANAGED_BY_MIRROR } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import { SYNC_DEADLINE_MS, synced } from '../../kube/test-support.js';
import type { V1EndpointSlice, V1Service } from '../../kube/types.js';
import { waitFor } from '../test-wait.js';

const HOSTS = { east: '127.0.121.1', west: '127.0.122.1', north: '127.0.123.1', proxy: '127.0.121.10' };
/** Enough new listeners that a window of a few milliseconds per mirror shows. */
const MIRRORS = 50;
const EXTRA_PORT = 9999;

const world = worldPerFile(HOSTS);

/** How a connection attempt ended: `accepted`, or the error code (ECONNREFUSED: nothing listens). */
function connectOutcome(host: string, port: number, timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (outcome: string): void => {
      socket.destroy();
      resolve(outcome);
    };
    socket.setTimeout(timeoutMs, () => done('timeout'));
    socket.once('connect', () => done('accepted'));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}

/** Every ready `address:port` of a mirror slice, as kube-proxy would forward to it. */
function readyTargets(slice: V1EndpointSlice): string[] {
  const out: string[] = [];
  for (const endpoint of slice.endpoints ?? []) {
    if (endpoint.conditions?.ready !== true) continue;
    for (const address of endpoint.addresses ?? [])
      for (const p of slice.ports ?? []) if (p.port !== undefined) out.push(`${address}:${p.port}`);
  }
  return out;
}

/**
 * Watches east's mirror slices and connects to each ready target the first time it is listed,
 * before anything else runs: the outcome of each, by `mirror address:port`.
 */
async function watchFirstConnects() {
  const slices = createInformer<V1EndpointSlice>(world().east.kube, R.endpointSlices, {
    namespace: NS,
    labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_MIRROR}`,
  });
  const outcomes = new Map<string, Promise<string>>();
  slices.onEvent((e) => {
    if (e.type === 'delete') return;
    for (const target of readyTargets(e.object)) {
      const key = `${e.object.metadata?.name} ${target}`;
      if (outcomes.has(key)) continue;
      const i = target.lastIndexOf(':');
      outcomes.set(key, connectOutcome(target.slice(0, i), Number(target.slice(i + 1))));
    }
  });
  slices.start();
  await synced(slices, 'the mirror slice watcher');
  return {
    outcomes,
    /** The outcome of each first connection, once every one has ended. */
    async settled(): Promise<Record<string, string>> {
      const entries = await Promise.all(
        [...outcomes].map(async ([key, outcome]) => [key, await outcome] as const),
      );
      return Object.fromEntries(entries);
    },
    stop: () => slices.stop(),
  };
}

const names = Array.from({ length: MIRRORS }, (_, i) => `burst-${i}`);

/** How many of `names` have a ready target (in the watcher's view) on `count` ports. */
const listedOn = (keys: Iterable<string>, count: number) => {
  const perMirror = new Map<string, number>();
  for (const key of keys) {
    const mirror = key.split(' ')[0] ?? '';
    perMirror.set(mirror, (perMirror.get(mirror) ?? 0) + 1);
  }
  return names.filter((n) => (perMirror.get(`${n}-west`) ?? 0) >= count).length;
};

const refused = (outcomes: Record<string, string>) =>
  Object.entries(outcomes).filter(([, outcome]) => outcome !== 'accepted');

describe("a mirror slice lists an egress port only once east's gateway listens on it", () => {
  it(`${MIRRORS} new mirrors: the first connection to each ready egress port is accepted`, async () => {
    const watcher = await watchFirstConnects();
    try {
      for (const name of names) {
        await world().west.kube.create(R.services, exportedService(NS, name, SERVICE_PORT));
        await world().west.kube.create(
          R.endpointSlices,
          endpointSlice(NS, name, '127.0.0.1', world().west.backend.port),
        );
      }
      await waitFor(async () => listedOn(watcher.outcomes.keys(), 1) === MIRRORS, {
        timeoutMs: SYNC_DEADLINE_MS,
        what: `${MIRRORS} mirrors listing a ready egress port`,
      });
      const outcomes = await watcher.settled();
      expect(refused(outcomes)).toEqual([]);
    } finally {
      watcher.stop();
    }
  });

  it(`a port added to each of the ${MIRRORS} exports: its first connection is accepted`, async () => {
    const watcher = await watchFirstConnects();
    try {
      for (const name of names) {
        await world().west.kube.patch<V1Service>(R.services, NS, name, {
          spec: {
            ports: [
              { name: 'http', port: SERVICE_PORT, targetPort: SERVICE_PORT, protocol: 'TCP' },
              { name: 'extra', port: EXTRA_PORT, targetPort: EXTRA_PORT, protocol: 'TCP' },
            ],
          },
        });
      }
      await waitFor(async () => listedOn(watcher.outcomes.keys(), 2) === MIRRORS, {
        timeoutMs: SYNC_DEADLINE_MS,
        what: `${MIRRORS} mirrors listing two ready egress ports`,
      });
      const outcomes = await watcher.settled();
      expect(refused(outcomes)).toEqual([]);
    } finally {
      watcher.stop();
    }
  });
});
