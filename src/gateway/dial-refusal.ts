/**
 * What the ingress never dials, whoever lists it in an exported Service's EndpointSlices (the
 * CVE-2021-25740 class of confused deputy; docs/design.md, "What the ingress dials"). Pure: the
 * ServiceIndex applies it when a slice, a Service or the API server's addresses change.
 */
import { BlockList, isIP } from 'node:net';
import { ipKey } from './pod-ips.js';

/** A BlockList filled by `add`. */
export function blockList(add: (list: BlockList) => void): BlockList {
  const list = new BlockList();
  add(list);
  return list;
}

/**
 * What the ingress never dials, whatever an EndpointSlice lists, with the reason it logs. BlockList
 * compares addresses, not strings: `FD00:EC2:0::254` and IPv4-mapped IPv6 (`::ffff:169.254.169.254`,
 * which Node dials as IPv4) are caught too. Loopback stays dialable: kube-apiserver already refuses
 * loopback endpoint addresses (ValidateEndpointIP), and the single-host lab runs on loopback.
 */
const ALWAYS_REFUSED: readonly { reason: string; list: BlockList }[] = [
  {
    // kube-apiserver refuses these in EndpointSlices too, but an API server is not the only writer
    // of what the informer sees (an aggregated or older one, a restored backup).
    reason: 'link-local (169.254.0.0/16, fe80::/10: cloud metadata, node-local services)',
    list: blockList((l) => {
      l.addSubnet('169.254.0.0', 16, 'ipv4');
      l.addSubnet('fe80::', 10, 'ipv6');
    }),
  },
  {
    // Cloud metadata and credential services outside link-local, which kube-apiserver admits as
    // endpoints: AWS IMDS and GCP's metadata server over IPv6, the EKS Pod Identity Agent's IPv6
    // address (its IPv4 one, 169.254.170.23, is link-local), Alibaba Cloud's metadata server,
    // Azure's WireServer.
    reason:
      'a cloud metadata service (fd00:ec2::254, fd20:ce::254, fd00:ec2::23, 100.100.100.200, 168.63.129.16)',
    list: blockList((l) => {
      l.addAddress('fd00:ec2::254', 'ipv6');
      l.addAddress('fd20:ce::254', 'ipv6');
      l.addAddress('fd00:ec2::23', 'ipv6');
      l.addAddress('100.100.100.200', 'ipv4');
      l.addAddress('168.63.129.16', 'ipv4');
    }),
  },
  {
    // Dialling 0.0.0.0 or :: reaches the gateway pod itself (its admin port, for one).
    reason: 'unspecified (0.0.0.0/8, ::): the gateway pod itself',
    list: blockList((l) => {
      l.addSubnet('0.0.0.0', 8, 'ipv4');
      l.addAddress('::', 'ipv6');
    }),
  },
];

export const API_SERVER_REFUSAL =
  "the API server's (Service default/kubernetes, its ClusterIP or EndpointSlices)";

/**
 * Why dialling a gateway pod of this cluster is refused (security review, finding 2): its egress
 * listeners tunnel again, so an exported Service's slice listing one would chain tunnels through
 * this cluster's gateways (and a peer's back) without end, and nothing else of an exported Service
 * is served there.
 */
export const GATEWAY_POD_REFUSAL =
  'a gateway pod of this cluster (an endpoint of its gateway Services): the tunnel would loop';

/**
 * IPv6 forms whose last 32 bits are an IPv4 address the packet ends up at, beside IPv4-mapped
 * (::ffff:0:0/96), which BlockList already compares as IPv4: the NAT64 well-known prefix (RFC 6052
 * §2.1; a cluster's NAT64 gateway translates it to that IPv4 address, and kube-apiserver admits it
 * in slices as any global address) and the deprecated IPv4-compatible form (RFC 4291 §2.5.5.1).
 * Network-specific NAT64 prefixes are the operator's choice and not known here.
 */
const EMBEDDINGS: readonly { form: string; prefix: readonly number[] }[] = [
  { form: 'a NAT64 address (64:ff9b::/96)', prefix: [0x64, 0xff9b, 0, 0, 0, 0] },
  { form: 'an IPv4-compatible address (::/96)', prefix: [0, 0, 0, 0, 0, 0] },
];

/**
 * Why dialling a ClusterIP of a mirror Service of this cluster is refused (security review: the
 * tunnel loop through a mirror). kube-proxy forwards a gateway mirror's ClusterIP to this cluster's
 * gateway egress, which tunnels again, so an exported Service's slice listing one would open a
 * tunnel per tunnel, cluster to cluster, until `--max-tunnels`; a remote-discovery mirror's leads to
 * another cluster's pods. Mirrors are never re-exported (nor does Linkerd re-export them).
 */
export const MIRROR_CLUSTER_IP_REFUSAL =
  "a mirror Service's ClusterIP of this cluster (mirror.linkerd.io/mirrored-service=true, forwarded to a gateway or another cluster's pods): the tunnel would loop";

/**
 * Why dialling a ClusterIP of a `<name>-federated` Service of this cluster is refused: its slices
 * (src/federation) list its remote members' mirrors' endpoints, this cluster's gateway egress, and
 * remote pods, so kube-proxy forwards it as it forwards a mirror's (the same loop).
 */
export const FEDERATED_CLUSTER_IP_REFUSAL =
  "a federated Service's ClusterIP of this cluster (isthmus.dev/federated-service=true or EndpointSlices managed by federation.isthmus.dev, forwarded to a gateway or another cluster's pods): the tunnel would loop";

/**
 * Why dialling the ClusterIP of a TrafficSplit apex of this cluster is refused while the failover
 * controller writes its slices (src/failover, plan-apex-slices.ts): they list the backends'
 * endpoints, and a mirror backend's are this cluster's gateway egress (the same loop).
 */
export const APEX_CLUSTER_IP_REFUSAL =
  "a TrafficSplit apex Service's ClusterIP of this cluster (EndpointSlices managed by failover.isthmus.dev, forwarded to its backends, a mirror's gateway among them): the tunnel would loop";

/**
 * Why dialling a ClusterIP of a Service in Isthmus's system namespace of this cluster is refused
 * (security review): those are its own Services (the gateway's LoadBalancer and admin Services, the
 * identity service), never a tunnel's target. The gateway pods' addresses are refused
 * (GATEWAY_POD_REFUSAL), and kube-proxy forwards these ClusterIPs to the same pods: their admin
 * port (/routes, /metrics, /probe) would be open to every linked cluster.
 */
export const SYSTEM_SERVICE_CLUSTER_IP_REFUSAL =
  "a ClusterIP of a Service in Isthmus's system namespace of this cluster (its gateways, their admin port, the identity service): never a tunnel's target";

/** What dialRefusal asks of a list of addresses: a BlockList, or ExactAddresses. */
export interface AddressList {
  check(address: string, type: 'ipv4' | 'ipv6'): boolean;
}

/**
 * Exact addresses looked up in one step, each with the reason it is refused: a BlockList walks its
 * every entry per check, which a cluster's thousands of mirror ClusterIPs would make slow. Compared
 * as addresses (ipKey), as a BlockList compares them.
 */
export class ExactAddresses {
  /** `reasons`: the reason for each address, by its ipKey. */
  constructor(private readonly reasons: ReadonlyMap<string, string>) {}
  reasonFor(address: string): string | undefined {
    return this.reasons.get(ipKey(address));
  }
}

/**
 * This cluster's addresses the ingress never dials: `apiServer`, those of the `default/kubernetes`
 * Service (its ClusterIP and its EndpointSlices', the API servers themselves); `gatewayPods`, those
 * of this cluster's gateway pods; `loopClusterIPs`, the ClusterIPs of its Services that kube-proxy
 * forwards to a gateway (mirrors, federated Services, steered apexes) or that are Isthmus's own
 * (its system namespace's), each with its reason.
 */
export interface ClusterAddresses {
  apiServer?: AddressList;
  gatewayPods?: AddressList;
  loopClusterIPs?: ExactAddresses;
}

/**
 * Why the ingress refuses to dial `address`, or null. Every IPv4 entry of `cluster`'s lists is
 * refused in its NAT64 and IPv4-compatible IPv6 forms too.
 */
export function dialRefusal(address: string, cluster: ClusterAddresses = {}): string | null {
  const family = isIP(address);
  // toEndpointViews admits IP addresses only; anything else is no address to dial.
  if (family === 0) return 'not an IP address';
  const refusal = listed(address, family === 4 ? 'ipv4' : 'ipv6', cluster);
  if (refusal !== null || family === 4) return refusal;
  const embedded = embeddedIPv4(address);
  if (embedded === null) return null;
  const reason = listed(embedded.ipv4, 'ipv4', cluster);
  return reason === null ? null : `${reason}: ${embedded.ipv4} embedded in ${embedded.form}`;
}

function listed(address: string, type: 'ipv4' | 'ipv6', cluster: ClusterAddresses): string | null {
  if (cluster.apiServer?.check(address, type)) return API_SERVER_REFUSAL;
  if (cluster.gatewayPods?.check(address, type)) return GATEWAY_POD_REFUSAL;
  const loop = cluster.loopClusterIPs?.reasonFor(address);
  if (loop !== undefined) return loop;
  for (const r of ALWAYS_REFUSED) if (r.list.check(address, type)) return r.reason;
  return null;
}

/**
 * The keys (ipKey) under which `address` can be refused: its own, and the IPv4 address it embeds
 * (NAT64, IPv4-compatible), if any. What tells whether a change of a list concerns an endpoint.
 */
export function dialKeys(address: string): string[] {
  const embedded = isIP(address) === 6 ? embeddedIPv4(address) : null;
  return embedded === null ? [ipKey(address)] : [ipKey(address), ipKey(embedded.ipv4)];
}

/**
 * The IPv4 address an IPv6 address carries in one of the EMBEDDINGS, and which form it is, or null.
 * `::` and `::1` are the unspecified and loopback addresses (RFC 4291 §2.5.2, §2.5.3), judged as
 * such, not as IPv4-compatible ones.
 */
export function embeddedIPv4(address: string): { ipv4: string; form: string } | null {
  const words = ipv6Words(address);
  if (words === null) return null;
  if (words.slice(0, 7).every((w) => w === 0) && words[7]! <= 1) return null;
  for (const { form, prefix } of EMBEDDINGS) {
    if (!prefix.every((w, i) => words[i] === w)) continue;
    const [high, low] = [words[6]!, words[7]!];
    return { ipv4: `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`, form };
  }
  return null;
}

/** The eight 16-bit words of an IPv6 address (any spelling, a dotted tail, a zone), or null. */
function ipv6Words(address: string): number[] | null {
  const zone = address.indexOf('%');
  const text = zone < 0 ? address : address.slice(0, zone);
  if (isIP(text) !== 6) return null;
  const words = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((group) => {
          if (!group.includes('.')) return [Number.parseInt(group, 16)];
          const [a = 0, b = 0, c = 0, d = 0] = group.split('.').map(Number);
          return [(a << 8) | b, (c << 8) | d];
        });
  const gap = text.indexOf('::');
  if (gap < 0) return words(text);
  const head = words(text.slice(0, gap));
  const tail = words(text.slice(gap + 2));
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}
