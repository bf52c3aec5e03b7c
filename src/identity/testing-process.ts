/**
 * The real `isthmus identity` process, for the process tests: cluster east on loopback, every port
 * chosen by the system (the tests read them from its log), its output collected as it comes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { TEST_TRUST_DOMAIN } from './testing.js';

export interface IdentityFiles {
  kubeconfig: string;
  anchor: string;
  cert: string;
  key: string;
}

/** What the process wrote so far, and its exit code once it has exited. */
export interface ProcessLogs {
  out: string;
  err: string;
  exit?: number | null;
}

/** Starts `isthmus identity` on `files` with `flags` added; the caller kills `child` (afterEach). */
export function spawnIdentity(
  files: IdentityFiles,
  ...flags: string[]
): { child: ChildProcess; logs: ProcessLogs } {
  const child = spawn(
    process.execPath,
    [
      'bin/isthmus.mjs',
      'identity',
      '--cluster=east',
      `--trust-domain=${TEST_TRUST_DOMAIN}`,
      `--kubeconfig=${files.kubeconfig}`,
      '--listen=127.0.0.1:0',
      '--health-listen=127.0.0.1:0',
      '--admin-listen=127.0.0.1:0',
      `--issuer-cert=${files.cert}`,
      `--issuer-key=${files.key}`,
      `--trust-anchor=${files.anchor}`,
      ...flags,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const logs: ProcessLogs = { out: '', err: '' };
  child.stdout!.on('data', (d: Buffer) => {
    logs.out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    logs.err += d.toString();
  });
  child.on('exit', (code) => {
    logs.exit = code;
  });
  return { child, logs };
}
