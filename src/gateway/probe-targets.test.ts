import { describe, expect, it } from 'vitest';
import type { Link } from '../kube/types.js';
import { awaitLinkedGateway, linkedGateways, probeRefusal, targetKey } from './probe-targets.js';

function link(cluster: string, spec: Partial<Link['spec']> = {}, status: Link['status'] = {}): Link {
  return {
    apiVersion: 'multicluster.isthmus.dev/v1alpha1',
    kind: 'Link',
    metadata: { namespace: 'isthmus-system', name: cluster },
    spec: { targetClusterName: cluster, clusterCredentialsSecret: `cluster-credentials-${cluster}`, ...spec },
    status,
  };
}

describe('linkedGateways', () => {
  it('names every spec and status address with the Link port (4143 by default)', () => {
    const gateways = linkedGateways([
      link(
        'west',
        { gatewayAddress: '10.0.0.1, gw.west.example ', gatewayPort: 4000 },
        { gatewayAddresses: ['203.0.113.7'] },
      ),
      link('east', { gatewayAddress: 'FD00:0::1' }),
    ]);
    expect([...gateways.keys()].sort()).toEqual([
      '10.0.0.1:4000',
      '203.0.113.7:4000',
      '[fd00::1]:4143',
      'gw.west.example:4000',
    ]);
    expect(gateways.get('10.0.0.1:4000')).toEqual(new Set(['west']));
  });

  it('ignores a Link being deleted and one without a target cluster or gateway', () => {
    const leaving = link('west', { gatewayAddress: '10.0.0.1' });
    leaving.metadata = { ...leaving.metadata, deletionTimestamp: new Date('2026-11-23T00:00:00Z') };
    const noTarget = link('', { gatewayAddress: '10.0.0.2' });
    expect(linkedGateways([leaving, noTarget, link('north')]).size).toBe(0);
  });
});

describe('probeRefusal', () => {
  const links = [
    link('west', { gatewayAddress: '10.0.0.1' }),
    link('north', { gatewayAddress: 'GW.north.example' }),
  ];

  it('admits a linked gateway in any spelling of its address', () => {
    expect(probeRefusal(links, { host: '10.0.0.1', port: 4143 }, undefined)).toBeUndefined();
    expect(probeRefusal(links, { host: 'gw.NORTH.example', port: 4143 }, 'north')).toBeUndefined();
    expect(targetKey({ host: '0:0:0:0:0:0:0:1', port: 1 })).toBe('[::1]:1');
  });

  it('refuses another port, an unknown address, and a gateway linked for another cluster', () => {
    expect(probeRefusal(links, { host: '10.0.0.1', port: 22 }, undefined)).toContain('any Link');
    expect(probeRefusal(links, { host: '169.254.169.254', port: 80 }, undefined)).toContain(
      '169.254.169.254:80 is not a gateway',
    );
    expect(probeRefusal(links, { host: '10.0.0.1', port: 4143 }, 'north')).toContain(
      'the Link to cluster "north"',
    );
  });
});

describe('awaitLinkedGateway', () => {
  function source(initial: Link[]) {
    let links = initial;
    const handlers = new Set<() => void>();
    return {
      list: () => links,
      onEvent(handler: () => void) {
        handlers.add(handler);
        return () => handlers.delete(handler);
      },
      set(next: Link[]) {
        links = next;
        for (const h of handlers) h();
      },
      handlers,
    };
  }

  it('admits at once, or as soon as a Link event names the gateway, and unsubscribes', async () => {
    const links = source([]);
    const waiting = awaitLinkedGateway(links, { host: '10.0.0.1', port: 4143 }, 'west', 10_000);
    links.set([link('north', { gatewayAddress: '10.0.0.1' })]);
    expect(links.handlers.size).toBe(1);
    links.set([link('west', { gatewayAddress: '10.0.0.1' })]);
    await expect(waiting).resolves.toBeUndefined();
    expect(links.handlers.size).toBe(0);
    await expect(
      awaitLinkedGateway(links, { host: '10.0.0.1', port: 4143 }, 'west', 1),
    ).resolves.toBeUndefined();
  });

  it('refuses once the timeout passes with no Link naming it, and unsubscribes', async () => {
    const links = source([]);
    const reason = await awaitLinkedGateway(links, { host: '10.0.0.9', port: 4143 }, undefined, 20);
    expect(reason).toContain('/probe dials only linked gateways');
    expect(links.handlers.size).toBe(0);
  });
});
