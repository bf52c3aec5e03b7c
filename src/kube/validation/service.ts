/**
 * core/v1 Service rules of kube-apiserver (`pkg/apis/core/validation/validation.go`: ValidateService,
 * validateServicePort, ValidateServiceUpdate). Fields that kube defaults before validating (type,
 * sessionAffinity, protocol, targetPort, allocated clusterIP on update) are read as their defaults
 * when absent, so an object the real server would accept is accepted here.
 */

import { isIP } from 'node:net';
import { nonSpecialIPErrors, SUPPORTED_PROTOCOLS } from './endpoint-slice.js';
import {
  child,
  duplicate,
  forbidden,
  index,
  invalid,
  notSupported,
  required,
  type StatusCause,
  typeInvalid,
} from './field-errors.js';
import { isRecord } from './json-values.js';
import { immutable, validateLabels } from './meta.js';
import {
  isDNS1123Label,
  isDNS1123Subdomain,
  isQualifiedName,
  isValidPortName,
  isValidPortNum,
} from './strings.js';

const SERVICE_TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'] as const;
const SESSION_AFFINITIES = ['ClientIP', 'None'] as const;
const IP_FAMILIES = ['IPv4', 'IPv6'] as const;
const IP_FAMILY_POLICIES = ['PreferDualStack', 'RequireDualStack', 'SingleStack'] as const;
const TRAFFIC_POLICIES = ['Cluster', 'Local'] as const;
/** ports.KubeletPort: kube refuses to expose it through a load balancer. */
const KUBELET_PORT = 10250;
/** core.MaxClientIPServiceAffinitySeconds. */
const MAX_CLIENT_IP_AFFINITY_SECONDS = 86400;

function oneOf(value: unknown, allowed: readonly string[], field: string): StatusCause[] {
  if (value === undefined || value === null) return [];
  if (value === '') return [required(field)];
  return allowed.includes(value as string) ? [] : [notSupported(field, value, allowed)];
}

function validatePort(
  p: unknown,
  path: string,
  requireName: boolean,
  names: Set<string>,
  type: string,
): StatusCause[] {
  if (!isRecord(p)) return [typeInvalid(path, p, 'must be an object')];
  const out: StatusCause[] = [];
  const name = p.name ?? '';
  if (typeof name !== 'string') out.push(typeInvalid(child(path, 'name'), name, 'must be a string'));
  else if (requireName && name === '') out.push(required(child(path, 'name')));
  else if (name !== '') {
    for (const msg of isDNS1123Label(name)) out.push(invalid(child(path, 'name'), name, msg));
    if (names.has(name)) out.push(duplicate(child(path, 'name'), name));
    else names.add(name);
  }
  if (typeof p.port !== 'number') {
    if (p.port === undefined) out.push(required(child(path, 'port')));
    else out.push(typeInvalid(child(path, 'port'), p.port, 'must be an integer'));
  } else for (const msg of isValidPortNum(p.port)) out.push(invalid(child(path, 'port'), p.port, msg));
  out.push(...oneOf(p.protocol, SUPPORTED_PROTOCOLS, child(path, 'protocol')));
  const tp = p.targetPort;
  const tpPath = child(path, 'targetPort');
  // 0 and absent are defaulted to `port` before validation.
  if (typeof tp === 'number') {
    if (tp !== 0) for (const msg of isValidPortNum(tp)) out.push(invalid(tpPath, tp, msg));
  } else if (typeof tp === 'string') {
    for (const msg of isValidPortName(tp)) out.push(invalid(tpPath, tp, msg));
  } else if (tp !== undefined && tp !== null)
    out.push(typeInvalid(tpPath, tp, 'must be an integer or a string'));
  const nodePort = p.nodePort;
  if (nodePort !== undefined && nodePort !== null && nodePort !== 0) {
    if (typeof nodePort !== 'number')
      out.push(typeInvalid(child(path, 'nodePort'), nodePort, 'must be an integer'));
    else if (type === 'ClusterIP' || type === 'ExternalName') {
      out.push(forbidden(child(path, 'nodePort'), `may not be used when \`type\` is '${type}'`));
    } else
      for (const msg of isValidPortNum(nodePort)) out.push(invalid(child(path, 'nodePort'), nodePort, msg));
  }
  if (typeof p.appProtocol === 'string') {
    for (const msg of isQualifiedName(p.appProtocol))
      out.push(invalid(child(path, 'appProtocol'), p.appProtocol, msg));
  }
  if (type === 'LoadBalancer' && p.port === KUBELET_PORT) {
    out.push(
      invalid(path, p.port, `may not expose port ${KUBELET_PORT} externally since it is used by kubelet`),
    );
  }
  return out;
}

function validateClusterIPs(spec: Record<string, unknown>, type: string): StatusCause[] {
  const out: StatusCause[] = [];
  const clusterIP = spec.clusterIP;
  if (type === 'ExternalName') {
    if (clusterIP !== undefined && clusterIP !== '') {
      out.push(forbidden('spec.clusterIP', 'may not be set for ExternalName services'));
    }
    return out;
  }
  if (clusterIP === undefined || clusterIP === '') return out;
  if (typeof clusterIP !== 'string') return [typeInvalid('spec.clusterIP', clusterIP, 'must be a string')];
  if (clusterIP === 'None') {
    if (type === 'LoadBalancer' || type === 'NodePort') {
      out.push(invalid('spec.clusterIP', clusterIP, `may not be set to 'None' for ${type} services`));
    }
  } else if (!isIP(clusterIP)) {
    out.push(invalid('spec.clusterIP', clusterIP, "must be empty, 'None', or a valid IP address"));
  }
  const clusterIPs = spec.clusterIPs;
  if (Array.isArray(clusterIPs) && clusterIPs.length > 0 && clusterIPs[0] !== clusterIP) {
    out.push(invalid(index('spec.clusterIPs', 0), clusterIPs[0], 'must match `clusterIP` when present'));
  }
  if (clusterIP === 'None' && Array.isArray(clusterIPs) && clusterIPs.length > 1) {
    out.push(invalid('spec.clusterIPs', clusterIPs, "'None' must be the first and only value"));
  }
  return out;
}

function validateIPFamilies(spec: Record<string, unknown>): StatusCause[] {
  const out = oneOf(spec.ipFamilyPolicy, IP_FAMILY_POLICIES, 'spec.ipFamilyPolicy');
  const families = spec.ipFamilies;
  if (families === undefined || families === null) return out;
  if (!Array.isArray(families)) return [...out, typeInvalid('spec.ipFamilies', families, 'must be a list')];
  if (families.length > 2)
    out.push(invalid('spec.ipFamilies', families, 'may specify no more than one IP for each IP family'));
  const seen = new Set<unknown>();
  families.forEach((f, i) => {
    const path = index('spec.ipFamilies', i);
    if (!(IP_FAMILIES as readonly unknown[]).includes(f)) out.push(notSupported(path, f, IP_FAMILIES));
    else if (seen.has(f)) out.push(duplicate(path, f));
    seen.add(f);
  });
  if (spec.ipFamilyPolicy === 'SingleStack' && families.length > 1) {
    out.push(
      invalid(
        'spec.ipFamilies',
        families,
        'when multiple IP families are specified, IP family policy must be PreferDualStack or RequireDualStack',
      ),
    );
  }
  return out;
}

function validateAffinity(spec: Record<string, unknown>): StatusCause[] {
  const out = oneOf(spec.sessionAffinity, SESSION_AFFINITIES, 'spec.sessionAffinity');
  const config = spec.sessionAffinityConfig;
  if (spec.sessionAffinity === 'ClientIP' && isRecord(config) && isRecord(config.clientIP)) {
    const t = config.clientIP.timeoutSeconds;
    if (t !== undefined && (typeof t !== 'number' || t <= 0 || t > MAX_CLIENT_IP_AFFINITY_SECONDS)) {
      out.push(
        invalid(
          'spec.sessionAffinityConfig.clientIP.timeoutSeconds',
          t,
          `must be greater than 0 and less than ${MAX_CLIENT_IP_AFFINITY_SECONDS}`,
        ),
      );
    }
  } else if (spec.sessionAffinity !== 'ClientIP' && config !== undefined && config !== null) {
    out.push(forbidden('spec.sessionAffinityConfig', 'must not be set when session affinity is None'));
  }
  return out;
}

/** ValidateService plus, with `old`, ValidateServiceUpdate's immutable clusterIP. Metadata is separate. */
export function validateService(svc: unknown, old: unknown): StatusCause[] {
  if (!isRecord(svc)) return [];
  const spec = isRecord(svc.spec) ? svc.spec : {};
  const out: StatusCause[] = [];
  const type = typeof spec.type === 'string' && spec.type !== '' ? spec.type : 'ClusterIP';
  if (spec.type !== undefined) out.push(...oneOf(spec.type, SERVICE_TYPES, 'spec.type'));
  const headless = spec.clusterIP === 'None';
  const ports = Array.isArray(spec.ports) ? spec.ports : [];
  if (spec.ports !== undefined && spec.ports !== null && !Array.isArray(spec.ports)) {
    out.push(typeInvalid('spec.ports', spec.ports, 'must be a list'));
  } else if (ports.length === 0 && !headless && type !== 'ExternalName') out.push(required('spec.ports'));
  if (type === 'ExternalName') {
    const cname = typeof spec.externalName === 'string' ? spec.externalName.replace(/\.$/, '') : '';
    if (cname === '') out.push(required('spec.externalName'));
    else for (const msg of isDNS1123Subdomain(cname)) out.push(invalid('spec.externalName', cname, msg));
  }
  out.push(...validateClusterIPs(spec, type));
  const names = new Set<string>();
  ports.forEach((p, i) => {
    out.push(...validatePort(p, index('spec.ports', i), ports.length > 1, names, type));
  });
  // Duplicate (port, protocol) pairs and duplicate (nodePort, protocol) pairs.
  const seenPorts = new Set<string>();
  const seenNodePorts = new Set<string>();
  ports.forEach((p, i) => {
    if (!isRecord(p)) return;
    const protocol = p.protocol ?? 'TCP';
    const k = `${p.port}/${protocol}`;
    if (seenPorts.has(k)) out.push(duplicate(index('spec.ports', i), { port: p.port, protocol }));
    seenPorts.add(k);
    if (typeof p.nodePort === 'number' && p.nodePort !== 0) {
      const nk = `${p.nodePort}/${protocol}`;
      if (seenNodePorts.has(nk)) out.push(duplicate(child(index('spec.ports', i), 'nodePort'), p.nodePort));
      seenNodePorts.add(nk);
    }
  });
  out.push(...validateLabels(spec.selector, 'spec.selector'));
  out.push(...validateAffinity(spec));
  out.push(...validateIPFamilies(spec));
  if (Array.isArray(spec.externalIPs)) {
    spec.externalIPs.forEach((ip, i) => {
      const path = index('spec.externalIPs', i);
      if (typeof ip !== 'string' || !isIP(ip)) {
        out.push(invalid(path, ip, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'));
      } else {
        for (const msg of nonSpecialIPErrors(ip, { allowLoopbackEndpoints: false }))
          out.push(invalid(path, ip, msg));
      }
    });
  }
  out.push(...oneOf(spec.externalTrafficPolicy, TRAFFIC_POLICIES, 'spec.externalTrafficPolicy'));
  if (spec.externalTrafficPolicy && type !== 'NodePort' && type !== 'LoadBalancer') {
    out.push(
      invalid(
        'spec.externalTrafficPolicy',
        spec.externalTrafficPolicy,
        'may only be set for externally-accessible services',
      ),
    );
  }
  out.push(...oneOf(spec.internalTrafficPolicy, TRAFFIC_POLICIES, 'spec.internalTrafficPolicy'));
  const hcPort = spec.healthCheckNodePort;
  if (
    hcPort !== undefined &&
    hcPort !== null &&
    hcPort !== 0 &&
    (type !== 'LoadBalancer' || spec.externalTrafficPolicy !== 'Local')
  ) {
    out.push(
      invalid(
        'spec.healthCheckNodePort',
        hcPort,
        "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
      ),
    );
  }
  out.push(...validateLoadBalancerFields(spec, type));
  if (isRecord(old)) out.push(...validateServiceUpdate(spec, isRecord(old.spec) ? old.spec : {}));
  return out;
}

/** netutils.ParseCIDRSloppy, as IsValidCIDR uses it: an IP, a slash and a prefix length in range. */
export function isValidCIDR(value: string): boolean {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(value);
  if (!m) return false;
  const family = isIP(m[1]!);
  return family !== 0 && Number(m[2]) <= (family === 4 ? 32 : 128);
}

/**
 * loadBalancerSourceRanges (its field path keeps kube's historical capital L) and
 * loadBalancerClass (validateLoadBalancerClassField): both only for type LoadBalancer.
 */
function validateLoadBalancerFields(spec: Record<string, unknown>, type: string): StatusCause[] {
  const out: StatusCause[] = [];
  const ranges = spec.loadBalancerSourceRanges;
  if (Array.isArray(ranges) && ranges.length > 0) {
    const path = 'spec.LoadBalancerSourceRanges';
    if (type !== 'LoadBalancer') out.push(forbidden(path, "may only be used when `type` is 'LoadBalancer'"));
    ranges.forEach((value, i) => {
      // Space-padded values are allowed: an accident of the field's origin as an annotation.
      if (typeof value !== 'string' || !isValidCIDR(value.trim())) {
        out.push(
          invalid(index(path, i), value, 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)'),
        );
      }
    });
  }
  const cls = spec.loadBalancerClass;
  if (cls !== undefined && cls !== null) {
    const path = 'spec.loadBalancerClass';
    if (type !== 'LoadBalancer') out.push(forbidden(path, "may only be used when `type` is 'LoadBalancer'"));
    else for (const msg of isQualifiedName(String(cls))) out.push(invalid(path, cls, msg));
  }
  return out;
}

/**
 * A Service's IP families are fixed once set (ValidateServiceUpdate's family checks):
 * a secondary may be added or released, the primary never changes, and equal lists may not be reordered; headless
 * Services, and a change to or from headless, are exempt.
 */
function primaryFamilyUpdate(spec: Record<string, unknown>, oldSpec: Record<string, unknown>): StatusCause[] {
  const headless = (s: Record<string, unknown>) => s.clusterIP === 'None';
  if (headless(spec) || headless(oldSpec)) return [];
  const families = Array.isArray(spec.ipFamilies) ? spec.ipFamilies : [];
  const oldFamilies = Array.isArray(oldSpec.ipFamilies) ? oldSpec.ipFamilies : [];
  if (oldFamilies.length === 0 || families.length === 0) return [];
  const changed =
    families.length === oldFamilies.length
      ? families.some((f, i) => f !== oldFamilies[i])
      : families[0] !== oldFamilies[0];
  return changed ? [invalid('spec.ipFamilies[0]', families, 'may not change once set')] : [];
}

/**
 * clusterIP is immutable once allocated, except across a change to or from ExternalName. An update
 * that leaves clusterIP empty keeps the allocated one (kube copies it before validating).
 */
function validateServiceUpdate(
  spec: Record<string, unknown>,
  oldSpec: Record<string, unknown>,
): StatusCause[] {
  const type = spec.type ?? 'ClusterIP';
  const oldType = oldSpec.type ?? 'ClusterIP';
  const out: StatusCause[] = [];
  // A load balancer's class picks its implementation: it may not change while it stays one.
  if (
    type === 'LoadBalancer' &&
    oldType === 'LoadBalancer' &&
    (spec.loadBalancerClass ?? null) !== (oldSpec.loadBalancerClass ?? null)
  ) {
    out.push(invalid('spec.loadBalancerClass', spec.loadBalancerClass ?? null, 'may not change once set'));
  }
  if (type === 'ExternalName' || oldType === 'ExternalName') return out;
  out.push(...primaryFamilyUpdate(spec, oldSpec));
  const oldIP = oldSpec.clusterIP;
  const newIP = spec.clusterIP;
  if (typeof oldIP !== 'string' || oldIP === '' || newIP === undefined || newIP === '') return out;
  if (newIP !== oldIP) out.push(immutable('spec.clusterIP', newIP));
  return out;
}

const LOAD_BALANCER_IP_MODES = ['Proxy', 'VIP'] as const;

/**
 * ValidateServiceStatusUpdate's ValidateLoadBalancerStatus (1.29+, AllowServiceLBStatusOnNonLB
 * off): ingress only on a LoadBalancer Service; each entry a valid IP with an ipMode, or a DNS
 * name that is not an IP.
 */
export function validateServiceStatus(svc: unknown): StatusCause[] {
  if (!isRecord(svc)) return [];
  const spec = isRecord(svc.spec) ? svc.spec : {};
  const status = isRecord(svc.status) ? svc.status : {};
  const lb = isRecord(status.loadBalancer) ? status.loadBalancer : {};
  const path = 'status.loadBalancer.ingress';
  if (lb.ingress === undefined || lb.ingress === null) return [];
  if (!Array.isArray(lb.ingress)) return [typeInvalid(path, lb.ingress, 'must be a list')];
  if (lb.ingress.length === 0) return [];
  if (spec.type !== 'LoadBalancer')
    return [forbidden(path, "may only be used when `spec.type` is 'LoadBalancer'")];
  const out: StatusCause[] = [];
  lb.ingress.forEach((ing, i) => {
    const p = index(path, i);
    if (!isRecord(ing)) {
      out.push(typeInvalid(p, ing, 'must be an object'));
      return;
    }
    const ip = typeof ing.ip === 'string' ? ing.ip : '';
    if (ip !== '' && !isIP(ip)) out.push(invalid(child(p, 'ip'), ip, 'must be a valid IP address'));
    const mode = ing.ipMode;
    if (mode === undefined || mode === null) {
      if (ip !== '') out.push(required(child(p, 'ipMode'), 'must be specified when `ip` is set'));
    } else if (ip === '') {
      out.push(forbidden(child(p, 'ipMode'), 'may not be specified when `ip` is not set'));
    } else if (!(LOAD_BALANCER_IP_MODES as readonly unknown[]).includes(mode)) {
      out.push(notSupported(child(p, 'ipMode'), mode, LOAD_BALANCER_IP_MODES));
    }
    const hostname = typeof ing.hostname === 'string' ? ing.hostname : '';
    if (hostname !== '') {
      for (const msg of isDNS1123Subdomain(hostname)) out.push(invalid(child(p, 'hostname'), hostname, msg));
      if (isIP(hostname))
        out.push(invalid(child(p, 'hostname'), hostname, 'must be a DNS name, not an IP address'));
    }
  });
  return out;
}
