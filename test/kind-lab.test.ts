/**
 * The kind lab cannot run here (no Docker engine), so it is kept correct by reading: syntax,
 * shellcheck, the exact commands of a dry run, and the example manifests rendered by kubectl's
 * own kustomize.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

const run = promisify(execFile);
const SCRIPTS = ['lib.sh', 'up.sh', 'down.sh', 'verify.sh'].map((s) => `scripts/kind/${s}`);

async function dryRun(script: string): Promise<string> {
  const { stdout } = await run('bash', [`scripts/kind/${script}`, '--dry-run'], { timeout: 30_000 });
  return stdout;
}

describe('kind lab scripts', () => {
  it.each(SCRIPTS)('%s parses (bash -n)', async (script) => {
    await expect(run('bash', ['-n', script], { timeout: 10_000 })).resolves.toBeDefined();
  });

  it('pass shellcheck', async () => {
    const result = await run(
      'shellcheck',
      [
        '-x',
        ...SCRIPTS,
        'scripts/ensure-test-tools.sh',
        'scripts/test-node-versions.sh',
        'scripts/fetch-node.sh',
      ],
      {
        timeout: 30_000,
      },
    ).catch((err: { stdout: string }) => ({ stdout: err.stdout, failed: true }));
    expect(result.stdout).toBe('');
  });

  it('up --dry-run creates both clusters with non-overlapping CIDRs, installs, links both ways, deploys podinfo', async () => {
    const out = await dryRun('up.sh');
    expect(out).toContain('kind create cluster --name east');
    expect(out).toContain('kind create cluster --name west');
    expect(out).toMatch(/podSubnet: 10\.240\.0\.0\/16[\s\S]*podSubnet: 10\.241\.0\.0\/16/);
    expect(out).toMatch(/serviceSubnet: 10\.250\.0\.0\/16[\s\S]*serviceSubnet: 10\.251\.0\.0\/16/);
    // A separate MetalLB pool per cluster.
    expect(out).toMatch(/172\.18\.255\.200-172\.18\.255\.219[\s\S]*172\.18\.255\.220-172\.18\.255\.239/);
    expect(out).toMatch(/docker build -t isthmus:dev/);
    expect(out).toMatch(/kind load docker-image isthmus:dev --name east/);
    expect(out).toMatch(/install --cluster-name east .*\| kubectl --context kind-east apply -f -/s);
    expect(out).toMatch(
      /allow --context kind-west --service-account-name east-reader \| kubectl --context kind-west apply -f -\n.*secret\/east-reader-token.*\n[^\n]*link --context kind-west --cluster-name west .*--service-account-name east-reader .*\| kubectl --context kind-east apply -f -/s,
    );
    expect(out).toMatch(
      /link --context kind-east --cluster-name east .*\| kubectl --context kind-west apply -f -/s,
    );
    expect(out).toMatch(
      /bin\/isthmus\.mjs check --pre --context kind-east\n[\s\S]*install --cluster-name east/,
    );
    expect(out).toContain('apply -k');
    expect(out).toContain('examples/podinfo/overlays/west');
    // A flat pod network for remote discovery: each node routes the other cluster's pod CIDR.
    expect(out).toMatch(/docker exec east-control-plane ip route replace 10\.241\.0\.0\/16 via /);
    expect(out).toMatch(/docker exec west-control-plane ip route replace 10\.240\.0\.0\/16 via /);
  });

  it('verify --dry-run scales east podinfo to zero and waits for Fallback, then back to Primary', async () => {
    const out = await dryRun('verify.sh');
    expect(out).toMatch(/bin\/isthmus\.mjs gateways --context kind-east \| grep -E '\^west \+True'/);
    expect(out).toMatch(
      /scale deployment\/podinfo --replicas=0[\s\S]*=Fallback[\s\S]*--replicas=1[\s\S]*=Primary/,
    );
    expect(out).toContain('curl -sf http://podinfo-direct-west:9898/ | grep -q west');
  });

  it('down --dry-run deletes both clusters', async () => {
    const out = await dryRun('down.sh');
    expect(out).toContain('kind delete cluster --name east');
    expect(out).toContain('kind delete cluster --name west');
  });

  it.each(['up.sh', 'down.sh', 'verify.sh'])('%s --help prints its usage, not the script', async (script) => {
    const { stdout } = await run('bash', [`scripts/kind/${script}`, '--help'], { timeout: 10_000 });
    expect(stdout).toContain(`Usage: scripts/kind/${script} [--dry-run]`);
    expect(stdout).not.toMatch(/source|shellcheck|parse_common_flags|require /);
  });

  it('rejects unknown arguments', async () => {
    await expect(run('bash', ['scripts/kind/up.sh', '--bogus'], { timeout: 10_000 })).rejects.toMatchObject({
      code: 2,
    });
  });
});

describe('examples/podinfo', () => {
  async function render(overlay: string) {
    const { stdout } = await run('kubectl', ['kustomize', `examples/podinfo/overlays/${overlay}`], {
      timeout: 30_000,
    });
    return parseAllDocuments(stdout).map(
      (d) => d.toJS() as { kind: string; metadata: { name: string; labels?: Record<string, string> } },
    );
  }

  it('exports podinfo from west', async () => {
    const svc = (await render('west')).find((o) => o.kind === 'Service' && o.metadata.name === 'podinfo');
    expect(svc?.metadata.labels?.['mirror.linkerd.io/exported']).toBe('true');
  });

  it('exports podinfo-direct from west in remote-discovery mode, selecting the same pods', async () => {
    const svc = (await render('west')).find(
      (o) => o.kind === 'Service' && o.metadata.name === 'podinfo-direct',
    ) as { metadata: { labels?: Record<string, string> }; spec: { selector: unknown } } | undefined;
    expect(svc?.metadata.labels?.['mirror.linkerd.io/exported']).toBe('remote-discovery');
    expect(svc?.spec.selector).toEqual({ app: 'podinfo' });
    expect((await render('east')).some((o) => o.metadata.name === 'podinfo-direct')).toBe(false);
  });

  it('makes podinfo a federation member in both clusters', async () => {
    for (const overlay of ['east', 'west']) {
      const svc = (await render(overlay)).find((o) => o.kind === 'Service' && o.metadata.name === 'podinfo');
      expect(svc?.metadata.labels?.['mirror.linkerd.io/federated']).toBe('member');
    }
  });

  it('puts a linkerd-failover TrafficSplit in east', async () => {
    const split = (await render('east')).find((o) => o.kind === 'TrafficSplit') as
      | { metadata: { labels: Record<string, string> }; spec: { backends: { service: string }[] } }
      | undefined;
    expect(split?.metadata.labels['failover.linkerd.io/controlled-by']).toBe('linkerd-failover');
    expect(split?.spec.backends.map((b) => b.service)).toEqual(['podinfo', 'podinfo-west']);
  });
});

describe('isthmus lab down and status where Docker and kind work', () => {
  it('act on the local lab running from --dir (started with --local), not on the kind clusters', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'isthmus-lab-mode-'));
    // A stand-in for the `lab up --local` process, and kind and docker that work (and log their calls).
    const labProcess = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const exited = new Promise((r) => labProcess.once('exit', r));
    try {
      const bin = join(tmp, 'bin');
      const calls = join(tmp, 'calls.log');
      mkdirSync(bin);
      for (const tool of ['kind', 'docker']) {
        writeFileSync(join(bin, tool), `#!/bin/sh\necho "${tool} $*" >> "${calls}"\n`, { mode: 0o755 });
      }
      writeFileSync(calls, '');
      const dir = join(tmp, 'lab');
      mkdirSync(dir);
      const nowhere = 'http://127.0.0.1:1';
      const state = {
        pid: labProcess.pid,
        kubeconfig: join(dir, 'kubeconfig'),
        clusters: [{ name: 'east', api: nowhere, gatewayAdmin: nowhere, controllerAdmin: nowhere }],
        frontend: nowhere,
        processes: {},
      };
      writeFileSync(join(dir, 'state.json'), JSON.stringify(state));
      // LAB_DIR: where down.sh would `rm -rf`, kept inside the test's directory.
      const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, LAB_DIR: join(tmp, 'kind') };
      const lab = (verb: string) =>
        run(process.execPath, ['bin/isthmus.mjs', 'lab', verb, '--dir', dir], { env, timeout: 60_000 }).catch(
          (err: { stdout: string }) => ({ stdout: err.stdout }),
        );

      expect((await lab('status')).stdout).toContain(`lab running (pid ${labProcess.pid})`);
      expect((await lab('down')).stdout).toBe('lab stopped\n');
      await exited;
      expect(readFileSync(calls, 'utf8')).not.toContain('kind delete');
    } finally {
      labProcess.kill('SIGKILL');
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 90_000);
});
