import { describe, expect, it } from 'vitest';
import { IsthmusError } from '../../errors.js';
import {
  LAB_CLUSTERS,
  type LabCluster,
  labTopology,
  MAX_LAB_CLUSTERS,
  parseLabClusters,
} from './topology.js';

/** Every address:port a lab cluster listens on. */
function listeners(c: LabCluster): string[] {
  return [
    `${c.api.host}:${c.api.port}`,
    `${c.gateway.host}:${c.gateway.ingressPort}`,
    `${c.gateway.host}:${c.gateway.adminPort}`,
    `${c.identity.host}:${c.identity.port}`,
    `${c.identity.host}:${c.identity.healthPort}`,
    `${c.identity.host}:${c.identity.adminPort}`,
    `${c.controller.host}:${c.controller.adminPort}`,
    `${c.frontend.host}:${c.frontend.port}`,
    ...Array.from({ length: c.podinfo.maxReplicas }, (_, i) => `${c.podinfo.hostOf(i)}:${c.podinfo.port}`),
  ];
}

/** The usage error `f` throws, or a failure if it throws none or another. */
function usageError(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(IsthmusError);
    expect((err as IsthmusError).code).toBe('USAGE');
    return (err as IsthmusError).message;
  }
  throw new Error('no error thrown');
}

describe('labTopology', () => {
  // Every process of every cluster runs on this one host: two listeners on one address and port
  // would crash-loop the second process (EADDRINUSE), as identity's default admin `:9991` would.
  it('gives every listener of both clusters an address and port of its own, identity admin included', () => {
    const all = labTopology(60).flatMap(listeners);
    expect(new Set(all).size).toBe(all.length);
    const [east] = labTopology(60);
    expect(`${east!.identity.host}:${east!.identity.adminPort}`).toBe('127.0.60.3:9991');
  });

  it('is east and west by default, east at --base and west on the next /24', () => {
    expect(LAB_CLUSTERS).toEqual(['east', 'west']);
    expect(labTopology(1).map((c) => [c.name, c.api.host])).toEqual([
      ['east', '127.0.1.1'],
      ['west', '127.0.2.1'],
    ]);
  });

  it.each([
    [['east', 'west', 'north'], 60],
    [['east', 'west', 'north', 'south', 'central'], 140],
  ])('gives %j from --base %i a /24 each, in order, and no two listeners alike', (names, base) => {
    const topology = labTopology(base, names);
    expect(topology.map((c) => [c.name, c.octet, c.api.host, c.gateway.host])).toEqual(
      names.map((name, i) => [name, base + i, `127.0.${base + i}.1`, `127.0.${base + i}.2`]),
    );
    const all = topology.flatMap(listeners);
    expect(new Set(all).size).toBe(all.length);
    // Each cluster's addresses stay inside its own /24.
    for (const c of topology)
      for (const l of listeners(c)) expect(l.startsWith(`127.0.${c.octet}.`), l).toBe(true);
  });

  it('refuses a --base that would put the last cluster past 127.0.251.x', () => {
    expect(labTopology(250).at(-1)!.api.host).toBe('127.0.251.1');
    expect(labTopology(249, ['east', 'west', 'north']).at(-1)!.api.host).toBe('127.0.251.1');
    expect(usageError(() => labTopology(0))).toBe('--base must be 1-250');
    expect(usageError(() => labTopology(251))).toBe('--base must be 1-250');
    expect(usageError(() => labTopology(1.5))).toBe('--base must be 1-250');
    expect(usageError(() => labTopology(250, ['east', 'west', 'north']))).toBe(
      '--base must be 1-249 with 3 clusters (each takes the next /24)',
    );
  });
});

describe('parseLabClusters', () => {
  it('reads a comma-separated list, blanks around names ignored', () => {
    expect(parseLabClusters('east,west')).toEqual(['east', 'west']);
    expect(parseLabClusters(' east, west ,north')).toEqual(['east', 'west', 'north']);
    expect(parseLabClusters('c1,c2,c3,c4,c5')).toHaveLength(MAX_LAB_CLUSTERS);
  });

  it.each([
    ['', /invalid cluster name\(s\): \(none given\)/],
    ['east', /at least 2 clusters/],
    ['east,west,north,south,central,extra', /at most 5 clusters/],
    ['east,east', /unique/],
    ['East,west', /invalid cluster name\(s\): East/],
    ['east,west_2', /invalid cluster name\(s\): west_2/],
    ['east,-west', /invalid cluster name\(s\): -west/],
    // podinfo-direct-<name> must stay a DNS label (63 characters).
    [`east,${'w'.repeat(49)}`, /at most 48 characters/],
  ])('refuses %j', (text, message) => {
    expect(usageError(() => parseLabClusters(text))).toMatch(message);
  });

  it('takes a 48-character name', () => {
    expect(parseLabClusters(`east,${'w'.repeat(48)}`)[1]).toHaveLength(48);
  });
});
