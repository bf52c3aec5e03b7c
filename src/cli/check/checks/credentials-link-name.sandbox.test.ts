/**
 * `isthmus check`'s re-link command for a Link whose name is not its cluster's (a Link `southx`
 * with `targetClusterName: south`): `isthmus link` names what it prints after the cluster, so the
 * command must take the cluster's name, and must not apply a second Link for the same cluster
 * (the controller would reject one of the two). The command the hint gives is run as given, with the
 * real kubectl and what `isthmus link` prints, against a sandbox.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../../kube/client.js';
import { credentialsRoleName } from '../../../kube/keys.js';
import { R } from '../../../kube/resources.js';
import type { KubeObject, Link } from '../../../kube/types.js';
import { type Sandbox, startSandbox } from '../../../sandbox/index.js';
import { applyObjects } from '../../lab/apply-objects.js';
import { renderLink } from '../../link/render.js';
import { healthyFacts, link, linkFacts } from '../test-builders.js';
import type { CheckFacts } from '../types.js';
import { checkCredentials } from './credentials.js';

let sandbox: Sandbox;
let admin: KubeClient;
let dir: string;
let kubeconfig: string;

beforeAll(async () => {
  sandbox = await startSandbox({ name: 'east' });
  admin = KubeClient.fromKubeconfigString(sandbox.kubeconfig());
  dir = mkdtempSync(join(tmpdir(), 'check-relink-'));
  kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, sandbox.kubeconfig());
  await applyObjects(admin, [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'isthmus-system' } },
  ] as KubeObject[]);
}, 30_000);

afterAll(async () => {
  await admin?.close();
  await sandbox?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The Link `name` for cluster `cluster`, its credentials Secret missing: the hint `isthmus check` gives. */
function missingSecretHint(name: string, cluster: string, secret = `cluster-credentials-${cluster}`): string {
  const l = link(cluster, { spec: { clusterCredentialsSecret: secret } });
  l.metadata!.name = name;
  // The credentials check reads no certificate.
  const f: CheckFacts = healthyFacts({ anchorPem: '', issuerPem: '', westChain: [] });
  f.links = {
    ok: true,
    value: [linkFacts(l, [], { remote: { ok: false, kind: 'secret-missing', message: 'not found' } })],
  };
  const r = checkCredentials(f);
  expect(r.status).toBe('fail');
  expect(r.hints).toHaveLength(1);
  return r.hints[0]!;
}

/** The commands between backticks, after `isthmus link …` has been replaced by what it prints. */
function commandsOf(hint: string): string[] {
  return [...hint.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
}

/** Runs `kubectl <args>` (the kubeconfig added) with `stdin`. */
function kubectl(args: string[], stdin = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

/** The shell words of a command of the hint (single-quoted arguments kept whole). */
function words(command: string): string[] {
  return [...command.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

/** What `isthmus link --context <south> --cluster-name <cluster>` prints (facts as the remote gives them). */
function isthmusLinkOutput(cluster: string): string {
  return renderLink({
    clusterName: cluster,
    trustDomain: 'cluster.local',
    clusterDomain: 'cluster.local',
    apiServer: 'https://127.0.0.1:6443',
    token: 'a-token',
    gateway: { addresses: ['10.0.0.7'], port: 4143 },
  });
}

/** Runs the hint's commands: `isthmus link … | kubectl …` with link's output piped, then any kubectl one. */
async function runHint(hint: string, cluster: string): Promise<void> {
  for (const command of commandsOf(hint)) {
    const [left, right] = command.split(' | ');
    if (right !== undefined) {
      expect(left).toMatch(new RegExp(`^isthmus link --context <${cluster}> --cluster-name ${cluster} `));
      const argv = words(right);
      expect(argv[0]).toBe('kubectl');
      const r = await kubectl(argv.slice(1), isthmusLinkOutput(cluster));
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    } else if (command.startsWith('kubectl ')) {
      const r = await kubectl(words(command).slice(1));
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
  }
}

describe('the re-link command of a Link named apart from its cluster', () => {
  it('names the cluster, not the label, and applies no second Link', async () => {
    await applyObjects(admin, [link('south', {}) as unknown as KubeObject].map(renamed('southx')));
    const hint = missingSecretHint('southx', 'south');
    expect(hint).toMatch(
      /^Link southx \(cluster south\): credentials Secret isthmus-system\/cluster-credentials-south does not exist; /,
    );
    expect(hint).not.toContain('(cluster south)>');
    expect(hint).not.toContain('--cluster-name southx');
    expect(hint).toContain('isthmus link --context <south> --cluster-name south ');

    await runHint(hint, 'south');
    expect(await admin.get(R.secrets, 'isthmus-system', 'cluster-credentials-south')).toBeDefined();
    expect(await admin.get(R.roles, 'isthmus-system', credentialsRoleName('south'))).toBeDefined();
    // No Link `south` beside `southx`: the controller would reject one of the two.
    expect(await admin.get<Link>(R.links, 'isthmus-system', 'south')).toBeUndefined();
    const southx = await admin.get<Link>(R.links, 'isthmus-system', 'southx');
    expect(southx?.spec.clusterCredentialsSecret).toBe('cluster-credentials-south');
  }, 60_000);

  it('a Link whose Secret has another name is pointed at the new one', async () => {
    await applyObjects(
      admin,
      [link('north', { spec: { clusterCredentialsSecret: 'creds-of-north' } }) as unknown as KubeObject].map(
        renamed('northx'),
      ),
    );
    const hint = missingSecretHint('northx', 'north', 'creds-of-north');
    await runHint(hint, 'north');
    expect(await admin.get(R.secrets, 'isthmus-system', 'cluster-credentials-north')).toBeDefined();
    expect(await admin.get<Link>(R.links, 'isthmus-system', 'north')).toBeUndefined();
    const northx = await admin.get<Link>(R.links, 'isthmus-system', 'northx');
    expect(northx?.spec.clusterCredentialsSecret).toBe('cluster-credentials-north');
  }, 60_000);

  it('a Link named as its cluster keeps the plain command', () => {
    const hint = missingSecretHint('west', 'west');
    expect(commandsOf(hint)[0]).toBe(
      "isthmus link --context <west> --cluster-name west <the Link's other flags> | kubectl apply -f -",
    );
  });
});

/** The object with metadata.name `name`, without the status a client does not write. */
function renamed(name: string) {
  return (o: KubeObject): KubeObject => {
    const { status: _status, ...rest } = o as KubeObject & { status?: unknown };
    return { ...rest, metadata: { ...o.metadata, name } } as KubeObject;
  };
}
