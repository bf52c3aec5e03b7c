/**
 * `<host>:<port>` as the parts agree on it (the `isthmus.dev/remote-gateway` annotation, the
 * gateway's `/probe?gateway=`, log fields): IPv6 literals in brackets (RFC 3986 §3.2.2), so an
 * IPv6-only cluster's addresses read and parse back unambiguously.
 */
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

export interface HostPort {
  host: string;
  port: number;
}

/** `10.0.0.1:4143`, `[fd00::1]:4143`, `gw.example.com:4143`. */
export function hostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Parses what `hostPort` writes; null for anything else (a bare IPv6 literal is ambiguous). */
export function parseHostPort(value: string): HostPort | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(value.trim());
  if (m === null) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  return { host: (m[1] ?? m[2]) as string, port };
}

/**
 * The address a server listens on when none is given: `::` where this host has IPv6 (a dual-stack
 * socket, which also accepts IPv4 as v4-mapped addresses), else 0.0.0.0. An IPv6-only cluster's
 * pods have no IPv4 address at all, so a listener on 0.0.0.0 would leave the kubelet's probes and
 * every peer unanswered; a kernel without IPv6 refuses `::`.
 */
export function anyAddress(): string {
  const hasIPv6 = Object.values(networkInterfaces()).some((addrs) =>
    (addrs ?? []).some((a) => a.family === 'IPv6'),
  );
  return hasIPv6 ? '::' : '0.0.0.0';
}

/** `10.1.2.3` for the v4-mapped `::ffff:10.1.2.3` a dual-stack socket reports; anything else as is. */
export function unmapped(address: string): string {
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(address) ? address.slice(7) : address;
}
