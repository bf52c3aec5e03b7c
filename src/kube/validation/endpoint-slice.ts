/**
 * Endpoint addresses as kube-apiserver checks them: discovery.k8s.io/v1 EndpointSlice
 * (`pkg/apis/discovery/validation/validation.go`) and core/v1 Endpoints
 * (`pkg/apis/core/validation/validation.go`, validateEndpointSubsets). Addresses may not be
 * unspecified, loopback, link-local or link-local multicast (ValidateNonSpecialIP); the lab-only
 * relaxation admits loopback and nothing else.
 */
import { isIPv4, isIPv6 } from 'node:net';
import {
  child,
  duplicate,
  index,
  invalid,
  notSupported,
  required,
  type StatusCause,
  tooMany,
  typeInvalid,
} from './field-errors.js';
import { ipBytes } from './ip-bytes.js';
import { isRecord } from './json-values.js';
import { validateLabels } from './meta.js';
import {
  isDNS1123Label,
  isDNS1123Subdomain,
  isQualifiedName,
  isValidLabelValue,
  isValidPortNum,
} from './strings.js';

export interface ValidationOptions {
  /** Admit 127.0.0.0/8 and ::1 as endpoint addresses (the single-host lab; off by default). */
  allowLoopbackEndpoints: boolean;
}

export const SUPPORTED_PROTOCOLS = ['SCTP', 'TCP', 'UDP'] as const;
const ADDRESS_TYPES = ['FQDN', 'IPv4', 'IPv6'] as const;
/** Accepted on update only: the deprecated "IP" address type of v1beta1. */
const DEPRECATED_ADDRESS_TYPES = ['IP'] as const;
// discovery validation limits.
const MAX_ENDPOINTS = 1000;
const MAX_ADDRESSES = 100;
/** 100 until Kubernetes 1.21 (kubernetes#99795): 20,000, so a Service with many ports fits one slice. */
const MAX_PORTS = 20_000;
const MAX_TOPOLOGY_LABELS = 16;
const MAX_ZONE_HINTS = 8;

export function isLoopbackIP(ip: string): boolean {
  const b = ipBytes(ip);
  if (!b) return false;
  return b.length === 4 ? b[0] === 127 : b.slice(0, 15).every((x) => x === 0) && b[15] === 1;
}

/** ValidateNonSpecialIP, messages verbatim. */
export function nonSpecialIPErrors(ip: string, opts: ValidationOptions): string[] {
  const b = ipBytes(ip);
  if (!b) return ['must be a valid IP address'];
  const errs: string[] = [];
  const v4 = b.length === 4;
  if (b.every((x) => x === 0)) errs.push(`may not be unspecified (${ip})`);
  if (isLoopbackIP(ip) && !opts.allowLoopbackEndpoints) {
    errs.push('may not be in the loopback range (127.0.0.0/8, ::1/128)');
  }
  if (v4 ? b[0] === 169 && b[1] === 254 : b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) {
    errs.push('may not be in the link-local range (169.254.0.0/16, fe80::/10)');
  }
  if (v4 ? b[0] === 224 && b[1] === 0 && b[2] === 0 : b[0] === 0xff && (b[1]! & 0x0f) === 0x02) {
    errs.push('may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)');
  }
  return errs;
}

function label(value: unknown, field: string): StatusCause[] {
  if (typeof value !== 'string') return [typeInvalid(field, value, 'must be a string')];
  return isDNS1123Label(value).map((msg) => invalid(field, value, msg));
}

function protocol(value: unknown, field: string): StatusCause[] {
  // Defaulting sets TCP before validation; absent therefore stands for TCP.
  if (value === undefined) return [];
  if (value === '' || value === null) return [required(field)];
  return (SUPPORTED_PROTOCOLS as readonly unknown[]).includes(value)
    ? []
    : [notSupported(field, value, SUPPORTED_PROTOCOLS)];
}

function appProtocol(value: unknown, field: string): StatusCause[] {
  if (value === undefined || value === null) return [];
  if (typeof value !== 'string') return [typeInvalid(field, value, 'must be a string')];
  return isQualifiedName(value).map((msg) => invalid(field, value, msg));
}

function isFQDNErrors(value: string, field: string): StatusCause[] {
  const name = value.endsWith('.') ? value.slice(0, -1) : value;
  if (name === '') return [required(field)];
  const out: StatusCause[] = [];
  if (name.split('.').length < 2) {
    out.push(invalid(field, name, 'should be a domain with at least two segments separated by dots'));
  }
  for (const msg of isDNS1123Subdomain(name)) out.push(invalid(field, name, msg));
  return out;
}

function sliceAddress(
  address: unknown,
  addressType: unknown,
  field: string,
  opts: ValidationOptions,
): StatusCause[] {
  if (typeof address !== 'string') return [typeInvalid(field, address, 'must be a string')];
  switch (addressType) {
    case 'IPv4':
    case 'IPv6': {
      const ok =
        addressType === 'IPv4' ? isIPv4(address) : isIPv6(address) && ipBytes(address)?.length === 16;
      const out = ok ? [] : [invalid(field, address, `must be a valid ${addressType} address`)];
      return [...out, ...nonSpecialIPErrors(address, opts).map((msg) => invalid(field, address, msg))];
    }
    case 'IP':
      return isIPv4(address) || isIPv6(address)
        ? []
        : [invalid(field, address, 'must be a valid IP address')];
    case 'FQDN':
      return isFQDNErrors(address, field);
    default:
      return []; // unknown types fall through unvalidated, as in kube
  }
}

function sliceEndpoint(
  ep: unknown,
  addressType: unknown,
  path: string,
  opts: ValidationOptions,
): StatusCause[] {
  if (!isRecord(ep)) return [typeInvalid(path, ep, 'must be an object')];
  const out: StatusCause[] = [];
  const addrPath = child(path, 'addresses');
  const addresses = ep.addresses;
  if (!Array.isArray(addresses) || addresses.length === 0) {
    if (addresses !== undefined && addresses !== null && !Array.isArray(addresses)) {
      out.push(typeInvalid(addrPath, addresses, 'must be a list of strings'));
    } else out.push(required(addrPath, 'must contain at least 1 address'));
  } else if (addresses.length > MAX_ADDRESSES) {
    out.push(tooMany(addrPath, addresses.length, MAX_ADDRESSES));
  }
  if (Array.isArray(addresses)) {
    addresses.forEach((a, i) => {
      out.push(...sliceAddress(a, addressType, index(addrPath, i), opts));
    });
  }
  if (ep.conditions !== undefined && ep.conditions !== null) {
    const condPath = child(path, 'conditions');
    if (!isRecord(ep.conditions)) out.push(typeInvalid(condPath, ep.conditions, 'must be an object'));
    else {
      for (const c of ['ready', 'serving', 'terminating']) {
        const v = ep.conditions[c];
        if (v !== undefined && v !== null && typeof v !== 'boolean') {
          out.push(typeInvalid(child(condPath, c), v, 'must be a boolean'));
        }
      }
    }
  }
  const topology = ep.deprecatedTopology;
  if (isRecord(topology) && Object.keys(topology).length > MAX_TOPOLOGY_LABELS) {
    out.push(tooMany(child(path, 'deprecatedTopology'), Object.keys(topology).length, MAX_TOPOLOGY_LABELS));
  }
  out.push(...validateLabels(topology, child(path, 'deprecatedTopology')));
  if (ep.hostname !== undefined && ep.hostname !== null)
    out.push(...label(ep.hostname, child(path, 'hostname')));
  if (ep.hints !== undefined && ep.hints !== null) out.push(...hints(ep.hints, child(path, 'hints')));
  if (ep.nodeName !== undefined && ep.nodeName !== null) {
    const f = child(path, 'nodeName');
    if (typeof ep.nodeName !== 'string') out.push(typeInvalid(f, ep.nodeName, 'must be a string'));
    else for (const msg of isDNS1123Subdomain(ep.nodeName)) out.push(invalid(f, ep.nodeName, msg));
  }
  return out;
}

/** validateHints: at most 8 zones, each a label value, none twice. */
function hints(value: unknown, path: string): StatusCause[] {
  if (!isRecord(value)) return [typeInvalid(path, value, 'must be an object')];
  const zones = value.forZones;
  const fz = child(path, 'forZones');
  if (zones === undefined || zones === null) return [];
  if (!Array.isArray(zones)) return [typeInvalid(fz, zones, 'must be a list')];
  if (zones.length > MAX_ZONE_HINTS) return [tooMany(fz, zones.length, MAX_ZONE_HINTS)];
  const out: StatusCause[] = [];
  const seen = new Set<string>();
  zones.forEach((z, i) => {
    const zp = child(index(fz, i), 'name');
    const name = isRecord(z) ? (z.name ?? '') : undefined;
    if (typeof name !== 'string') {
      out.push(typeInvalid(zp, name, 'must be a string'));
      return;
    }
    if (seen.has(name)) out.push(duplicate(zp, name));
    else seen.add(name);
    for (const msg of isValidLabelValue(name)) out.push(invalid(zp, name, msg));
  });
  return out;
}

function slicePorts(ports: unknown, path: string): StatusCause[] {
  if (ports === undefined || ports === null) return [];
  if (!Array.isArray(ports)) return [typeInvalid(path, ports, 'must be a list')];
  if (ports.length > MAX_PORTS) return [tooMany(path, ports.length, MAX_PORTS)];
  const out: StatusCause[] = [];
  const names = new Set<string>();
  ports.forEach((p, i) => {
    const pp = index(path, i);
    if (!isRecord(p)) {
      out.push(typeInvalid(pp, p, 'must be an object'));
      return;
    }
    const name = p.name ?? '';
    if (typeof name !== 'string') out.push(typeInvalid(child(pp, 'name'), name, 'must be a string'));
    else {
      if (name.length > 0) out.push(...label(name, child(pp, 'name')));
      // Two unnamed ports collide too: the empty name is a name.
      if (names.has(name)) out.push(duplicate(child(pp, 'name'), name));
      else names.add(name);
    }
    out.push(...protocol(p.protocol, child(pp, 'protocol')));
    if (p.port !== undefined && p.port !== null) {
      if (typeof p.port !== 'number') out.push(typeInvalid(child(pp, 'port'), p.port, 'must be an integer'));
      else for (const msg of isValidPortNum(p.port)) out.push(invalid(child(pp, 'port'), p.port, msg));
    }
    out.push(...appProtocol(p.appProtocol, child(pp, 'appProtocol')));
  });
  return out;
}

/** ValidateEndpointSlice (+Update: addressType immutable, deprecated "IP" tolerated). Metadata is separate. */
export function validateEndpointSlice(slice: unknown, old: unknown, opts: ValidationOptions): StatusCause[] {
  if (!isRecord(slice)) return [];
  const out: StatusCause[] = [];
  const addressType = slice.addressType;
  const valid: readonly string[] =
    old === undefined ? ADDRESS_TYPES : [...ADDRESS_TYPES, ...DEPRECATED_ADDRESS_TYPES];
  if (addressType === undefined || addressType === null || addressType === '')
    out.push(required('addressType'));
  else if (!valid.includes(addressType as string))
    out.push(notSupported('addressType', addressType, [...valid].sort()));
  const endpoints = slice.endpoints;
  if (Array.isArray(endpoints)) {
    if (endpoints.length > MAX_ENDPOINTS) {
      out.push(tooMany('endpoints', endpoints.length, MAX_ENDPOINTS));
    } else
      endpoints.forEach((ep, i) => {
        out.push(...sliceEndpoint(ep, addressType, index('endpoints', i), opts));
      });
  } else if (endpoints !== undefined && endpoints !== null) {
    out.push(typeInvalid('endpoints', endpoints, 'must be a list'));
  }
  out.push(...slicePorts(slice.ports, 'ports'));
  if (isRecord(old) && old.addressType !== addressType) {
    out.push(invalid('addressType', addressType, 'field is immutable'));
  }
  return out;
}

function endpointAddress(addr: unknown, path: string, opts: ValidationOptions): StatusCause[] {
  if (!isRecord(addr)) return [typeInvalid(path, addr, 'must be an object')];
  const out: StatusCause[] = [];
  const ipPath = child(path, 'ip');
  const ip = addr.ip;
  if (typeof ip !== 'string' || !(isIPv4(ip) || isIPv6(ip))) {
    out.push(invalid(ipPath, ip ?? '', 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'));
  }
  if (typeof addr.hostname === 'string' && addr.hostname.length > 0)
    out.push(...label(addr.hostname, child(path, 'hostname')));
  if (typeof addr.nodeName === 'string') {
    for (const msg of isDNS1123Subdomain(addr.nodeName))
      out.push(invalid(child(path, 'nodeName'), addr.nodeName, msg));
  }
  const ipText = typeof ip === 'string' ? ip : '';
  out.push(...nonSpecialIPErrors(ipText, opts).map((msg) => invalid(ipPath, ipText, msg)));
  return out;
}

/** core/v1 Endpoints: validateEndpointSubsets. */
export function validateEndpoints(endpoints: unknown, opts: ValidationOptions): StatusCause[] {
  if (!isRecord(endpoints)) return [];
  const subsets = endpoints.subsets;
  if (subsets === undefined || subsets === null) return [];
  if (!Array.isArray(subsets)) return [typeInvalid('subsets', subsets, 'must be a list')];
  const out: StatusCause[] = [];
  subsets.forEach((ss, i) => {
    const path = index('subsets', i);
    if (!isRecord(ss)) {
      out.push(typeInvalid(path, ss, 'must be an object'));
      return;
    }
    const ready = Array.isArray(ss.addresses) ? ss.addresses : [];
    const notReady = Array.isArray(ss.notReadyAddresses) ? ss.notReadyAddresses : [];
    if (ready.length === 0 && notReady.length === 0) {
      out.push(required(path, 'must specify `addresses` or `notReadyAddresses`'));
    }
    ready.forEach((a, j) => {
      out.push(...endpointAddress(a, index(child(path, 'addresses'), j), opts));
    });
    notReady.forEach((a, j) => {
      out.push(...endpointAddress(a, index(child(path, 'notReadyAddresses'), j), opts));
    });
    const ports = Array.isArray(ss.ports) ? ss.ports : [];
    ports.forEach((p, j) => {
      const pp = index(child(path, 'ports'), j);
      if (!isRecord(p)) {
        out.push(typeInvalid(pp, p, 'must be an object'));
        return;
      }
      if (ports.length > 1 && (p.name === undefined || p.name === '')) out.push(required(child(pp, 'name')));
      else if (typeof p.name === 'string' && p.name !== '') out.push(...label(p.name, child(pp, 'name')));
      const port = typeof p.port === 'number' ? p.port : 0;
      for (const msg of isValidPortNum(port)) out.push(invalid(child(pp, 'port'), port, msg));
      out.push(...protocol(p.protocol, child(pp, 'protocol')));
      out.push(...appProtocol(p.appProtocol, child(pp, 'appProtocol')));
    });
  });
  return out;
}
