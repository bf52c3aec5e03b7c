/**
 * `--dial-pod-ips-only`: an endpoint is dialled only when it is the IP of a live Pod of the
 * Service's namespace, which no tenant can forge without `pods/status`. Pure decisions, table-tested.
 */
import { describe, expect, it } from 'vitest';
import { ipKey, type PodAddresses, PodIPBook, podDialAddresses, podIPRefusal, trimPod } from './pod-ips.js';

function pod(
  namespace: string,
  name: string,
  ips: string[],
  extra: { phase?: string; hostNetwork?: boolean; deleting?: boolean; podIPOnly?: boolean } = {},
): PodAddresses {
  return {
    metadata: {
      namespace,
      name,
      resourceVersion: '7',
      ...(extra.deleting ? { deletionTimestamp: new Date('2030-01-01T00:00:00Z') } : {}),
    },
    spec: extra.hostNetwork ? { hostNetwork: true } : {},
    status: {
      phase: extra.phase ?? 'Running',
      ...(ips[0] === undefined ? {} : { podIP: ips[0] }),
      ...(extra.podIPOnly ? {} : { podIPs: ips.map((ip) => ({ ip })) }),
    },
  };
}

function bookOf(...pods: PodAddresses[]): PodIPBook {
  const book = new PodIPBook();
  for (const p of pods) book.setPod(p.metadata!.namespace!, p.metadata!.name!, podDialAddresses(p));
  book.markListed();
  return book;
}

describe('podDialAddresses', () => {
  it.each<[string, PodAddresses, string[]]>([
    ['a running pod', pod('shop', 'web-1', ['10.1.2.3']), ['10.1.2.3']],
    [
      'dual-stack: every podIPs entry',
      pod('shop', 'web-1', ['10.1.2.3', 'fd00:10::3']),
      ['10.1.2.3', 'fd00:10::3'],
    ],
    [
      'an older writer: status.podIP alone',
      pod('shop', 'web-1', ['10.1.2.3'], { podIPOnly: true }),
      ['10.1.2.3'],
    ],
    [
      'a pending pod that has its IP (the endpoint controller lists it)',
      pod('shop', 'web-1', ['10.1.2.3'], { phase: 'Pending' }),
      ['10.1.2.3'],
    ],
    // Kept until gone, as the endpoint controller keeps it (terminating) and the ingress may dial it.
    ['a pod being deleted', pod('shop', 'web-1', ['10.1.2.3'], { deleting: true }), ['10.1.2.3']],
    [
      'Succeeded: its IP is free for another pod',
      pod('shop', 'job-1', ['10.1.2.3'], { phase: 'Succeeded' }),
      [],
    ],
    ['Failed: its IP is free for another pod', pod('shop', 'job-1', ['10.1.2.3'], { phase: 'Failed' }), []],
    [
      'hostNetwork: the node IP, every host pod shares it',
      pod('shop', 'agent', ['172.18.0.2'], { hostNetwork: true }),
      [],
    ],
    ['no IP yet', pod('shop', 'web-1', []), []],
    ['not an IP', pod('shop', 'web-1', ['web.example.com']), []],
  ])('%s', (_what, p, addresses) => {
    expect(podDialAddresses(p)).toEqual(addresses);
  });
});

describe('podIPRefusal', () => {
  const book = bookOf(
    pod('shop', 'web-1', ['10.1.2.3', 'fd00:10:244::7']),
    pod('bank', 'vault-0', ['10.1.9.9']),
    pod('shop', 'job-1', ['10.1.2.4'], { phase: 'Succeeded' }),
    pod('shop', 'agent', ['172.18.0.2'], { hostNetwork: true }),
    pod('shop', 'old-1', ['10.1.2.5'], { deleting: true }),
  );
  it.each<[string, string, string, RegExp | null]>([
    ['a pod of the namespace', 'shop', '10.1.2.3', null],
    ['its IPv6 address (dual-stack)', 'shop', 'fd00:10:244::7', null],
    ['its IPv6 address, spelt otherwise', 'shop', 'FD00:10:244:0:0:0:0:0007', null],
    ['its IPv4 address, IPv4-mapped (Node dials it as IPv4)', 'shop', '::ffff:10.1.2.3', null],
    ['its IPv4 address, IPv4-mapped in hex', 'shop', '::ffff:a01:203', null],
    ['a pod being deleted (until it is gone)', 'shop', '10.1.2.5', null],
    [
      'a pod of another namespace',
      'shop',
      '10.1.9.9',
      /10\.1\.9\.9 is not \(or not yet\) the IP of a running Pod in namespace shop/,
    ],
    ['the same, from its own namespace', 'bank', '10.1.9.9', null],
    ['a Succeeded pod', 'shop', '10.1.2.4', /not \(or not yet\) the IP of a running Pod in namespace shop/],
    ['a hostNetwork pod (the node)', 'shop', '172.18.0.2', /not \(or not yet\) the IP of a running Pod/],
    ['nobody', 'shop', '10.99.0.1', /not \(or not yet\) the IP of a running Pod/],
    ['an unknown namespace', 'nowhere', '10.1.2.3', /in namespace nowhere/],
  ])('%s (%s %s)', (_what, namespace, address, reason) => {
    const got = podIPRefusal(address, namespace, book);
    if (reason === null) expect(got).toBeNull();
    else expect(got).toMatch(reason);
  });
});

describe('PodIPBook', () => {
  it('reports which addresses of a namespace changed, and only those', () => {
    const book = new PodIPBook();
    book.markListed();
    expect([...book.setPod('shop', 'web-1', ['10.1.2.3'])]).toEqual([ipKey('10.1.2.3')]);
    expect(book.setPod('shop', 'web-1', ['10.1.2.3']).size).toBe(0);
    expect([...book.setPod('shop', 'web-1', ['10.1.2.3', 'fd00::3'])]).toEqual([ipKey('fd00::3')]);
    expect([...book.setPod('shop', 'web-1', [])].sort()).toEqual(
      [ipKey('10.1.2.3'), ipKey('fd00::3')].sort(),
    );
    expect(book.has('shop', '10.1.2.3')).toBe(false);
  });

  it('keeps an address two pods claim (a stale status) until neither does', () => {
    const book = bookOf(pod('shop', 'a', ['10.1.2.3']), pod('shop', 'b', ['10.1.2.3']));
    expect(book.setPod('shop', 'a', []).size).toBe(0);
    expect(book.has('shop', '10.1.2.3')).toBe(true);
    expect([...book.setPod('shop', 'b', [])]).toEqual([ipKey('10.1.2.3')]);
    expect(book.has('shop', '10.1.2.3')).toBe(false);
    expect(book.size()).toBe(0);
  });

  it('vouches for an IP that Pods of two namespaces claim for neither (an IP being reused)', () => {
    const book = bookOf(pod('shop', 'old', ['10.1.2.3']), pod('bank', 'new', ['10.1.2.3']));
    expect(book.has('shop', '10.1.2.3')).toBe(false);
    expect(book.has('bank', '10.1.2.3')).toBe(false);
    expect(book.claimants('10.1.2.3')).toEqual(['bank', 'shop']);
    expect(podIPRefusal('10.1.2.3', 'shop', book)).toBe(
      '10.1.2.3 is claimed by Pods of namespaces bank, shop at once (an IP being reused): dialled for none until one lets it go',
    );
    expect(podIPRefusal('10.1.2.3', 'other', book)).toMatch(
      /not \(or not yet\) the IP of a running Pod in namespace other/,
    );
    // The old pod's terminal status arrives: the IP is the new namespace's alone.
    expect([...book.setPod('shop', 'old', [])]).toEqual([ipKey('10.1.2.3')]);
    expect(book.has('bank', '10.1.2.3')).toBe(true);
    expect(book.claimants('10.1.2.3')).toEqual(['bank']);
  });

  it('vouches for nothing until the Pods are listed', () => {
    const book = new PodIPBook();
    book.setPod('shop', 'web-1', ['10.1.2.3']);
    expect(book.listed).toBe(false);
    expect(book.has('shop', '10.1.2.3')).toBe(false);
    book.markListed();
    expect(book.has('shop', '10.1.2.3')).toBe(true);
  });
});

describe('trimPod', () => {
  it('keeps what the decision reads and the informer needs, nothing else', () => {
    const full = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        namespace: 'shop',
        name: 'web-1',
        resourceVersion: '42',
        uid: 'u',
        labels: { app: 'web' },
        annotations: { big: 'x'.repeat(1000) },
        managedFields: [{ manager: 'kubelet' }],
        deletionTimestamp: new Date('2030-01-01T00:00:00Z'),
      },
      spec: { hostNetwork: true, containers: [{ name: 'web', image: 'web:1' }], nodeName: 'n1' },
      status: {
        phase: 'Running',
        podIP: '10.1.2.3',
        podIPs: [{ ip: '10.1.2.3' }],
        hostIP: '172.18.0.2',
        conditions: [{ type: 'Ready', status: 'True' }],
      },
    } as PodAddresses;
    expect(trimPod(full)).toEqual({
      metadata: { namespace: 'shop', name: 'web-1', resourceVersion: '42' },
      spec: { hostNetwork: true },
      status: { phase: 'Running', podIPs: [{ ip: '10.1.2.3' }] },
    });
    expect(trimPod({ metadata: { namespace: 'shop', name: 'p', resourceVersion: '1' } })).toEqual({
      metadata: { namespace: 'shop', name: 'p', resourceVersion: '1' },
      status: {},
    });
  });
});
