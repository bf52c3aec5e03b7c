/**
 * IPv6 forms that carry an IPv4 address (security review, finding 9): the NAT64 well-known prefix
 * (RFC 6052, 64:ff9b::/96), which a NAT64 gateway translates to that IPv4 address, and the
 * deprecated IPv4-compatible form (RFC 4291 §2.5.5.1, ::/96). Each is refused for the reason its
 * IPv4 address is, whichever list holds it (the always-refused ones and the API server's).
 */
import { BlockList } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  API_SERVER_REFUSAL,
  dialRefusal,
  ExactAddresses,
  MIRROR_CLUSTER_IP_REFUSAL,
} from './dial-refusal.js';
import { ipKey } from './pod-ips.js';

const apiServer = new BlockList();
apiServer.addAddress('172.18.0.3', 'ipv4');
apiServer.addAddress('10.96.0.1', 'ipv4');

describe('dialRefusal: IPv4 addresses embedded in IPv6', () => {
  it.each<[string, string, RegExp | string | null]>([
    // IMDS, 169.254.169.254
    ['IMDS, NAT64 (hex)', '64:ff9b::a9fe:a9fe', /link-local.*NAT64/],
    ['IMDS, NAT64 (dotted)', '64:ff9b::169.254.169.254', /link-local.*NAT64/],
    ['IMDS, NAT64, upper case and spelt out', '0064:FF9B:0:0:0:0:A9FE:A9FE', /link-local.*NAT64/],
    ['IMDS, IPv4-compatible (hex)', '::a9fe:a9fe', /link-local.*IPv4-compatible/],
    ['IMDS, IPv4-compatible (dotted)', '::169.254.169.254', /link-local.*IPv4-compatible/],
    ['IMDS, IPv4-compatible, spelt out', '0:0:0:0:0:0:a9fe:a9fe', /link-local.*IPv4-compatible/],
    ['IMDS, NAT64, with a zone', '64:ff9b::a9fe:a9fe%eth0', /link-local/],
    ['the rest of 169.254.0.0/16, NAT64', '64:ff9b::a9fe:1', /link-local/],
    // Every other IPv4 entry of the always-refused lists
    ['Alibaba metadata, NAT64', '64:ff9b::6464:64c8', /metadata/],
    ['Alibaba metadata, IPv4-compatible', '::100.100.100.200', /metadata/],
    ['Azure WireServer, NAT64', '64:ff9b::a83f:8110', /metadata/],
    ['Azure WireServer, IPv4-compatible', '::168.63.129.16', /metadata/],
    ['0.0.0.0/8, NAT64', '64:ff9b::', /unspecified/],
    ['0.0.0.0/8, NAT64 (dotted)', '64:ff9b::0.1.2.3', /unspecified/],
    // The API server's IPv4 addresses (ClusterIP, slices) too
    ['the API server, NAT64', '64:ff9b::ac12:3', API_SERVER_REFUSAL],
    ['the kubernetes ClusterIP, IPv4-compatible', '::10.96.0.1', API_SERVER_REFUSAL],
    // Still dialled: pods, loopback (by design, as before), other prefixes
    ['a pod, NAT64', '64:ff9b::a00:107', null],
    ['a pod, IPv4-compatible', '::10.244.1.7', null],
    ['IPv6 loopback (not an IPv4-compatible address)', '::1', null],
    ['a pod next to the NAT64 prefix (64:ff9b:0:0:0:1::/96)', '64:ff9b::1:a9fe:a9fe', null],
    ['an IPv6 pod', 'fd00:10:244::a9fe:a9fe', null],
    // Unchanged
    ['IPv6 unspecified', '::', /unspecified/],
    ['IMDS IPv4-mapped', '::ffff:169.254.169.254', /link-local/],
    ['IMDS IPv4-mapped (hex)', '::ffff:a9fe:a9fe', /link-local/],
  ])('%s (%s)', (_what, address, reason) => {
    const got = dialRefusal(address, { apiServer });
    if (reason === null) expect(got).toBeNull();
    else if (typeof reason === 'string') expect(got).toContain(reason);
    else expect(got).toMatch(reason);
  });
});

describe("dialRefusal: this cluster's mirror ClusterIPs (ExactAddresses)", () => {
  const loopClusterIPs = new ExactAddresses(
    new Map([
      ['10.96.14.3', MIRROR_CLUSTER_IP_REFUSAL],
      [ipKey('fd00:10:96::e03'), MIRROR_CLUSTER_IP_REFUSAL],
    ]),
  );
  it.each<[string, string, string | null]>([
    ['the ClusterIP', '10.96.14.3', MIRROR_CLUSTER_IP_REFUSAL],
    ['IPv4-mapped', '::ffff:10.96.14.3', MIRROR_CLUSTER_IP_REFUSAL],
    [
      'NAT64',
      '64:ff9b::a60:e03',
      `${MIRROR_CLUSTER_IP_REFUSAL}: 10.96.14.3 embedded in a NAT64 address (64:ff9b::/96)`,
    ],
    ['IPv4-compatible', '::10.96.14.3', MIRROR_CLUSTER_IP_REFUSAL],
    ['the IPv6 ClusterIP, spelt otherwise', 'FD00:10:96:0:0::E03', MIRROR_CLUSTER_IP_REFUSAL],
    ['the IPv6 ClusterIP with a zone', 'fd00:10:96::e03%eth0', MIRROR_CLUSTER_IP_REFUSAL],
    ['the next ClusterIP', '10.96.14.4', null],
    ['the API server first', '10.96.0.1', API_SERVER_REFUSAL],
  ])('%s (%s)', (_what, address, reason) => {
    const got = dialRefusal(address, { apiServer, loopClusterIPs });
    if (reason === null) expect(got).toBeNull();
    else expect(got).toContain(reason);
  });
});
