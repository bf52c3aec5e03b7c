/** Flags shared by the long-running verbs: which cluster, which API server, how to be reached. */

import type { Command } from 'commander';
import { IsthmusError } from '../errors.js';
import { anyAddress } from '../host-port.js';
import type { KubeClient, KubeClientOptions } from '../kube/client.js';
import { DEFAULT_RATE_LIMIT } from '../kube/rate-limiter.js';

/**
 * The `--kubeconfig`/`--context` a command was given, as arguments for the commands its notes
 * print (`isthmus …`, `kubectl …`): pasted as they are, they act on the cluster this one did, not
 * on whatever the current context is.
 */
export function kubeTargetArgs(flags: Pick<KubeFlags, 'kubeconfig' | 'context'>): string[] {
  return [
    ...(flags.kubeconfig ? ['--kubeconfig', flags.kubeconfig] : []),
    ...(flags.context ? ['--context', flags.context] : []),
  ];
}

export interface KubeFlags {
  inCluster?: boolean;
  kubeconfig?: string;
  context?: string;
  /** Client-side rate limit (`--kube-qps`, `--kube-burst`); absent: the KubeClient default. */
  kubeQps?: string;
  kubeBurst?: string;
}

export function addKubeFlags(cmd: Command, opts: { rateLimit?: boolean } = {}): Command {
  cmd
    .option('--in-cluster', "use the pod's service account", false)
    .option(
      '--kubeconfig <path>',
      'kubeconfig file (default: $KUBECONFIG, its files merged as kubectl merges them, else ~/.kube/config)',
    )
    .option('--context <name>', 'kubeconfig context');
  return opts.rateLimit ? addRateLimitFlags(cmd) : cmd;
}

export interface ClusterFlags {
  cluster: string;
}

/**
 * Which cluster this process serves (controller, identity). Each verb declares only the flags it
 * acts on: the gateway and identity add their own --trust-domain, the gateway --cluster-domain.
 */
export function addClusterFlag(cmd: Command): Command {
  return cmd.requiredOption('--cluster <name>', "this cluster's name");
}

/** Client-side QPS/burst, so a controller can be polite to a busy API server (client-go's --kube-api-qps). */
export function addRateLimitFlags(cmd: Command): Command {
  return cmd
    .option(
      '--kube-qps <n>',
      `API requests per second, sustained (default ${DEFAULT_RATE_LIMIT.qps}; 0: no client-side limit)`,
    )
    .option(
      '--kube-burst <n>',
      `API requests allowed in a burst above --kube-qps (default ${DEFAULT_RATE_LIMIT.burst}, or --kube-qps if higher)`,
    );
}

/** The rate limit the flags ask for, or undefined for the KubeClient default (50 qps, burst 100). */
export function rateLimitFromFlags(flags: KubeFlags): KubeClientOptions['rateLimit'] {
  if (flags.kubeQps === undefined && flags.kubeBurst === undefined) return undefined;
  const number = (text: string | undefined, flag: string, fallback: number) => {
    const n = text === undefined ? fallback : Number(text);
    if (!Number.isFinite(n) || n < 0)
      throw new IsthmusError('USAGE', `${flag} must be a number >= 0, got "${text}"`, { terminal: true });
    return n;
  };
  const qps = number(flags.kubeQps, '--kube-qps', DEFAULT_RATE_LIMIT.qps);
  return { qps, burst: number(flags.kubeBurst, '--kube-burst', Math.max(DEFAULT_RATE_LIMIT.burst, qps)) };
}

export async function kubeClientFromFlags(flags: KubeFlags): Promise<KubeClient> {
  const { KubeClient } = await import('../kube/client.js');
  const rateLimit = rateLimitFromFlags(flags);
  const opts = rateLimit ? { rateLimit } : {};
  if (flags.inCluster) return KubeClient.inCluster(opts);
  if (flags.kubeconfig) return KubeClient.fromKubeconfigFile(flags.kubeconfig, flags.context, opts);
  return KubeClient.fromDefault(flags.context, opts);
}

/** `host:port` → parts; `:port` or `port` means all interfaces (IPv4 and IPv6: `anyAddress`). */
export function parseListen(text: string, flag: string): { host: string; port: number } {
  const m = /^(?:(.*):)?(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port > 65535)
    throw new IsthmusError('USAGE', `${flag} must be HOST:PORT, got "${text}"`, { terminal: true });
  const host = (m[1] ?? '').replace(/^\[(.*)\]$/, '$1');
  return { host: host === '' ? anyAddress() : host, port };
}

/** A whole number in [min, max], or a usage error naming the flag. */
export function parseIntegerFlag(text: string, flag: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) {
    throw new IsthmusError('USAGE', `${flag} must be an integer from ${min} to ${max}, got "${text}"`, {
      terminal: true,
    });
  }
  return n;
}

/** `FIRST-LAST`, a range of TCP ports (the egress listeners'). */
export function parsePortRangeFlag(text: string, flag: string): { first: number; last: number } {
  const m = /^(\d{1,5})-(\d{1,5})$/.exec(text.trim());
  const first = Number(m?.[1]);
  const last = Number(m?.[2]);
  if (!m || first < 1 || last > 65535 || first > last) {
    throw new IsthmusError('USAGE', `${flag} must be FIRST-LAST within 1-65535, got "${text}"`, {
      terminal: true,
    });
  }
  return { first, last };
}

/** Go-style durations as the CRDs write them: 24h, 90s, 1h30m, 500ms. */
export function parseDurationFlag(text: string, flag: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * unit[m[2]!]!;
    matched = re.lastIndex;
  }
  if (text === '' || matched !== text.length || total <= 0) {
    throw new IsthmusError('USAGE', `${flag} must be a duration such as 24h or 90s, got "${text}"`, {
      terminal: true,
    });
  }
  return total;
}

/** An http(s) URL (`https://203.0.113.10:6443`), or a usage error naming the flag: `host:port` alone is not one. */
export function parseHttpUrlFlag(text: string, flag: string, example: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.hostname === '') {
    throw new IsthmusError('USAGE', `${flag} must be a URL such as ${example}, got "${text}"`, {
      terminal: true,
    });
  }
  return url;
}
