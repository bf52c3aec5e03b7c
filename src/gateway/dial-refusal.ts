/**
 * What the ingress never dials, whoever lists it in an exported Service's EndpointSlices (the
 * CVE-2021-25740 class of confused deputy; docs/design.md, "What the ingress dials"). Pure: the
 * ServiceIndex applies it when a slice, a Service or the API server's addresses change.
 */
import { BlockList, isIP } from 'node:net';

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
    // Cloud metadata services outside link-local, which kube-apiserver admits as endpoints:
    // AWS IMDS over IPv6, Alibaba Cloud's metadata server, Azure's WireServer.
    reason: 'a cloud metadata service (fd00:ec2::254, 100.100.100.200, 168.63.129.16)',
    list: blockList((l) => {
      l.addAddress('fd00:ec2::254', 'ipv6');
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
 * Why the ingress refuses to dial `address`, or null. `apiServer` holds the addresses of the
 * `default/kubernetes` Service: its ClusterIP and its EndpointSlices' (the API servers themselves).
 */
export function dialRefusal(address: string, apiServer?: BlockList): string | null {
  const family = isIP(address);
  // toEndpointViews admits IP addresses only; anything else is no address to dial.
  if (family === 0) return 'not an IP address';
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (apiServer?.check(address, type)) return API_SERVER_REFUSAL;
  for (const r of ALWAYS_REFUSED) if (r.list.check(address, type)) return r.reason;
  return null;
}
