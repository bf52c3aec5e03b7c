/**
 * networking.k8s.io/v1 NetworkPolicy (`pkg/apis/networking/validation`, ValidateNetworkPolicySpec):
 * the pod selector, each rule's ports and peers, and the policy types, messages as kube words them.
 * An update is checked as a create: its only extra allowances are for values stored before kube
 * tightened its rules, which a sandbox never holds.
 */
import { isIP } from 'node:net';
import {
  child,
  forbidden,
  index,
  invalid,
  notSupported,
  required,
  type StatusCause,
} from '../kube/validation/field-errors.js';
import { ipBytes } from '../kube/validation/ip-bytes.js';
import { isRecord, type JsonObject } from '../kube/validation/json-values.js';
import { validateLabelSelector } from '../kube/validation/meta.js';
import { isValidCIDR } from '../kube/validation/service.js';
import { isValidPortName, isValidPortNum } from '../kube/validation/strings.js';

const PROTOCOLS = ['TCP', 'UDP', 'SCTP'];
const POLICY_TYPES = ['Ingress', 'Egress'];
const NOT_A_CIDR = 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)';

const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
/** Set in Go terms: a nil pointer is JSON absent or null. */
const present = (v: unknown): boolean => v !== undefined && v !== null;

/** ValidateNetworkPolicyPort: endPort only after a numeric port, within 1–65535 and not below it. */
function validatePort(port: JsonObject, path: string): StatusCause[] {
  const out: StatusCause[] = [];
  const { protocol, port: value, endPort } = port;
  if (present(protocol) && !PROTOCOLS.includes(String(protocol))) {
    out.push(notSupported(child(path, 'protocol'), protocol, PROTOCOLS));
  }
  const portPath = child(path, 'port');
  const endPath = child(path, 'endPort');
  if (!present(value)) {
    if (present(endPort))
      out.push(invalid(endPath, endPort, 'may not be specified when `port` is not specified'));
    return out;
  }
  if (typeof value !== 'number') {
    if (present(endPort))
      out.push(invalid(endPath, endPort, 'may not be specified when `port` is non-numeric'));
    for (const msg of isValidPortName(String(value))) out.push(invalid(portPath, value, msg));
    return out;
  }
  for (const msg of isValidPortNum(value)) out.push(invalid(portPath, value, msg));
  if (present(endPort)) {
    if (Number(endPort) < value)
      out.push(invalid(endPath, endPort, 'must be greater than or equal to `port`'));
    for (const msg of isValidPortNum(Number(endPort))) out.push(invalid(endPath, endPort, msg));
  }
  return out;
}

interface Cidr {
  bytes: number[];
  /** The prefix length as written. */
  length: number;
  /** How many leading bits of `bytes` it covers (an IPv4-mapped IPv6 prefix is folded to IPv4, as Go's To4 does). */
  bits: number;
}

/** netutils.ParseCIDRSloppy. */
function parseCidr(value: string): Cidr | undefined {
  if (!isValidCIDR(value)) return undefined;
  const [ip = '', length = ''] = value.split('/');
  const bytes = ipBytes(ip)!;
  const hostBits = (isIP(ip) === 4 ? 32 : 128) - Number(length);
  return { bytes, length: Number(length), bits: Math.max(0, bytes.length * 8 - hostBits) };
}

/** IPNet.Contains(inner's network address): the same family and the same leading `outer.bits`. */
function contains(outer: Cidr, inner: Cidr): boolean {
  if (outer.bytes.length !== inner.bytes.length) return false;
  for (let bit = 0; bit < outer.bits; bit++) {
    const mask = 0x80 >> (bit % 8);
    const innerBit = bit < inner.bits ? inner.bytes[bit >> 3]! & mask : 0;
    if ((outer.bytes[bit >> 3]! & mask) !== innerBit) return false;
  }
  return true;
}

/** ValidateIPBlock: a CIDR, and each `except` a CIDR strictly inside it. */
function validateIPBlock(block: unknown, path: string): StatusCause[] {
  const ipb = isRecord(block) ? block : {};
  const cidrPath = child(path, 'cidr');
  if (!present(ipb.cidr) || ipb.cidr === '') return [required(cidrPath)];
  const cidr = parseCidr(String(ipb.cidr));
  if (!cidr) return [invalid(cidrPath, ipb.cidr, NOT_A_CIDR)];
  const out: StatusCause[] = [];
  list(ipb.except).forEach((value, i) => {
    const exceptPath = index(child(path, 'except'), i);
    const except = parseCidr(String(value));
    if (!except) out.push(invalid(exceptPath, value, NOT_A_CIDR));
    else if (cidr.length >= except.length || !contains(cidr, except)) {
      out.push(invalid(exceptPath, value, 'must be a strict subset of `cidr`'));
    }
  });
  return out;
}

/** ValidateNetworkPolicyPeer: at least one of the three, and an ipBlock stands alone. */
function validatePeer(peer: JsonObject, path: string): StatusCause[] {
  const out: StatusCause[] = [];
  const selectors = (['podSelector', 'namespaceSelector'] as const).filter((k) => present(peer[k]));
  for (const k of selectors) out.push(...validateLabelSelector(peer[k], child(path, k)));
  const ipBlock = present(peer.ipBlock);
  if (ipBlock) out.push(...validateIPBlock(peer.ipBlock, child(path, 'ipBlock')));
  if (selectors.length === 0 && !ipBlock) out.push(required(path, 'must specify a peer'));
  else if (ipBlock && selectors.length > 0) {
    out.push(forbidden(path, 'may not specify both ipBlock and another peer'));
  }
  return out;
}

/** One ingress or egress rule: its ports, then its peers (`from` or `to`); a null item decodes to {}. */
function validateRule(rule: unknown, path: string, peers: 'from' | 'to'): StatusCause[] {
  if (!isRecord(rule)) return [];
  const asObject = (v: unknown): JsonObject => (isRecord(v) ? v : {});
  return [
    ...list(rule.ports).flatMap((p, i) => validatePort(asObject(p), index(child(path, 'ports'), i))),
    ...list(rule[peers]).flatMap((p, i) => validatePeer(asObject(p), index(child(path, peers), i))),
  ];
}

/** At most two, each Ingress or Egress; a repeat is not refused (the list is atomic, not a set). */
function validatePolicyTypes(types: unknown): StatusCause[] {
  const path = 'spec.policyTypes';
  const values = list(types);
  if (values.length > POLICY_TYPES.length) {
    return [invalid(path, values, 'may not specify more than two policyTypes')];
  }
  return values.flatMap((t, i) =>
    POLICY_TYPES.includes(String(t)) ? [] : [notSupported(index(path, i), t, POLICY_TYPES)],
  );
}

export function validateNetworkPolicy(np: unknown): StatusCause[] {
  if (!isRecord(np)) return [];
  const spec = isRecord(np.spec) ? np.spec : {};
  return [
    ...validateLabelSelector(spec.podSelector, 'spec.podSelector'),
    ...list(spec.ingress).flatMap((r, i) => validateRule(r, index('spec.ingress', i), 'from')),
    ...list(spec.egress).flatMap((r, i) => validateRule(r, index('spec.egress', i), 'to')),
    ...validatePolicyTypes(spec.policyTypes),
  ];
}
