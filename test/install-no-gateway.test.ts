/**
 * A flat pod network, installed as a user would: `isthmus install --no-gateway` in both clusters
 * through the real `kubectl apply`, `isthmus link --no-gateway`, a real `isthmus controller
 * --no-gateway` process, then `isthmus check`. Strict sandboxes, realistic pod IPs that nothing dials.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCertificates } from '../src/identity/files.js';
import { KubeClient } from '../src/kube/client.js';
import { EXPORTED_LABEL, INSTALL_GATEWAY_LABEL, REMOTE_DISCOVERY_EXPORT } from '../src/kube/keys.js';
import { R } from '../src/kube/resources.js';
import type { KubeObject, Link, V1Deployment, V1EndpointSlice, V1Namespace } from '../src/kube/types.js';
import { mergeKubeconfigs, type Sandbox, startSandbox } from '../src/sandbox/index.js';
import { waitFor } from '../src/wait-for.js';
import { installArgs } from './cli-run.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'isthmus-flat-'));
const kubeconfig = join(dir, 'kubeconfig');
let east: Sandbox;
let west: Sandbox;
/** Installed with a gateway first, then moved to --no-gateway. */
let north: Sandbox;
let eastAdmin: KubeClient;
let westAdmin: KubeClient;
let controller: ChildProcess | undefined;
let controllerLog = '';

function isthmus(args: string[]) {
  return run(process.execPath, ['bin/isthmus.mjs', ...args], { timeout: 60_000, maxBuffer: 16 << 20 });
}
/** A command's exit code and output, whether it failed or not. */
function outcome(p: Promise<{ stdout: string; stderr: string }>) {
  return p.then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
}
function kubectl(args: string[], input: string) {
  return new Promise<{ stdout: string }>((resolve, reject) => {
    const child = execFile(
      'kubectl',
      ['--kubeconfig', kubeconfig, ...args],
      { timeout: 60_000 },
      (err, stdout) => (err ? reject(err) : resolve({ stdout })),
    );
    child.stdin!.end(input);
  });
}
async function install(cluster: string) {
  const { stdout } = await isthmus(['install', '--no-gateway', '--cluster-name', cluster]);
  return kubectl(['--context', cluster, 'apply', '-f', '-'], stdout);
}

beforeAll(async () => {
  east = await startSandbox({ name: 'east' });
  west = await startSandbox({ name: 'west' });
  north = await startSandbox({ name: 'north' });
  writeFileSync(kubeconfig, mergeKubeconfigs([east, west, north]));
  eastAdmin = KubeClient.fromKubeconfigString(east.kubeconfig());
  westAdmin = KubeClient.fromKubeconfigString(west.kubeconfig());
});

afterAll(async () => {
  if (controller && controller.exitCode === null) {
    const exited = new Promise((r) => controller!.once('exit', r));
    controller.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000).unref())]);
  }
  eastAdmin?.close();
  westAdmin?.close();
  await Promise.all([east?.close(), west?.close(), north?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('isthmus install --no-gateway: a flat pod network end to end', () => {
  it('applies the controller alone, with no certificates, and again idempotently', async () => {
    // Certificates or gateway settings would do nothing here: refused before anything is printed
    // (checked below). Each run is a CLI process, mostly start-up: these two and the installs of
    // the two clusters, independent of each other, run side by side.
    const mixedRun = outcome(
      isthmus(['install', '--no-gateway', '--cluster-name', 'west', '--trust-anchor', 'ca.crt']),
    );
    const bareRun = outcome(isthmus(['install', '--cluster-name', 'west']));
    const [first] = await Promise.all([install('west'), install('east')]);
    expect(first.stdout).toMatch(/deployment\.apps\/isthmus-controller created/);
    expect(first.stdout).toMatch(/clusterrole\.rbac\.authorization\.k8s\.io\/isthmus-remote-access created/);
    expect(first.stdout).not.toMatch(/isthmus-gateway|isthmus-identity|isthmus-trust-anchor|isthmus-issuer/);
    // Unchanged, but for the PodDisruptionBudget: its selector's patch strategy is "replace", so
    // kubectl's computed patch is never empty and it says "configured" against any API server.
    const again = (await install('west')).stdout.trim().split('\n');
    expect(again.filter((l) => !/ unchanged$/.test(l))).toEqual([
      'poddisruptionbudget.policy/isthmus-controller configured',
    ]);

    const ns = await westAdmin.get<V1Namespace>(R.namespaces, undefined, 'isthmus-system');
    expect(ns?.metadata?.labels?.[INSTALL_GATEWAY_LABEL]).toBe('false');
    const deployment = await westAdmin.get<V1Deployment>(
      R.deployments,
      'isthmus-system',
      'isthmus-controller',
    );
    const args = deployment?.spec?.template?.spec?.containers?.[0]?.args ?? [];
    expect(args).toContain('--no-gateway');
    expect(args.some((a) => a.startsWith('--gateway-admin'))).toBe(false);

    const mixed = await mixedRun;
    expect(mixed).toMatchObject({ code: 1, stdout: '' });
    expect(mixed.stderr).toMatch(
      /--no-gateway installs no gateway and no identity service, so it takes no --trust-anchor/,
    );
    // Without --no-gateway, the trust anchor is still required.
    const bare = await bareRun;
    expect(bare.stderr).toMatch(/--trust-anchor is required .*unless --no-gateway/);
  });

  it('link: refused with a gateway (west has none), printed and applied with --no-gateway', async () => {
    const linkWest = ['link', '--kubeconfig', kubeconfig, '--context', 'west', '--cluster-name', 'west'];
    // Side by side: each only reads west, and is a CLI process, mostly start-up.
    const [refused, { stdout }] = await Promise.all([
      outcome(isthmus(linkWest)),
      isthmus([...linkWest, '--no-gateway']),
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/cluster west was installed without a gateway .*link with --no-gateway/);

    await kubectl(['--context', 'east', 'apply', '-f', '-'], stdout);
    const link = await eastAdmin.get<Link>(R.links, 'isthmus-system', 'west');
    expect(link?.spec).not.toHaveProperty('gatewayAddress');
  });

  it("the controller mirrors west's remote-discovery Service as its pods, and isthmus check passes", async () => {
    await westAdmin.create(R.services, {
      metadata: { name: 'db', namespace: 'default', labels: { [EXPORTED_LABEL]: REMOTE_DISCOVERY_EXPORT } },
      spec: { ports: [{ name: 'pg', port: 5432 }], selector: { app: 'db' } },
    });
    await westAdmin.create<V1EndpointSlice>(R.endpointSlices, {
      metadata: { name: 'db-abc', namespace: 'default', labels: { 'kubernetes.io/service-name': 'db' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['10.245.0.12'], conditions: { ready: true } }],
      ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }],
    });

    const eastConfig = join(dir, 'east.yaml');
    writeFileSync(eastConfig, east.kubeconfig());
    controller = spawn(
      process.execPath,
      // An admin port of its own: tests in other workers run controllers and gateways too.
      [
        'bin/isthmus.mjs',
        'controller',
        '--no-gateway',
        '--cluster',
        'east',
        '--kubeconfig',
        eastConfig,
        '--admin-host',
        '127.0.0.1',
        '--admin-port',
        '0',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env } },
    );
    controller.stderr!.on('data', (d) => {
      controllerLog += String(d);
    });
    const exited = new Promise<never>((_, reject) =>
      controller!.once('exit', (code) => reject(new Error(`the controller exited (${code})`))),
    );
    // Start-up includes tsx compiling the import graph: slow on a busy two-core machine.
    const found = waitFor(
      `db-west's slice`,
      async () => {
        const { items } = await eastAdmin.list<V1EndpointSlice>(R.endpointSlices, {
          namespace: 'default',
          labelSelector: 'kubernetes.io/service-name=db-west',
        });
        return items[0]?.endpoints?.length ? items[0] : undefined;
      },
      45_000,
    );
    const slice = await Promise.race([found, exited]).catch((err: Error) => {
      throw new Error(`${err.message}; controller log:\n${controllerLog.slice(-2000)}`);
    });
    expect(slice.endpoints?.map((e) => e.addresses[0])).toEqual(['10.245.0.12']);
    expect(controllerLog).toMatch(/"gateway":"none".*controller started/);

    // The kubelet's part, which the sandbox has no controller for: the controller pod is available.
    const deployment = await eastAdmin.get<V1Deployment>(
      R.deployments,
      'isthmus-system',
      'isthmus-controller',
    );
    await eastAdmin.replaceStatus(R.deployments, {
      ...(deployment as KubeObject),
      status: { replicas: 2, readyReplicas: 2, availableReplicas: 2 },
    });
    const { code, stdout, stderr } = await outcome(
      isthmus(['check', '--kubeconfig', kubeconfig, '--context', 'east']),
    );
    expect(code, stdout + stderr).toBe(0);
    expect(stdout).toMatch(/the controller Deployment is available \(no gateway installed\)/);
    expect(stdout).toMatch(/linked clusters share the trust anchor: no gateway installed/);
    expect(stdout).toMatch(/remote gateways are alive: no Link has a gateway/);
    expect(stdout).not.toMatch(/isthmus-gateway|isthmus-identity/);
  });

  it('uninstall --gateway: an install that had a gateway drops it once it is --no-gateway', async () => {
    const certs = join(dir, 'certs');
    await writeCertificates({ outDir: certs, clusters: ['north'], trustDomain: 'cluster.local' });
    const withGateway = await isthmus(installArgs(certs, 'north'));
    await kubectl(['--context', 'north', 'apply', '-f', '-'], withGateway.stdout);
    // The revocation list, made as `isthmus certs revoke` and the README say (no labels of ours).
    const crl = join(certs, 'crl.pem');
    writeFileSync(crl, '');
    const crlConfigMap = await kubectl(
      [
        ...['-n', 'isthmus-system', 'create', 'configmap', 'isthmus-crl', `--from-file=crl.pem=${crl}`],
        ...['--dry-run=client', '-o', 'yaml'],
      ],
      '',
    );
    await kubectl(['--context', 'north', 'apply', '-f', '-'], crlConfigMap.stdout);
    const uninstallGateway = ['uninstall', '--gateway', '--kubeconfig', kubeconfig, '--context', 'north'];
    const early = await outcome(isthmus(uninstallGateway));
    expect(early).toMatchObject({ code: 1, stdout: '' });
    expect(early.stderr).toMatch(
      /this install still has a gateway: apply `isthmus install --no-gateway \.\.\.` first/,
    );

    await install('north');
    const { stdout, stderr } = await isthmus(uninstallGateway);
    expect(stderr).toMatch(/clusters linked to this one through its gateway lose their tunnels/);
    // --wait=false: kubectl's wait for each object to be gone is a GET per object at its own 5 qps
    // (~1 s here); that they are gone is what the listing below checks, object by object.
    const deleted = await kubectl(['--context', 'north', 'delete', '--wait=false', '-f', '-'], stdout);
    expect(deleted.stdout).toMatch(/deployment\.apps "isthmus-gateway" deleted/);
    expect(deleted.stdout).toMatch(/secret "isthmus-issuer" deleted/);
    expect(deleted.stdout).toMatch(/configmap "isthmus-crl" deleted/);

    const left = await kubectl(
      ['--context', 'north', '-n', 'isthmus-system', 'get', 'deploy,svc,cm,secret,sa', '-o', 'name'],
      '',
    );
    expect(left.stdout.trim().split('\n').sort()).toEqual([
      'configmap/isthmus-config',
      'configmap/kube-root-ca.crt',
      'deployment.apps/isthmus-controller',
      'secret/isthmus-remote-access-token',
      'serviceaccount/default',
      'serviceaccount/isthmus-controller',
      'serviceaccount/isthmus-remote-access',
    ]);
    // Nothing of the gateway comes back with the next apply of the flat install.
    expect((await install('north')).stdout).not.toMatch(/created/);
  });
});
