/**
 * `<host>:<port>` as the parts agree on it (the `isthmus.dev/remote-gateway` annotation, the
 * gateway's `/probe?gateway=`, log fields): IPv6 literals in brackets (RFC 3986 §3.2.2), so an
 * IPv6-only cluster's addresses read and parse back unambiguously.
 */
import { isIP } from 'node:net';

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
