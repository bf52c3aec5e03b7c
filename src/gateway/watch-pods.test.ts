/**
 * `--dial-pod-ips-only` in the index, stepped with in-memory sources: Pod changes re-judge the
 * slices that list their addresses, each refusal reported once per change, nothing dialled or
 * reported before the Pods are listed.
 */
import { describe, expect, it } from 'vitest';
import { IsthmusError } from '../errors.js';
import { SERVICE_NAME_LABEL } from '../kube/keys.js';
import type { V1EndpointSlice, V1Service } from '../kube/types.js';
import { MemorySource } from './e2e/memory-source.js';
import { type PodAddresses, PodIPBook } from './pod-ips.js';
import { type RefusedEndpoints, ServiceIndex } from './service-index.js';
import { feedServiceIndex } from './watch-exports.js';
import { feedPodIPs, podListRefusal } from './watch-pods.js';

const target = { kind: 'service', namespace: 'shop', service: 'web', port: 80 } as const;

const service: V1Service = {
  metadata: { namespace: 'shop', name: 'web' },
  spec: { ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
};

function slice(name: string, addresses: string[]): V1EndpointSlice {
  return {
    metadata: { namespace: 'shop', name, labels: { [SERVICE_NAME_LABEL]: 'web' } },
    addressType: 'IPv4',
    endpoints: addresses.map((a) => ({ addresses: [a], conditions: { ready: true } })),
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  };
}

function pod(namespace: string, name: string, ip: string | undefined, phase = 'Running'): PodAddresses {
  return {
    metadata: { namespace, name, resourceVersion: String(Math.random()) },
    status: { phase, ...(ip ? { podIPs: [{ ip }] } : {}) },
  };
}

function setup() {
  const reports: RefusedEndpoints[] = [];
  const book = new PodIPBook();
  const index = new ServiceIndex({ onRefused: (r) => reports.push(r), podIPs: book });
  const services = new MemorySource<V1Service>();
  const slices = new MemorySource<V1EndpointSlice>();
  const pods = new MemorySource<PodAddresses>();
  let list!: () => void;
  const listed = new Promise<void>((resolve) => {
    list = resolve;
  });
  feedServiceIndex(index, services, slices, { apiServerClusterIPs: [] });
  const off = feedPodIPs(index, book, pods, listed);
  const hosts = () => {
    const r = index.resolve(target);
    return r.ok ? r.candidates.map((c) => c.host) : r.reason;
  };
  /** The Pod informer's first list completes (the feed hears of it first: it subscribed first). */
  const listPods = async () => {
    list();
    await listed;
  };
  /** shop/web exported, with one slice listing `addresses`. */
  const exportWeb = (addresses: string[]) => {
    services.put(service);
    slices.put(slice('web-a', addresses));
  };
  return { reports, pods, off, hosts, listPods, exportWeb };
}

const refusal = (address: string, ns = 'shop') => ({
  address,
  reason: `${address} is not (or not yet) the IP of a running Pod in namespace ${ns}`,
});

describe('--dial-pod-ips-only in the ServiceIndex', () => {
  it('dials nothing and reports nothing until the Pods are listed, then judges every slice once', async () => {
    const s = setup();
    s.exportWeb(['10.1.2.3', '10.1.9.9']);
    s.pods.put(pod('shop', 'web-1', '10.1.2.3'));
    s.pods.put(pod('bank', 'vault-0', '10.1.9.9'));
    expect(s.hosts()).toMatch(/no ready endpoint .*the Pods are not listed yet/);
    expect(s.reports).toEqual([]);
    await s.listPods();
    expect(s.hosts()).toEqual(['10.1.2.3']);
    expect(s.reports).toEqual([
      { namespace: 'shop', service: 'web', slice: 'web-a', refused: [refusal('10.1.9.9')] },
    ]);
  });

  it('makes an address dialable when its Pod gets it after the slice listed it, with no slice event', async () => {
    const s = setup();
    await s.listPods();
    s.exportWeb(['10.1.2.3']);
    expect(s.hosts()).toMatch(/no ready endpoint/);
    expect(s.reports).toHaveLength(1);
    s.pods.put(pod('shop', 'web-1', undefined, 'Pending'));
    s.pods.put(pod('shop', 'web-1', '10.1.2.3'));
    expect(s.hosts()).toEqual(['10.1.2.3']);
    // Its readiness flipping, a label: no address changed, nothing judged again, nothing said.
    s.pods.put(pod('shop', 'web-1', '10.1.2.3'));
    expect(s.reports).toHaveLength(1);
  });

  it('stops dialling a Pod that turned Succeeded or went, and says so once', async () => {
    const s = setup();
    s.pods.put(pod('shop', 'job-1', '10.1.2.3'));
    s.pods.put(pod('shop', 'web-2', '10.1.2.4'));
    await s.listPods();
    s.exportWeb(['10.1.2.3', '10.1.2.4']);
    expect(s.hosts()).toEqual(['10.1.2.3', '10.1.2.4']);
    expect(s.reports).toEqual([]);
    s.pods.put(pod('shop', 'job-1', '10.1.2.3', 'Succeeded'));
    expect(s.hosts()).toEqual(['10.1.2.4']);
    expect(s.reports).toEqual([
      { namespace: 'shop', service: 'web', slice: 'web-a', refused: [refusal('10.1.2.3')] },
    ]);
    s.pods.remove(pod('shop', 'web-2', '10.1.2.4'));
    expect(s.hosts()).toMatch(/no ready endpoint/);
    expect(s.reports).toHaveLength(2);
    expect(s.reports[1]!.refused).toEqual([refusal('10.1.2.3'), refusal('10.1.2.4')]);
  });

  it('stops dialling an IP as soon as a Pod of another namespace claims it too (an IP being reused)', async () => {
    const s = setup();
    s.pods.put(pod('shop', 'web-1', '10.1.2.3'));
    await s.listPods();
    s.exportWeb(['10.1.2.3']);
    expect(s.hosts()).toEqual(['10.1.2.3']);
    // web-1's sandbox is gone and its IP handed to bank's new pod before web-1's status says so.
    s.pods.put(pod('bank', 'vault-0', '10.1.2.3'));
    expect(s.hosts()).toMatch(/no ready endpoint/);
    expect(s.reports.at(-1)?.refused).toEqual([
      {
        address: '10.1.2.3',
        reason:
          '10.1.2.3 is claimed by Pods of namespaces bank, shop at once (an IP being reused): dialled for none until one lets it go',
      },
    ]);
    s.pods.put(pod('shop', 'web-1', '10.1.2.3', 'Succeeded'));
    expect(s.hosts()).toMatch(/no ready endpoint/);
    expect(s.reports.at(-1)?.refused).toEqual([refusal('10.1.2.3')]);
  });

  it('stops following the Pods once unsubscribed', async () => {
    const s = setup();
    await s.listPods();
    s.exportWeb(['10.1.2.3']);
    s.off();
    s.pods.put(pod('shop', 'web-1', '10.1.2.3'));
    expect(s.hosts()).toMatch(/no ready endpoint/);
  });
});

describe('podListRefusal', () => {
  it('names the missing grant and the install flag for a 403, and nothing else', () => {
    const forbidden = new IsthmusError('KUBE_FORBIDDEN', 'pods is forbidden');
    expect(podListRefusal(forbidden)).toMatch(
      /refuses to list Pods \(403\): grant the gateway get, list and watch on pods cluster-wide \(isthmus upgrade --gateway-dial-pod-ips-only/,
    );
    expect(podListRefusal(new IsthmusError('KUBE_API_UNAVAILABLE', 'connection refused'))).toBeUndefined();
  });
});
