/**
 * The operator verbs against a running two-cluster lab, through the real command line:
 * `check`, `gateways`, `status`, `unlink`. The lab starts healthy; each broken state is made,
 * observed and repaired in turn, ordered so that no step depends on an earlier breakage
 * (the gateway is killed last but one: a dead gateway hides the trust-anchor comparison).
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LINK_LABEL } from '../src/cli/install/options.js';
import { linkCredentialsAccess } from '../src/cli/install/rbac.js';
import { applyObjects } from '../src/cli/lab/apply-objects.js';
import type { RunningLab } from '../src/cli/lab/local-lab.js';
import { createTrustAnchor } from '../src/identity/index.js';
import { revokeCertificate } from '../src/identity/revoke.js';
import { KubeClient } from '../src/kube/client.js';
import { R } from '../src/kube/resources.js';
import type { KubeObject, Link, TrafficSplit, V1ConfigMap, V1Secret, V1Service } from '../src/kube/types.js';
import { VERSION } from '../src/version.js';
import { waitFor } from '../src/wait-for.js';

// East 127.0.51.x, west 127.0.52.x: the lab's fixed ports there are no other test's (e2e tests on
// these /24s listen on ephemeral ports).
const BASE = 51;
const ROOT = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'isthmus-cli-ops-'));
const progress: string[] = [];
let lab: RunningLab | undefined;
let east: KubeClient;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `isthmus <args>` as a user runs it, against the east cluster of the lab. */
function isthmus(...args: string[]): Promise<Run> {
  const kube = ['--kubeconfig', lab!.state.kubeconfig, '--context', 'east'];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['bin/isthmus.mjs', ...args, ...kube],
      { cwd: ROOT, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The line of a check and the hints under it. */
function section(output: string, description: string): string {
  const lines = output.split('\n');
  const at = lines.findIndex((l) => l.slice(2) === description);
  if (at < 0) return '';
  const end = lines.findIndex((l, i) => i > at && !l.startsWith('    '));
  return lines.slice(at, end < 0 ? undefined : end).join('\n');
}

beforeAll(async () => {
  const { startLocalLab } = await import('../src/cli/lab/local-lab.js');
  lab = await startLocalLab({
    dir,
    base: BASE,
    trustDomain: 'cluster.local',
    progress: (l) => progress.push(l),
    notice: (l) => progress.push(l),
  });
  // The test's own reads and writes: no client-side rate limit (the lab's processes keep theirs).
  east = KubeClient.fromKubeconfigFile(lab.state.kubeconfig, 'east', { rateLimit: { qps: 0, burst: 0 } });
}, 120_000);

afterAll(async () => {
  east?.close();
  await lab?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe('isthmus operator verbs on the lab', () => {
  it('check: every check √ and exit status 0 on the healthy lab', async () => {
    // The controller writes the Link's status shortly after the mirror is ready: poll for it.
    const run = await waitFor(
      'isthmus check to pass',
      async () => {
        const r = await isthmus('check');
        return r.code === 0 ? r : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 250 },
    );
    expect(run.stdout).not.toContain('×');
    expect(run.stdout.match(/^√ /gm)?.length).toBe(18);
    expect(run.stdout).toContain("√ the control plane runs the CLI's version");
    // Read through the API server's pod proxy from each gateway pod's admin /routes.
    expect(run.stdout).toContain("√ the gateways listen on every mirror's egress ports");
    expect(run.stdout).toContain('Status check results are √');
    const json = JSON.parse((await isthmus('check', '-o', 'json')).stdout) as { success: boolean };
    expect(json).toMatchObject({ success: true });
  });

  it('check: × on the listeners when a Service that is no mirror of a Link claims an egress port', async () => {
    // A Service labelled as a mirror, written by hand for a cluster no Link names, claiming a port
    // held by nothing else: anyone who may create a Service can write one. The gateway routes only
    // the mirrors it can trace to a Link, so it refuses the claim, lists it in /routes, and check
    // names it (read through the pod proxy). No Link watcher touches it (the controller sweeps such
    // mirrors only at start-up, on gaining leadership and when a Link's target changes).
    const host = new URL(lab!.state.clusters[0]!.gatewayAdmin).hostname;
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, host, r));
    const port = (blocker.address() as net.AddressInfo).port;
    await east.create(R.services, {
      metadata: {
        name: 'blocked-nowhere',
        namespace: 'test',
        labels: { 'mirror.linkerd.io/mirrored-service': 'true', 'mirror.linkerd.io/cluster-name': 'nowhere' },
        annotations: {
          'isthmus.dev/egress-ports': `http=${port}`,
          'isthmus.dev/remote-gateway': '192.0.2.1:4143',
          'mirror.linkerd.io/remote-svc-fq-name': 'blocked.test.svc.cluster.local',
        },
      },
      spec: { ports: [{ name: 'http', port: 80 }] },
    });
    const what = "the gateways listen on every mirror's egress ports";
    try {
      const run = await waitFor(
        'the listener check to fail',
        async () => {
          const r = await isthmus('check');
          return section(r.stdout, what).startsWith('×') ? r : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 500 },
      );
      expect(run.code).toBe(1);
      expect(section(run.stdout, what)).toMatch(
        /test\/blocked-nowhere: cluster "nowhere" has no Link: .* refused by the gateways; if the controller did not write it for a Link, it is no mirror: delete it/,
      );
      // Refused, not a listener that failed: nothing was bound, so nothing else is reported missing.
      expect(section(run.stdout, what)).not.toMatch(/does not listen on/);
    } finally {
      await east.delete(R.services, 'test', 'blocked-nowhere');
      await new Promise((r) => blocker.close(r));
    }
    await waitFor('the check to pass again', async () => (await isthmus('check')).code === 0, {
      timeoutMs: 20_000,
      intervalMs: 500,
    });
  });

  it('version: the CLI and every pod of the install run the same version', async () => {
    const [text, asJson, clientOnly] = await Promise.all([
      isthmus('version'),
      isthmus('version', '-o', 'json'),
      isthmus('version', '--client'),
    ]);
    expect(text).toMatchObject({
      code: 0,
      stdout: `Client version: ${VERSION}\nServer version: ${VERSION}\n`,
    });
    expect(JSON.parse(asJson.stdout)).toEqual({
      clientVersion: VERSION,
      serverVersion: VERSION,
      components: [
        { component: 'controller', pods: { [VERSION]: 1 } },
        { component: 'gateway', pods: { [VERSION]: 1 } },
        { component: 'identity', pods: { [VERSION]: 1 } },
      ],
    });
    expect(clientOnly.stdout).toBe(`Client version: ${VERSION}\n`);
  });

  it('gateways: west alive, two services (podinfo-west and podinfo-direct-west), probe latencies', async () => {
    const admin = ['--controller-admin', lab!.state.clusters[0]!.controllerAdmin];
    const [table, asJson, windowed] = await Promise.all([
      isthmus('gateways', ...admin),
      isthmus('gateways', '-o', 'json', ...admin),
      isthmus('gateways', '--window', '1s', ...admin),
    ]);
    // A --window waits before it prints: it says so first, so a long one does not look like a hang.
    expect(windowed.stderr).toMatch(/^note: measuring the probes of the next 1s; the table follows then$/m);
    expect(windowed.stdout).toMatch(/^west\s+True\s+2\s/m);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^CLUSTER\s+ALIVE\s+NUM_SVC\s+LATENCY_P50\s+LATENCY_P95\s+VERSION$/m);
    // The version west's gateway answered the probes with, through the tunnel.
    expect(table.stdout).toMatch(
      new RegExp(`^west\\s+True\\s+2\\s+[\\d.]+ms\\s+[\\d.]+ms\\s+${VERSION.replaceAll('.', '\\.')}$`, 'm'),
    );
    const json = JSON.parse(asJson.stdout) as unknown[];
    expect(json).toEqual([
      expect.objectContaining({ cluster: 'west', alive: true, numServices: 2, version: VERSION }),
    ]);
  });

  it("routes: the east gateway's egress listener for podinfo-west, through the pod proxy", async () => {
    const [table, asJson] = await Promise.all([isthmus('routes'), isthmus('routes', '-o', 'json')]);
    expect(table.code, table.stderr).toBe(0);
    const westGateway = new URL(lab!.state.clusters[1]!.gatewayAdmin).hostname;
    expect(table.stdout).toMatch(
      new RegExp(
        `isthmus-gateway-\\S+\\s+\\d+\\s+test/podinfo-west\\s+podinfo\\.test\\.svc\\.cluster\\.local:\\d+\\s+${westGateway.replaceAll('.', '\\.')}:\\d+`,
      ),
    );
    const rows = JSON.parse(asJson.stdout) as { mirror: string; port: number }[];
    const mirror = await east.get<V1Service>(R.services, 'test', 'podinfo-west');
    const advertised = (mirror?.metadata?.annotations?.['isthmus.dev/egress-ports'] ?? '')
      .split(',')
      .map((e) => Number(e.split('=')[1]));
    expect(
      rows
        .filter((r) => r.mirror === 'test/podinfo-west')
        .map((r) => r.port)
        .sort(),
    ).toEqual(advertised.sort());
  });

  it('status: podinfo served by its primary', async () => {
    const [run, yaml] = await Promise.all([isthmus('status', '-n', 'test'), isthmus('status', '-o', 'yaml')]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^test\s+podinfo\s+Primary\s+podinfo$/m);
    expect(yaml.stdout).toContain('trafficSplit: podinfo\n  status: Primary');
  });

  it('check: ‼ on a failover TrafficSplit one of whose backends names no Service, while status says Primary', async () => {
    const split = await east.get<TrafficSplit>(R.trafficSplitsV1alpha2, 'test', 'podinfo');
    const backends = split!.spec.backends;
    const patch = (b: TrafficSplit['spec']['backends']) =>
      east.patch(R.trafficSplitsV1alpha2, 'test', 'podinfo', { spec: { backends: b } }, 'merge');
    await patch([...backends, { service: 'podinfo-nowhere', weight: 0 }]);
    const what = 'every failover TrafficSplit has a backend to send traffic to';
    try {
      const run = await waitFor(
        'the TrafficSplit check to warn',
        async () => {
          const r = await isthmus('check');
          return section(r.stdout, what).startsWith('‼') ? r : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 250 },
      );
      expect(run.code).toBe(0);
      expect(section(run.stdout, what)).toContain(
        'TrafficSplit test/podinfo: no Service named podinfo-nowhere; counted as having no ready endpoint: a remote backend is a mirror',
      );
      expect((await isthmus('status', '-n', 'test')).stdout).toMatch(/^test\s+podinfo\s+Primary\s+podinfo$/m);
    } finally {
      await patch(backends);
    }
    await waitFor(
      'the TrafficSplit check to pass again',
      async () => section((await isthmus('check')).stdout, what).startsWith('√'),
      { timeoutMs: 20_000, intervalMs: 250 },
    );
  });

  it('check: × on remote credentials when the Link token is wrong', async () => {
    const name = 'cluster-credentials-west';
    const original = (await east.get<V1Secret>(R.secrets, 'isthmus-system', name))!;
    const kubeconfig = Buffer.from(original.data!.kubeconfig!, 'base64').toString('utf8');
    const bad = kubeconfig.replace(/token: .*/, 'token: not-a-valid-token');
    expect(bad).not.toBe(kubeconfig);
    await east.patch(R.secrets, 'isthmus-system', name, {
      data: { kubeconfig: Buffer.from(bad).toString('base64') },
    });
    try {
      const run = await isthmus('check');
      expect(run.code).toBe(1);
      expect(section(run.stdout, "every Link's remote API credentials work")).toMatch(
        /^× .*\n {4}Link west: the remote API server rejects the token in isthmus-system\/cluster-credentials-west \(401/,
      );
    } finally {
      await east.patch(R.secrets, 'isthmus-system', name, {
        data: { kubeconfig: original.data!.kubeconfig },
      });
    }
  });

  it('check: × on the trust anchor when the local anchor is not the one the remote gateway chains to', async () => {
    const original = (await east.get<V1ConfigMap>(R.configMaps, 'isthmus-system', 'isthmus-trust-anchor'))!;
    const other = createTrustAnchor({ trustDomain: 'cluster.local', keyBits: 2048 }).certPem;
    await east.patch(R.configMaps, 'isthmus-system', 'isthmus-trust-anchor', { data: { 'ca.crt': other } });
    try {
      const run = await isthmus('check');
      expect(run.code).toBe(1);
      const anchor = section(run.stdout, 'linked clusters share the trust anchor');
      expect(anchor).toMatch(/^× /);
      expect(anchor).toContain('Link west: gateway 127.0.52.2:4143 does not chain to the local trust anchor');
      expect(anchor).toContain('compared by a TLS handshake');
    } finally {
      await east.patch(R.configMaps, 'isthmus-system', 'isthmus-trust-anchor', {
        data: { 'ca.crt': original.data!['ca.crt'] },
      });
    }
  });

  it("check: × on revocation when isthmus-crl revokes west's issuer", async () => {
    // Revoked in a copy of the lab's certificates: the lab's gateways read their own crl.pem and
    // must stay untouched for the tests after this one; the check reads the ConfigMap.
    const copy = join(dir, 'certs-copy');
    cpSync(join(dir, 'certs'), copy, { recursive: true });
    const { bundleFile } = await revokeCertificate({
      dir: copy,
      issuerOf: 'west',
      certFile: join(copy, 'west', 'issuer.crt'),
      reason: 'cessationOfOperation',
    });
    const crl = {
      metadata: { name: 'isthmus-crl', namespace: 'isthmus-system' },
      data: { 'crl.pem': readFileSync(bundleFile, 'utf8') },
    };
    await east.create(R.configMaps, crl);
    try {
      const run = await isthmus('check');
      expect(run.code).toBe(1);
      const revoked = section(run.stdout, 'no linked gateway is revoked');
      expect(revoked).toMatch(/^× /);
      expect(revoked).toMatch(
        /Link west: gateway 127\.0\.52\.2:4143 is revoked here \(issuer "CN=identity\.west\.cluster\.local" \(serial [0-9A-F]+\) is revoked by the trust anchor's CRL \(cessationOfOperation/,
      );
    } finally {
      await east.delete(R.configMaps, 'isthmus-system', 'isthmus-crl');
    }
  });

  it('gateways: ALIVE Unknown once no controller leads, as the Link status then is stale', async () => {
    const scale = (replicas: number) =>
      east.patch(R.deployments, 'isthmus-system', 'isthmus-controller', { spec: { replicas } }, 'merge');
    await scale(0);
    try {
      const table = await waitFor(
        'gateways to stop trusting the Link status',
        async () => {
          const r = await isthmus('gateways');
          return /^west\s+Unknown\s/m.test(r.stdout) ? r : undefined;
        },
        { timeoutMs: 40_000, intervalMs: 500 },
      );
      expect(table.code).toBe(0);
      // A leader that stops cleanly gives its Lease up; a crashed one lets it run out.
      expect(table.stderr).toMatch(
        /^note: ALIVE is unknown: Lease isthmus-system\/isthmus-mirror (has no holder|held by \S+ expired)/m,
      );
      const link = await east.get<Link>(R.links, 'isthmus-system', 'west');
      expect(link?.status?.conditions?.find((c) => c.type === 'GatewayAlive')?.status).toBe('True');
    } finally {
      await scale(1);
    }
    await waitFor(
      'a controller to lead again and gateways to trust the status',
      async () => /^west\s+True\s/m.test((await isthmus('gateways')).stdout),
      { timeoutMs: 40_000, intervalMs: 500 },
    );
  });

  it('check and gateways: × and ALIVE False once the west gateway is scaled to zero', async () => {
    const pid = lab!.state.processes['west/gateway']!;
    // East probes west's gateway every 3 s (the default), so telling it dead takes 3 failures, ~9 s:
    // probed more often (the threshold stays 3), east says so within a second. A Link's probeSpec is
    // taken in place (link-watcher.ts), and the test after this one unlinks west anyway.
    await east.patch(
      R.links,
      'isthmus-system',
      'west',
      { spec: { probeSpec: { period: '250ms' } } },
      'merge',
    );
    // What a user does to take a gateway down: the lab stops the process (a crash would be restarted).
    const west = KubeClient.fromKubeconfigFile(lab!.state.kubeconfig, 'west', {
      rateLimit: { qps: 0, burst: 0 },
    });
    try {
      await west.patch(
        R.deployments,
        'isthmus-system',
        'isthmus-gateway',
        { spec: { replicas: 0 } },
        'merge',
      );
      await waitFor(
        'the west gateway pod to go',
        async () => {
          const { items } = await west.list(R.pods, {
            namespace: 'isthmus-system',
            labelSelector: 'app.kubernetes.io/name=isthmus-gateway',
          });
          return items.length === 0 ? true : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
    } finally {
      west.close();
    }
    expect(() => process.kill(pid, 0)).toThrow();
    expect(progress).toContain('west/gateway stopped: deployment/isthmus-gateway scaled to 0');
    await waitFor(
      'east to mark the west gateway dead',
      async () => {
        const link = await east.get<Link>(R.links, 'isthmus-system', 'west');
        const alive = link?.status?.conditions?.find((c) => c.type === 'GatewayAlive');
        return alive?.status === 'False' ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    // Both only read: side by side.
    const [run, table] = await Promise.all([isthmus('check'), isthmus('gateways')]);
    expect(run.code).toBe(1);
    expect(section(run.stdout, 'remote gateways are alive')).toMatch(
      /^× remote gateways are alive\n {4}Link west: gateway 127\.0\.52\.2:4143 is not alive/,
    );
    expect(table.stdout).toMatch(/^west\s+False\s+2\s/m);
  });

  it('unlink --wait: the Link, its Secret and the mirrors of west are gone', async () => {
    expect(await east.get(R.services, 'test', 'podinfo-west')).toBeDefined();
    const run = await isthmus('unlink', '--cluster-name', 'west', '--wait', '--timeout', '30s');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('Link west is gone; 2 mirror services removed');
    // The lab links with an account per peer (isthmus allow): unlink says it outlives the Link.
    expect(run.stderr).toContain(
      'note: cluster west still has the read-only account isthmus-system/east-reader',
    );
    expect(await east.get(R.links, 'isthmus-system', 'west')).toBeUndefined();
    expect(await east.get(R.secrets, 'isthmus-system', 'cluster-credentials-west')).toBeUndefined();
    expect(await east.get(R.services, 'test', 'podinfo-west')).toBeUndefined();
    expect(await east.get(R.services, 'test', 'podinfo-direct-west')).toBeUndefined();
    const again = await isthmus('unlink', '--cluster-name', 'west');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('no Link to cluster "west"');
  });
  it('check and unlink: what isthmus link made for west outlives a Link deleted on its own (a GitOps prune)', async () => {
    // As `kubectl delete link west` leaves them: the labelled Secret, Role and RoleBinding.
    await east.create<V1Secret>(R.secrets, {
      metadata: {
        name: 'cluster-credentials-west',
        namespace: 'isthmus-system',
        labels: { 'app.kubernetes.io/part-of': 'isthmus', [LINK_LABEL]: 'west' },
      },
      stringData: { kubeconfig: 'apiVersion: v1\nkind: Config\n' },
    });
    await applyObjects(
      east,
      linkCredentialsAccess('west', 'cluster-credentials-west', 'isthmus-system') as KubeObject[],
    );
    const check = await isthmus('check');
    expect(section(check.stdout, "every Link's remote API credentials work")).toContain(
      'cluster west has no Link, yet what `isthmus link` made for it is left (labelled isthmus.dev/link=west): secret cluster-credentials-west, whose token may still read that cluster',
    );
    expect(check.stdout).toContain('delete them with `isthmus unlink --cluster-name west`');

    const run = await isthmus('unlink', '--cluster-name', 'west');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe(
      [
        'no Link to cluster "west" in isthmus-system; deleting what `isthmus link` made for it (labelled isthmus.dev/link=west)',
        'secret "cluster-credentials-west" deleted',
        'rolebinding.rbac.authorization.k8s.io "isthmus-controller-credentials-west" deleted',
        'role.rbac.authorization.k8s.io "isthmus-controller-credentials-west" deleted',
        '',
      ].join('\n'),
    );
    const again = await isthmus('unlink', '--cluster-name', 'west');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('no Link to cluster "west"');
  });
});
