/** IP addresses as bytes, parsed the way Go's net.ParseIP reads them. */
import { isIPv4, isIPv6 } from 'node:net';

/** The 16 bytes of an IPv6 address, or the 4 of an IPv4 one (IPv4-mapped IPv6 folded to IPv4, as Go does). */
export function ipBytes(ip: string): number[] | undefined {
  if (isIPv4(ip)) return ip.split('.').map(Number);
  if (!isIPv6(ip)) return undefined;
  let text = ip.toLowerCase();
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let tail: number[] = [];
  if (v4) {
    tail = v4[1]!.split('.').map(Number);
    text = `${text.slice(0, -v4[1]!.length)}0:0`;
  }
  const [head = '', rest] = text.split('::');
  const groups = (s: string): number[] => (s ? s.split(':').map((g) => Number.parseInt(g, 16)) : []);
  const hi = groups(head);
  const lo = groups(rest ?? '');
  const words = rest === undefined ? hi : [...hi, ...new Array(8 - hi.length - lo.length).fill(0), ...lo];
  const bytes = words.flatMap((w) => [w >> 8, w & 0xff]);
  if (tail.length) bytes.splice(12, 4, ...tail);
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  return mapped ? bytes.slice(12) : bytes;
}
