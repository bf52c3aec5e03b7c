/**
 * ClusterIP allocation from one service CIDR (kube-apiserver `--service-cluster-ip-range`; kubeadm
 * and kind default to 10.96.0.0/12, and a dual-stack cluster has one CIDR per family). The first
 * address is the `kubernetes` Service's. The network address is never handed out, nor the
 * broadcast address of an IPv4 range, as in pkg/registry/core/service/ipallocator.
 */
import type { StatusCause } from '../kube/validation/field-errors.js';
import { invalid } from '../kube/validation/field-errors.js';
import { ipBytes } from '../kube/validation/ip-bytes.js';

export type IPFamily = 'IPv4' | 'IPv6';

/** kube-apiserver refuses larger service ranges: at most 2^20 addresses for IPv6 (a /108). */
const LIMITS: Record<IPFamily, { bits: number; minPrefix: number; maxPrefix: number }> = {
  IPv4: { bits: 32, minPrefix: 8, maxPrefix: 30 },
  IPv6: { bits: 128, minPrefix: 108, maxPrefix: 126 },
};

function toBigInt(bytes: number[]): bigint {
  return bytes.reduce((n, b) => (n << 8n) | BigInt(b), 0n);
}

/** An address of `family` as text, IPv6 in its canonical compressed form (RFC 5952). */
function format(n: bigint, family: IPFamily): string {
  if (family === 'IPv4') return [24n, 16n, 8n, 0n].map((s) => Number((n >> s) & 255n)).join('.');
  const groups = [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((s) => ((n >> s) & 0xffffn).toString(16));
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

/** The family of an IP literal, or undefined when it is none. */
export function familyOf(ip: string): IPFamily | undefined {
  const bytes = ipBytes(ip);
  return bytes === undefined ? undefined : bytes.length === 4 ? 'IPv4' : 'IPv6';
}

export class IpAllocator {
  readonly family: IPFamily;
  private readonly base: bigint;
  /** Addresses that may be handed out: base+1 … base+usable. */
  private readonly usable: number;
  private readonly used = new Set<bigint>();
  private next = 1;

  constructor(readonly cidr: string) {
    const [addr = '', bits] = cidr.split('/');
    const bytes = ipBytes(addr);
    const family = familyOf(addr);
    const prefix = Number(bits);
    const limits = family ? LIMITS[family] : undefined;
    if (!bytes || !family || !limits || !Number.isInteger(prefix)) {
      throw new Error(`invalid service CIDR ${cidr}`);
    }
    if (prefix < limits.minPrefix || prefix > limits.maxPrefix) {
      throw new Error(
        `service CIDR ${cidr}: the prefix must be /${limits.minPrefix} to /${limits.maxPrefix}`,
      );
    }
    this.family = family;
    const hostBits = BigInt(limits.bits - prefix);
    this.base = (toBigInt(bytes) >> hostBits) << hostBits;
    this.usable = 2 ** Number(hostBits) - (family === 'IPv4' ? 2 : 1);
  }

  /** The address of the `kubernetes` Service (first in range). */
  firstAddress(): string {
    return format(this.base + 1n, this.family);
  }

  private offsetOf(ip: string): number | undefined {
    const bytes = ipBytes(ip);
    if (!bytes || familyOf(ip) !== this.family) return undefined;
    const off = toBigInt(bytes) - this.base;
    return off >= 1n && off <= BigInt(this.usable) ? Number(off) : undefined;
  }

  /** Reserves a requested address; a cause when it is outside the range or taken. */
  reserve(ip: string): StatusCause | undefined {
    const off = this.offsetOf(ip);
    if (off === undefined) {
      return invalid(
        'spec.clusterIPs',
        [ip],
        `failed to allocate IP ${ip}: provided IP is not in the valid range. The range of valid IPs is ${this.cidr}`,
      );
    }
    const n = this.base + BigInt(off);
    if (this.used.has(n)) {
      return invalid(
        'spec.clusterIPs',
        [ip],
        `failed to allocate IP ${ip}: provided IP is already allocated`,
      );
    }
    this.used.add(n);
    return undefined;
  }

  allocate(): string | undefined {
    for (let i = 0; i < this.usable; i++) {
      const off = ((this.next - 1 + i) % this.usable) + 1;
      const n = this.base + BigInt(off);
      if (!this.used.has(n)) {
        this.used.add(n);
        this.next = off + 1;
        return format(n, this.family);
      }
    }
    return undefined;
  }

  release(ip: string): void {
    const off = this.offsetOf(ip);
    if (off !== undefined) this.used.delete(this.base + BigInt(off));
  }
}
