/**
 * `isthmus upgrade --trust-anchor` as a user runs it (the real CLI and kubectl, a strict sandbox):
 * an anchor that keeps none of the installed ones is refused with nothing on stdout, since every
 * other cluster would then refuse this one, unless `--replace-trust-anchor` says it is meant; the
 * rotation's own first step still goes through.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { IsthmusError } from '../../errors.js';
import { startAnchorRotation } from '../../identity/anchor-rotation.js';
import { createTrustAnchor, type KeyPairPem } from '../../identity/ca.js';
import { writeCertificates } from '../../identity/files.js';
import { KubeClient } from '../../kube/client.js';
import { TRUST_ANCHOR_CONFIGMAP } from '../../kube/keys.js';
import type { ResourceRef } from '../../kube/resources.js';
import { type Sandbox, startSandbox } from '../../sandbox/index.js';
import { registerCommands } from '../commands/index.js';
import { runUpgrade } from './run-upgrade.js';

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** `file args` with `input` on stdin; its outcome whether it failed or not (60 s deadline). */
function run(file: string, args: string[], input = ''): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { timeout: 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
    child.stdin!.end(input);
  });
}

const dir = mkdtempSync(join(tmpdir(), 'isthmus-anchor-swap-'));
const kubeconfig = join(dir, 'kubeconfig');
const cert = (...path: string[]) => join(dir, 'certs', ...path);
const isthmus = (...args: string[]) => run(process.execPath, ['bin/isthmus.mjs', ...args]);
const upgrade = (...args: string[]) => isthmus('upgrade', '--kubeconfig', kubeconfig, ...args);
let east: Sandbox;

/** An anchor made `ageDays` ago, valid for `validityDays`: expired when ageDays > validityDays. */
function anchorMadeAgo(ageDays: number, validityDays: number): KeyPairPem {
  vi.useFakeTimers({ toFake: ['Date'] });
  try {
    vi.setSystemTime(Date.now() - ageDays * 86_400_000);
    return createTrustAnchor({ trustDomain: 'cluster.local', keyBits: 2048, validityDays });
  } finally {
    vi.useRealTimers();
  }
}
/** The new anchor and its issuer alone: what skips the rotation's steps. */
const newSet = [
  '--trust-anchor',
  cert('ca.crt'),
  '--issuer-cert',
  cert('east', 'issuer.crt'),
  '--issuer-key',
  cert('east', 'issuer.key'),
];

beforeAll(async () => {
  east = await startSandbox({ name: 'east' });
  writeFileSync(kubeconfig, east.kubeconfig());
  await writeCertificates({ outDir: join(dir, 'certs'), clusters: ['east'], trustDomain: 'cluster.local' });
  const installed = await isthmus(
    'install',
    '--cluster-name',
    'east',
    '--trust-anchor',
    cert('ca.crt'),
    '--issuer-cert',
    cert('east', 'issuer.crt'),
    '--issuer-key',
    cert('east', 'issuer.key'),
  );
  expect(installed.code, installed.stderr).toBe(0);
  const applied = await run('kubectl', ['--kubeconfig', kubeconfig, 'apply', '-f', '-'], installed.stdout);
  expect(applied.code, applied.stderr).toBe(0);
  // certs/ca.crt and certs/east/ are the new anchor's now; the old set is in certs/previous/.
  await startAnchorRotation({ dir: join(dir, 'certs') });
});

afterAll(async () => {
  await east?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('isthmus upgrade --trust-anchor', () => {
  it('refuses a new anchor that skips the rotation steps, takes it with --replace-trust-anchor, and takes step 1', async () => {
    // Each only reads the cluster: side by side (each is a CLI process, most of it start-up).
    const [swap, replaced, step1, help] = await Promise.all([
      upgrade(...newSet),
      upgrade(...newSet, '--replace-trust-anchor'),
      upgrade(
        '--trust-anchor',
        cert('ca-bundle.crt'),
        '--issuer-cert',
        cert('previous', 'east', 'issuer.crt'),
        '--issuer-key',
        cert('previous', 'east', 'issuer.key'),
      ),
      isthmus('upgrade', '--help'),
    ]);
    expect(swap).toMatchObject({ code: 1, stdout: '' });
    expect(swap.stderr).toMatch(
      /--trust-anchor \S+ca\.crt \(serial [0-9A-F]+\) keeps none of the trust anchors installed in this cluster .*"Rotating the trust anchor".*add --replace-trust-anchor/,
    );
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(replaced.stdout).toContain('name: isthmus-trust-anchor');
    expect(replaced.stderr).toMatch(/^note: --replace-trust-anchor: the trust anchor is replaced outright/m);
    // Gateways read --ca-file only at start: the restart is said once, with upgrade's kubectl flags.
    const restart = `once this is applied, run kubectl --kubeconfig ${kubeconfig} -n isthmus-system rollout restart deployment/isthmus-gateway`;
    expect(replaced.stderr.split(restart)).toHaveLength(2);
    expect(step1.code, step1.stderr).toBe(0);
    expect(step1.stderr).not.toMatch(/replace-trust-anchor/);
    expect(step1.stderr).toMatch(
      /^note: the trust anchor changes: .*gateways read the trust anchor only at start/m,
    );
    expect(step1.stderr.split(restart)).toHaveLength(2);
    expect(help.stdout.replace(/\s+/g, ' ')).toMatch(
      /--replace-trust-anchor let --trust-anchor replace the installed anchor outright, .* \(README, "Rotating the trust anchor"\)/,
    );
  });

  it('warns of an expired anchor in the bundle it is given, and of none in the one installed', async () => {
    const expired = anchorMadeAgo(11, 10);
    const bundleFile = join(dir, 'expired-bundle.crt');
    writeFileSync(bundleFile, readFileSync(cert('ca-bundle.crt'), 'utf8') + expired.certPem);
    const [given, installed] = await Promise.all([
      upgrade(
        '--trust-anchor',
        bundleFile,
        '--issuer-cert',
        cert('previous', 'east', 'issuer.crt'),
        '--issuer-key',
        cert('previous', 'east', 'issuer.key'),
      ),
      upgrade(),
    ]);
    expect(given.code, given.stderr).toBe(0);
    expect(given.stderr).toMatch(
      new RegExp(`^warning: ${bundleFile}: anchor #3 of the bundle: expired at .*new-anchor --finish`, 'm'),
    );
    expect(installed.code, installed.stderr).toBe(0);
    expect(installed.stderr).not.toMatch(/^warning:/m);
  });

  it('refuses when the installed anchor cannot be read, instead of taking that for nothing installed', async () => {
    const program = new Command('isthmus').exitOverride();
    registerCommands(program);
    const upgradeCmd = program.commands.find((c) => c.name() === 'upgrade')!;
    upgradeCmd.action(() => {});
    program.parse(['upgrade', ...newSet], { from: 'user' });
    const client = KubeClient.fromKubeconfigString(east.kubeconfig());
    // As a user without `get configmaps` there, or an API server timing out.
    const denied = Object.create(client) as KubeClient;
    denied.get = (async (res: ResourceRef, ns: string | undefined, name: string) => {
      if (res.plural === 'configmaps' && name === TRUST_ANCHOR_CONFIGMAP)
        throw new IsthmusError('KUBE_FORBIDDEN', 'configmaps "isthmus-trust-anchor" is forbidden');
      return client.get(res, ns, name);
    }) as KubeClient['get'];
    try {
      const err = await runUpgrade(denied, upgradeCmd, []).catch((e: unknown) => e);
      expect(String(err)).toMatch(
        /cannot read the installed trust anchor \(ConfigMap isthmus-system\/isthmus-trust-anchor: .*forbidden.*\) to check that --trust-anchor keeps it/,
      );
      // Told to swap outright, it does not need the old one.
      const swapped = await runUpgrade(denied, upgradeCmd, [], { replaceTrustAnchor: true });
      expect(swapped.options.trustAnchorPem).toBe(readFileSync(cert('ca.crt'), 'utf8'));
    } finally {
      client.close();
    }
  });
});
