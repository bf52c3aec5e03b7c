/**
 * The kind lab cannot run here (no Docker engine), so it is kept correct by reading: syntax,
 * shellcheck, the exact commands of a dry run, and the example manifests rendered by kubectl's
 * own kustomize.
 */

import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ACTIVE_WEIGHT } from '../src/failover/decide-weights.js';
import { VERSION } from '../src/version.js';

const run = promisify(execFile);
const SCRIPTS = ['lib.sh', 'up.sh', 'down.sh', 'verify.sh'].map((s) => `scripts/kind/${s}`);

async function dryRun(script: string, env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await run('bash', [`scripts/kind/${script}`, '--dry-run'], {
    timeout: 30_000,
    env: { ...process.env, ...env },
  });
  return stdout;
}

/** Runs `body` in bash after sourcing lib.sh; resolves with its exit code and output. */
async function withLib(body: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return run('bash', ['-c', `source scripts/kind/lib.sh\n${body}`], { timeout: 10_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (err: { code: number; stdout: string; stderr: string }) => ({
      code: err.code,
      stdout: err.stdout,
      stderr: err.stderr,
    }),
  );
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
    ).catch((err: { stdout: string; stderr: string; code: unknown }) => ({ ...err, failed: true }));
    // Its exit status too: a missing or unreadable script exits 2 with nothing on stdout.
    expect(result).toEqual(expect.objectContaining({ stdout: '', stderr: '' }));
    expect(result).not.toHaveProperty('failed');
  });

  it('up --dry-run creates both clusters with non-overlapping CIDRs, installs, links both ways, deploys podinfo', async () => {
    const out = await dryRun('up.sh');
    expect(out).toContain('kind create cluster --name east');
    expect(out).toContain('kind create cluster --name west');
    expect(out).toMatch(/podSubnet: 10\.240\.0\.0\/16[\s\S]*podSubnet: 10\.241\.0\.0\/16/);
    expect(out).toMatch(/serviceSubnet: 10\.250\.0\.0\/16[\s\S]*serviceSubnet: 10\.251\.0\.0\/16/);
    // A separate MetalLB pool per cluster.
    expect(out).toMatch(/172\.18\.255\.200-172\.18\.255\.219[\s\S]*172\.18\.255\.220-172\.18\.255\.239/);
    expect(out).toMatch(new RegExp(`docker build -t isthmus:${VERSION}`));
    expect(out).toMatch(/kind load image-archive \S+ --name east/);
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

  it('up --dry-run lets MetalLB announce from the one kind node, and waits for MetalLB before its pool', async () => {
    const out = await dryRun('up.sh');
    for (const c of ['east', 'west']) {
      // kubeadm's exclude-from-external-load-balancers label on the control-plane node: MetalLB
      // v0.14+ announces nothing from it, so the gateway's address would answer no ARP.
      const unlabel = out.indexOf(
        `kubectl --context kind-${c} label nodes --all node.kubernetes.io/exclude-from-external-load-balancers-`,
      );
      const metallb = out.indexOf(
        `kubectl --context kind-${c} apply -f https://raw.githubusercontent.com/metallb`,
      );
      const speaker = out.indexOf(
        `kubectl --context kind-${c} -n metallb-system rollout status daemonset/speaker`,
      );
      const controller = out.indexOf(
        `kubectl --context kind-${c} -n metallb-system rollout status deployment/controller`,
      );
      const pool = out.indexOf(`kubectl --context kind-${c} apply -f - <<'POOL'`);
      expect(unlabel).toBeGreaterThan(-1);
      expect(metallb).toBeGreaterThan(unlabel);
      expect(controller).toBeGreaterThan(metallb);
      expect(speaker).toBeGreaterThan(metallb);
      expect(pool).toBeGreaterThan(Math.max(controller, speaker));
      // The webhook may refuse the pool for a while after the controller is ready: retried, with a deadline.
      expect(out.slice(0, pool)).toMatch(/# retried for up to \d+s:\n\+ $/);
    }
    // Nothing waits on pods by label before they exist (kubectl wait fails at once on none).
    expect(out).not.toMatch(/wait [^\n]*pod -l/);
  });

  it('up --dry-run waits for the frontend verify.sh calls from, not only podinfo', async () => {
    const out = await dryRun('up.sh');
    for (const c of ['east', 'west']) {
      expect(out).toContain(`kubectl --context kind-${c} -n test rollout status deployment/frontend`);
    }
  });

  it('up --dry-run uses one image name for build, kind load and install, with imagePullPolicy Never', async () => {
    const out = await dryRun('up.sh', { ISTHMUS_IMAGE: 'example.test/isthmus:lab-1' });
    expect(out).toContain('docker build -t example.test/isthmus:lab-1 ');
    expect(out).toMatch(
      /docker image save --platform <docker server os\/arch> -o \S+\/isthmus-image\.tar example\.test\/isthmus:lab-1\n/,
    );
    for (const c of ['east', 'west']) {
      expect(out).toMatch(new RegExp(`kind load image-archive \\S+/isthmus-image\\.tar --name ${c}\n`));
      expect(out).toMatch(
        new RegExp(
          `install --cluster-name ${c} [^\\n]*--image example\\.test/isthmus:lab-1 --image-pull-policy Never`,
        ),
      );
    }
  });

  it('install renders the image and pull policy up.sh asks for in every container, and the names up.sh waits on', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'isthmus-kind-install-'));
    try {
      const certs = join(tmp, 'certs');
      await run(process.execPath, ['bin/isthmus.mjs', 'certs', '--out', certs, '--clusters', 'east'], {
        timeout: 60_000,
      });
      const { stdout } = await run(
        process.execPath,
        [
          'bin/isthmus.mjs',
          'install',
          '--cluster-name',
          'east',
          '--image',
          `isthmus:${VERSION}`,
          '--image-pull-policy',
          'Never',
          '--trust-anchor',
          join(certs, 'ca.crt'),
          '--issuer-cert',
          join(certs, 'east', 'issuer.crt'),
          '--issuer-key',
          join(certs, 'east', 'issuer.key'),
        ],
        { timeout: 60_000 },
      );
      type Obj = {
        kind: string;
        metadata: { name: string; namespace?: string };
        spec?: {
          type?: string;
          template?: {
            spec: {
              containers: { image: string; imagePullPolicy?: string }[];
              initContainers?: { image: string; imagePullPolicy?: string }[];
            };
          };
        };
      };
      const objs = parseAllDocuments(stdout).map((d) => d.toJS() as Obj);
      const deployments = objs.filter((o) => o.kind === 'Deployment');
      expect(deployments.map((d) => d.metadata.name).sort()).toEqual([
        'isthmus-controller',
        'isthmus-gateway',
        'isthmus-identity',
      ]);
      for (const d of deployments) {
        expect(d.metadata.namespace).toBe('isthmus-system');
        const spec = d.spec!.template!.spec;
        for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
          expect(c).toMatchObject({ image: `isthmus:${VERSION}`, imagePullPolicy: 'Never' });
        }
      }
      const gw = objs.find((o) => o.kind === 'Service' && o.metadata.name === 'isthmus-gateway');
      expect(gw?.spec?.type).toBe('LoadBalancer');
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('lab up --kind passes --trust-domain to up.sh', async () => {
    const { stdout } = await run(
      process.execPath,
      ['bin/isthmus.mjs', 'lab', 'up', '--kind', '--dry-run', '--trust-domain', 'lab.example'],
      { timeout: 60_000 },
    );
    expect(stdout).toMatch(/certs --out \S+ --clusters east,west --trust-domain lab\.example/);
    expect(stdout).toMatch(/install --cluster-name east --trust-domain lab\.example /);
    expect(stdout).toMatch(/link --context kind-west --cluster-name west --trust-domain lab\.example /);
    expect(stdout).not.toContain('cluster.local');
  });

  it('lab up and down --kind --dir give the scripts that directory, not <repo>/.lab/kind', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'isthmus-kind-dir-'));
    try {
      const dir = join(tmp, 'kind');
      const lab = async (verb: string, args: string[] = []) =>
        (
          await run(process.execPath, ['bin/isthmus.mjs', 'lab', verb, '--kind', '--dry-run', ...args], {
            timeout: 60_000,
            env: { ...process.env, LAB_DIR: '' },
          })
        ).stdout;
      const up = await lab('up', ['--dir', dir]);
      expect(up).toContain(`mkdir -p ${dir}\n`);
      expect(up).toContain(`certs --out ${dir}/certs `);
      expect(up).not.toContain('.lab/kind');
      expect(await lab('down', ['--dir', dir])).toContain(`rm -rf ${dir}\n`);
      // A relative --dir is the caller's, whatever directory the script runs from.
      expect(await lab('down', ['--dir', 'rel/kind'])).toContain(
        `rm -rf ${join(process.cwd(), 'rel/kind')}\n`,
      );
      // Without --dir: the kind lab's own directory, never the local lab's default (.lab/local).
      const down = await lab('down');
      expect(down).toMatch(/rm -rf \S*\/\.lab\/kind\n/);
      expect(down).not.toContain('.lab/local');
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('up --dry-run loads a single-platform archive (Docker 28+), or the image itself on an older Docker', async () => {
    // Docker 29's containerd image store breaks `kind load docker-image` (kind#3795).
    const current = await dryRun('up.sh');
    expect(current).not.toContain('kind load docker-image');
    expect(current.indexOf('kind load image-archive')).toBeGreaterThan(current.indexOf('docker image save'));
    expect(current.indexOf('rm -f')).toBeGreaterThan(current.lastIndexOf('kind load image-archive'));
    const old = await dryRun('up.sh', { LAB_DRY_RUN_DOCKER_API: '1.47' });
    expect(old).not.toContain('docker image save');
    for (const c of ['east', 'west'])
      expect(old).toContain(`kind load docker-image isthmus:${VERSION} --name ${c}`);
  });

  it('version_at_least compares Docker API versions part by part, as numbers', async () => {
    const check = async (have: string) => (await withLib(`version_at_least '${have}' 1.48`)).code;
    for (const yes of ['1.48', '1.52', '1.100', '2.0']) expect(await check(yes), yes).toBe(0);
    for (const no of ['1.47', '1.9', '0.99', 'abc', '']) expect(await check(no), no).not.toBe(0);
  });

  it('MetalLB pools come from the IPv4 subnet of the kind network, listed before or after its IPv6 one', async () => {
    for (const listed of [
      'fc00:f853:ccd:e793::/64 172.18.0.0/16 ',
      '172.18.0.0/16 fc00:f853:ccd:e793::/64 ',
    ]) {
      expect((await withLib(`ipv4_subnet '${listed}'`)).stdout).toBe('172.18.0.0/16\n');
    }
    const none = await withLib(`ipv4_subnet 'fc00:f853:ccd:e793::/64 '`);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain('no IPv4 subnet in the kind Docker network');
  });

  it('MetalLB pools sit inside the kind subnet whatever its size, one slice per cluster', async () => {
    const ranges = async (subnet: string) =>
      (await withLib(`metallb_range ${subnet} 0; metallb_range ${subnet} 1`)).stdout.trim().split('\n');
    expect(await ranges('172.18.0.0/16')).toEqual([
      '172.18.255.200-172.18.255.219',
      '172.18.255.220-172.18.255.239',
    ]);
    // Docker's default pools beyond 172.17-31 are 192.168.x.0/20; daemon.json may give /24s.
    expect(await ranges('192.168.0.0/20')).toEqual([
      '192.168.15.200-192.168.15.219',
      '192.168.15.220-192.168.15.239',
    ]);
    expect(await ranges('10.89.3.0/24')).toEqual(['10.89.3.200-10.89.3.219', '10.89.3.220-10.89.3.239']);
    const tiny = await withLib('metallb_range 10.89.3.0/27 0');
    expect(tiny.code).not.toBe(0);
    expect(tiny.stderr).toContain('too small');
  });

  it('run_sh fails with the first failing command of a pipeline (pipefail), not with its last', async () => {
    const r = await withLib(`run_sh 'echo oops >&2; exit 3' ; echo unreachable`);
    expect(r.code).toBe(3);
    const piped = await withLib(`run_sh 'false | cat'; echo unreachable`);
    expect(piped.code).not.toBe(0);
    expect(piped.stdout).not.toContain('unreachable');
  });

  it('retry gives up at its deadline, and succeeds on success', async () => {
    const gaveUp = await withLib('retry 0 false');
    expect(gaveUp.code).toBe(1);
    expect(gaveUp.stderr).toContain('gave up after 0s: false');
    expect((await withLib('retry 0 true; echo ok')).stdout).toContain('ok');
    expect((await withLib(`retry_sh 0 'false | true'`)).code).toBe(1);
  });

  it('verify --dry-run scales east podinfo to zero and waits for Fallback, then back to Primary', async () => {
    const out = await dryRun('verify.sh');
    expect(out).toMatch(
      /# retried for up to \d+s:\n.*bin\/isthmus\.mjs gateways --context kind-east \| grep -E '\^west \+True'\n/,
    );
    expect(out).toMatch(
      /scale deployment\/podinfo --replicas=0[\s\S]*=Fallback[\s\S]*answered_by podinfo west[\s\S]*--replicas=1[\s\S]*=Primary[\s\S]*answered_by podinfo east/,
    );
    expect(out).toContain('answered_by podinfo-direct-west west');
    // Every check of something eventually true is retried, with a deadline; every wait has one.
    const lines = out.split('\n');
    lines.forEach((line, i) => {
      if (/answered_by|gateways|get svc podinfo-/.test(line))
        expect(lines[i - 1], line).toMatch(/^# retried for up to \d+s:$/);
    });
    for (const line of out.split('\n').filter((l) => / wait | rollout status /.test(l))) {
      expect(line).toMatch(/--timeout=\d+s/);
    }
  });

  describe('verify.sh against stand-in kubectl and isthmus', () => {
    /** A kubectl whose frontend gets podinfo's JSON answers, from east or west as the scale dictates. */
    function fakes(dir: string, failover: boolean): Record<string, string> {
      const bin = join(dir, 'bin');
      mkdirSync(bin);
      const replicas = join(dir, 'replicas');
      writeFileSync(
        join(bin, 'kubectl'),
        `#!/usr/bin/env bash
case " $* " in
  *" exec "*)
    cmd="\${*: -1}"
    for svc in podinfo-west podinfo-federated podinfo-direct-west podinfo; do [[ $cmd == *"http://$svc:"* ]] && break; done
    for i in $(seq 20); do
      case $svc in
        podinfo-west | podinfo-direct-west) c=west ;;
        podinfo-federated) if ((i % 2)); then c=east; else c=west; fi ;;
        *) if [[ ${failover ? '$(cat "' + replicas + '" 2>/dev/null)' : '1'} == 0 ]]; then c=west; else c=east; fi ;;
      esac
      printf '{\\n  "hostname": "podinfo-1",\\n  "message": "greetings from %s",\\n  "version": "6.7.1"\\n}\\n' "$c"
    done ;;
  *" scale "*)
    last="\${*: -1}"
    echo "\${last#--replicas=}" >"${replicas}" ;;
  *federation-members*) echo east,west ;;
esac
`,
        { mode: 0o755 },
      );
      writeFileSync(
        join(bin, 'node'),
        '#!/bin/sh\nprintf "CLUSTER  ALIVE  NUM_SVC\\nwest     True   3\\n"\n',
        {
          mode: 0o755,
        },
      );
      return { ...process.env, PATH: `${bin}:${process.env.PATH}`, LAB_RETRY_SECONDS: '0' };
    }

    it('passes when every answer comes from the cluster the story says', async () => {
      const tmp = mkdtempSync(join(tmpdir(), 'isthmus-kind-verify-'));
      try {
        const { stdout } = await run('bash', ['scripts/kind/verify.sh'], {
          env: fakes(tmp, true),
          timeout: 30_000,
        });
        expect(stdout).toContain('podinfo-federated: answered by east,west (want east,west)');
        expect(stdout).toContain('podinfo: answered by west (want west)');
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });

    it('read-only (lab status) checks the story without scaling anything', async () => {
      const tmp = mkdtempSync(join(tmpdir(), 'isthmus-kind-verify-'));
      try {
        const { stdout, stderr } = await run('bash', ['scripts/kind/verify.sh'], {
          env: { ...fakes(tmp, true), VERIFY_READ_ONLY: '1' },
          timeout: 30_000,
        });
        expect(stdout).toContain('podinfo: answered by east (want east)');
        expect(stderr).toContain('verified (read-only');
        expect(`${stdout}${stderr}`).not.toContain('scale');
        expect(existsSync(join(tmp, 'replicas'))).toBe(false);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });

    it('fails when the frontend is still answered by east after the failover', async () => {
      const tmp = mkdtempSync(join(tmpdir(), 'isthmus-kind-verify-'));
      try {
        const result = await run('bash', ['scripts/kind/verify.sh'], {
          env: fakes(tmp, false),
          timeout: 30_000,
        }).then(
          () => ({ code: 0, stdout: '' }),
          (err: { code: number; stdout: string }) => err,
        );
        expect(result.code).not.toBe(0);
        expect(result.stdout).toContain('podinfo: answered by east (want west)');
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });
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

describe('Dockerfile', () => {
  const dockerfile = readFileSync('Dockerfile', 'utf8');
  const ignored = readFileSync('.dockerignore', 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

  it('copies from the build context only files that exist and .dockerignore keeps', () => {
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) =>
      m[1]!.split(/\s+/),
    );
    expect(sources).toEqual(
      expect.arrayContaining(['package.json', 'package-lock.json', 'src', 'bin', 'manifests']),
    );
    for (const src of sources) {
      expect(existsSync(src), src).toBe(true);
      for (const pattern of ignored) {
        const top = pattern.replace(/^\/+/, '').replace(/\/+$/, '');
        expect(src === top || src.startsWith(`${top}/`), `${src} excluded by .dockerignore ${pattern}`).toBe(
          false,
        );
      }
    }
    // What `npm run build` reads: tsconfig.build.json extends tsconfig.json.
    const build = JSON.parse(readFileSync('tsconfig.build.json', 'utf8')) as { extends?: string };
    expect(sources).toContain('tsconfig.build.json');
    expect(sources).toContain(build.extends?.replace(/^\.\//, ''));
  });

  it('runs npm ci with the lockfile copied, and the entry point it copies, as the non-root user install expects', () => {
    expect(dockerfile.indexOf('package-lock.json')).toBeLessThan(dockerfile.indexOf('npm ci'));
    const entry = /^ENTRYPOINT \["node", "\/opt\/isthmus\/(.+)"\]$/m.exec(dockerfile)?.[1];
    expect(entry).toBe('bin/isthmus.mjs');
    expect(existsSync(entry!)).toBe(true);
    // The runtime stage has dist/ but no src/, so bin/isthmus.mjs runs the compiled code.
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('FROM '));
    expect(runtime).toMatch(/^COPY --from=build \/src\/dist \.\/dist$/m);
    expect(runtime).not.toMatch(/^COPY (?!--from)\S*src\b/m);
    expect(runtime).toMatch(/^USER 65532:65532$/m);
    expect(readFileSync('src/cli/install/workloads.ts', 'utf8')).toContain('runAsUser: 65532');
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

  it("commits the TrafficSplit's weights as the failover controller writes them, so it starts in sync", async () => {
    const split = (await render('east')).find((o) => o.kind === 'TrafficSplit') as unknown as {
      spec: { backends: { service: string; weight: number }[] };
    };
    expect(split.spec.backends).toEqual([
      { service: 'podinfo', weight: ACTIVE_WEIGHT },
      { service: 'podinfo-west', weight: 0 },
    ]);
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
