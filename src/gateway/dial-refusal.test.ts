/**
 * The confused deputy of the exporting side (CVE-2021-25740 class): whoever writes an exported
 * Service's EndpointSlices chooses what the ingress dials. These addresses are refused whoever
 * lists them; the refusal is decided on slice and Service events, and reported once per change.
 */
import { BlockList } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { V1EndpointSlice, V1Service } from '../kube/types.js';
import { API_SERVER_REFUSAL, dialRefusal } from './dial-refusal.js';
import { MemorySource } from './e2e/memory-source.js';
import { type RefusedEndpoints, ServiceIndex } from './service-index.js';
import { apiServerClusterIPs, feedServiceIndex } from './watch-exports.js';

const PORTS = [{ name: 'http', port: 8080 }];
const target = { kind: 'service', namespace: 'shop', service: 'web', port: 80 } as const;

describe('dialRefusal', () => {
  const apiServer = new BlockList();
  apiServer.addAddress('172.18.0.3', 'ipv4');
  apiServer.addAddress('10.96.0.1', 'ipv4');
  it.each<[string, string, RegExp | null]>([
    ['a pod', '10.244.1.7', null],
    ['an IPv6 pod', 'fd00:10:244::7', null],
    ['loopback (the lab; kube refuses it in slices already)', '127.0.0.1', null],
    ['IPv6 loopback', '::1', null],
    ['the API server (from default/kubernetes slices)', '172.18.0.3', /API server/],
    ['the kubernetes ClusterIP', '10.96.0.1', /API server/],
    ['the ClusterIP, IPv4-mapped', '::ffff:10.96.0.1', /API server/],
    ['IMDS (link-local)', '169.254.169.254', /link-local/],
    ['IMDS IPv4-mapped', '::ffff:169.254.169.254', /link-local/],
    ['IPv6 link-local', 'fe80::1', /link-local/],
    ['the top of fe80::/10', 'febf::1', /link-local/],
    ['AWS IMDS over IPv6', 'fd00:ec2::254', /metadata/],
    ['AWS IMDS over IPv6, spelt otherwise', 'FD00:EC2:0:0::254', /metadata/],
    ['Alibaba metadata', '100.100.100.200', /metadata/],
    ['GCP metadata over IPv6', 'fd20:ce::254', /metadata/],
    ['GCP metadata over IPv6, spelt in full', 'fd20:00ce:0:0:0:0:0:0254', /metadata/],
    ['EKS Pod Identity Agent over IPv6 (credentials)', 'fd00:ec2::23', /metadata/],
    ['a neighbour of GCP metadata', 'fd20:ce::253', null],
    ['Azure WireServer', '168.63.129.16', /metadata/],
    ['unspecified', '0.0.0.0', /unspecified/],
    ['IPv6 unspecified', '::', /unspecified/],
    ['a name', 'metadata.google.internal', /not an IP/],
  ])('%s (%s)', (_what, address, reason) => {
    const got = dialRefusal(address, { apiServer });
    if (reason === null) expect(got).toBeNull();
    else expect(got).toMatch(reason);
  });
});

const ep = (address: string) => ({ address, ready: true, ports: PORTS });
/** What the index reports of the slice `slice` of shop/web. */
const reported = (slice: string, refused: RefusedEndpoints['refused']): RefusedEndpoints => ({
  namespace: 'shop',
  service: 'web',
  slice,
  refused,
});

function exportedIndex(): { index: ServiceIndex; reports: RefusedEndpoints[] } {
  const reports: RefusedEndpoints[] = [];
  const index = new ServiceIndex({ onRefused: (r) => reports.push(r) });
  index.upsertService({
    namespace: 'shop',
    name: 'web',
    headless: false,
    ports: [{ name: 'http', port: 80 }],
  });
  return { index, reports };
}

describe('ServiceIndex: refused endpoints', () => {
  it('never offers a metadata or link-local endpoint, and answers 503 when nothing else remains', () => {
    const { index, reports } = exportedIndex();
    index.setSliceEndpoints('shop', 'web', 'web-x', [
      ep('169.254.169.254'),
      ep('fd00:ec2::254'),
      ep('10.244.1.7'),
    ]);
    expect(index.resolve(target)).toEqual({ ok: true, candidates: [{ host: '10.244.1.7', port: 8080 }] });
    expect(reports).toEqual([
      reported('web-x', [
        { address: '169.254.169.254', reason: expect.stringMatching(/link-local/) },
        { address: 'fd00:ec2::254', reason: expect.stringMatching(/metadata/) },
      ]),
    ]);
    index.setSliceEndpoints('shop', 'web', 'web-x', [ep('100.100.100.200')]);
    expect(index.resolve(target)).toMatchObject({ ok: false, status: 503 });
    expect(reports).toHaveLength(2);
    // Resolving again reports nothing more: the refusal was decided with the slice, not per CONNECT.
    index.resolve(target);
    expect(reports).toHaveLength(2);
  });

  it('filters slices seen before their Service once it is exported, and reports them then', () => {
    const reports: RefusedEndpoints[] = [];
    const index = new ServiceIndex({ onRefused: (r) => reports.push(r) });
    index.setSliceEndpoints('shop', 'web', 'web-x', [ep('169.254.169.254'), ep('10.244.1.7')]);
    expect(reports).toEqual([]);
    index.upsertService({
      namespace: 'shop',
      name: 'web',
      headless: false,
      ports: [{ name: 'http', port: 80 }],
    });
    expect(index.resolve(target)).toEqual({ ok: true, candidates: [{ host: '10.244.1.7', port: 8080 }] });
    expect(reports).toHaveLength(1);
    // An update of the Service changes nothing refused: no new report.
    index.upsertService({
      namespace: 'shop',
      name: 'web',
      headless: false,
      ports: [{ name: 'http', port: 80 }],
    });
    expect(reports).toHaveLength(1);
  });

  it('refuses the API server once its addresses are known, even in a slice it already serves', () => {
    const { index, reports } = exportedIndex();
    index.setSliceEndpoints('shop', 'web', 'web-x', [ep('172.18.0.3'), ep('10.244.1.7')]);
    expect(index.resolve(target)).toMatchObject({ ok: true, candidates: { length: 2 } });
    index.setApiServerAddresses(['10.96.0.1', '172.18.0.3']);
    expect(index.resolve(target)).toEqual({ ok: true, candidates: [{ host: '10.244.1.7', port: 8080 }] });
    expect(reports).toEqual([
      expect.objectContaining({
        slice: 'web-x',
        refused: [{ address: '172.18.0.3', reason: API_SERVER_REFUSAL }],
      }),
    ]);
    // The same addresses again: nothing re-filtered, nothing reported.
    index.setApiServerAddresses(['172.18.0.3', '10.96.0.1']);
    expect(reports).toHaveLength(1);
    // The API server moves: its old address is a pod's like any other.
    index.setApiServerAddresses(['10.96.0.1', '172.18.0.4']);
    expect(index.resolve(target)).toMatchObject({ ok: true, candidates: { length: 2 } });
  });
});

describe('feedServiceIndex: the API server', () => {
  const exported: V1Service = {
    metadata: { namespace: 'shop', name: 'web', labels: { 'mirror.linkerd.io/exported': 'true' } },
    spec: { ports: [{ name: 'http', port: 80 }] },
  };
  const slice = (namespace: string, name: string, service: string, addresses: string[]): V1EndpointSlice => ({
    addressType: 'IPv4',
    metadata: { namespace, name, labels: { 'kubernetes.io/service-name': service } },
    endpoints: addresses.map((a) => ({ addresses: [a] })),
    ports: [{ name: 'http', port: 8080 }],
  });
  // What kube-apiserver's endpoint reconciler writes: one slice named after the Service.
  const apiServerSlice = (addresses: string[]) => slice('default', 'kubernetes', 'kubernetes', addresses);

  it("never dials the addresses of default/kubernetes's slices or its ClusterIP, listed in an exported Service's slice", () => {
    const reports: RefusedEndpoints[] = [];
    const index = new ServiceIndex({ onRefused: (r) => reports.push(r) });
    const services = new MemorySource<V1Service>();
    const slices = new MemorySource<V1EndpointSlice>();
    services.put(exported);
    slices.put(slice('shop', 'web-x', 'web', ['10.244.1.7', '172.18.0.3', '10.96.0.1']));
    slices.put(apiServerSlice(['172.18.0.3']));
    feedServiceIndex(index, services, slices, { apiServerClusterIPs: ['10.96.0.1'] });
    expect(index.resolve(target)).toEqual({ ok: true, candidates: [{ host: '10.244.1.7', port: 8080 }] });
    // Once, with both reasons, though the API server's slice was listed after the exported one.
    expect(reports).toEqual([
      reported('web-x', [
        { address: '172.18.0.3', reason: API_SERVER_REFUSAL },
        { address: '10.96.0.1', reason: API_SERVER_REFUSAL },
      ]),
    ]);

    // A second API server joins: refused in the slices that list it already.
    slices.put(slice('shop', 'web-x', 'web', ['10.244.1.7', '172.18.0.4']));
    expect(index.resolve(target)).toMatchObject({ ok: true, candidates: { length: 2 } });
    slices.put(apiServerSlice(['172.18.0.3', '172.18.0.4']));
    expect(index.resolve(target)).toEqual({ ok: true, candidates: [{ host: '10.244.1.7', port: 8080 }] });

    // A slice of another namespace named "kubernetes" is not the API server's.
    slices.put(slice('shop', 'kubernetes', 'kubernetes', ['10.244.1.7']));
    expect(index.resolve(target)).toEqual({ ok: true, candidates: [{ host: '10.244.1.7', port: 8080 }] });
  });

  it('takes the ClusterIP from KUBERNETES_SERVICE_HOST, as the kubelet sets it in every container', () => {
    expect(apiServerClusterIPs({ KUBERNETES_SERVICE_HOST: '10.96.0.1' })).toEqual(['10.96.0.1']);
    expect(apiServerClusterIPs({ KUBERNETES_SERVICE_HOST: 'fd00:10:96::1' })).toEqual(['fd00:10:96::1']);
    expect(apiServerClusterIPs({})).toEqual([]);
  });
});
