/**
 * ClusterIP allocation from the service CIDR (kube-apiserver `--service-cluster-ip-range`,
 * default 10.96.0.0/12 as kubeadm/kind set it). The first address is the `kubernetes` Service's;
 * the network and broadcast addresses are never handed out, as in pkg/registry/core/service/ipallocator.
 */
import type { StatusCause } from './field-errors.js';
import { invalid } from './field-errors.js';

function ipToInt(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export class IpAllocator {
  private readonly base: number;
  private readonly size: number;
  private readonly used = new Set<number>();
  private next = 1;

  constructor(readonly cidr: string) {
    const [addr, bits] = cidr.split('/');
    const base = addr === undefined ? undefined : ipToInt(addr);
    const prefix = Number(bits);
    if (base === undefined || !Number.isInteger(prefix) || prefix < 8 || prefix > 30) {
      throw new Error(`invalid service CIDR ${cidr}`);
    }
    this.size = 2 ** (32 - prefix);
    this.base = base - (base % this.size);
  }

  /** The address of the `kubernetes` Service (first in range). */
  firstAddress(): string {
    return intToIp(this.base + 1);
  }

  private outOfRange(ip: string): StatusCause {
    return invalid(
      'spec.clusterIPs',
      [ip],
      `failed to allocate IP ${ip}: provided IP is not in the valid range. The range of valid IPs is ${this.cidr}`,
    );
  }

  /** Reserves a requested address; a cause when it is outside the range or taken. */
  reserve(ip: string): StatusCause | undefined {
    const n = ipToInt(ip);
    if (n === undefined || n <= this.base || n >= this.base + this.size - 1) return this.outOfRange(ip);
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
    for (let i = 0; i < this.size - 2; i++) {
      const off = ((this.next - 1 + i) % (this.size - 2)) + 1;
      if (!this.used.has(this.base + off)) {
        this.used.add(this.base + off);
        this.next = off + 1;
        return intToIp(this.base + off);
      }
    }
    return undefined;
  }

  release(ip: string): void {
    const n = ipToInt(ip);
    if (n !== undefined) this.used.delete(n);
  }
}
