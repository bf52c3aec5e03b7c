/**
 * The external tools the gateway bench drives, installed from Debian when missing
 * (`apt-get update` once, then one `apt-get install`), and their versions for the report.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg as loadavgOf } from 'node:os';

interface Tool {
  binary: string;
  /** Debian packages, first available wins (nginx-light is gone from newer releases). */
  packages: string[];
  version: string[];
}

const TOOLS: Tool[] = [
  { binary: 'haproxy', packages: ['haproxy'], version: ['-v'] },
  { binary: 'nginx', packages: ['nginx-light', 'nginx'], version: ['-v'] },
  { binary: 'wrk', packages: ['wrk'], version: ['--version'] },
  { binary: 'h2load', packages: ['nghttp2-client'], version: ['--version'] },
];

const SEARCH_PATH = ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin'];

export function which(binary: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), ...SEARCH_PATH];
  return dirs.map((d) => `${d}/${binary}`).find((p) => existsSync(p));
}

function aptHasPackage(name: string): boolean {
  try {
    return execFileSync('apt-cache', ['show', name], { stdio: ['ignore', 'pipe', 'ignore'] }).length > 0;
  } catch {
    return false;
  }
}

/** Installs whatever is missing; returns the packages installed (empty when all were present). */
export function ensureTools(log: (line: string) => void): string[] {
  const missing = TOOLS.filter((t) => which(t.binary) === undefined);
  if (missing.length === 0) return [];
  log(`missing: ${missing.map((t) => t.binary).join(', ')} — apt-get update`);
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', timeout: 300_000 });
  const packages = missing.map((t) => t.packages.find(aptHasPackage) ?? t.packages[0]!);
  log(`apt-get install -y ${packages.join(' ')}`);
  execFileSync('apt-get', ['install', '-y', '-qq', ...packages], {
    stdio: 'inherit',
    timeout: 600_000,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  const still = TOOLS.filter((t) => which(t.binary) === undefined).map((t) => t.binary);
  if (still.length > 0) throw new Error(`still missing after apt-get install: ${still.join(', ')}`);
  return packages;
}

/** First line of each tool's version output, e.g. `HAProxy version 2.6.12-1+deb12u4 …`. */
export function toolVersions(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of TOOLS) {
    // nginx -v prints to stderr; wrk --version prints to stdout and exits 1: read both, ignore status.
    const r = spawnSync(which(t.binary) ?? t.binary, t.version, { encoding: 'utf8', timeout: 5_000 });
    out[t.binary] = firstLine(`${r.stdout ?? ''}\n${r.stderr ?? ''}`);
  }
  return out;
}

function firstLine(text: string): string {
  return (text.split('\n').find((l) => l.trim() !== '') ?? '').trim().replace(/\s+Copyright.*$/, '');
}

export function machine(): { nproc: number; cpu: string; node: string; loadavg: string } {
  // The load average says how much else was running: on a shared machine it colours every number.
  const loadavg = loadavgOf()
    .map((n) => n.toFixed(1))
    .join(' / ');
  return { nproc: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version, loadavg };
}
