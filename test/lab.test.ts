/**
 * The README's main job, end to end: `isthmus lab up --clusters east,west,north` as a real process,
 * requests east → west and east → north and north → west through the tunnels, failover through the
 * TrafficSplit, then Ctrl-C — and nothing left running. Three clusters, not the default two: one
 * run shows both the two-cluster story (east and west keep their parts) and the full mesh.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LabState, readLabState } from '../src/cli/lab/lab-state.js';
import { labTopology, PODINFO_PORT } from '../src/cli/lab/topology.js';
import { KubeClient } from '../src/kube/client.js';
import { R } from '../src/kube/resources.js';
import { waitFor } from '../src/wait-for.js';

const run = promisify(execFile);
// East 127.0.41.x, west 127.0.42.x, north 127.0.43.x: the lab's fixed ports there (6443, 4143,
// 4191, 8080, 20000+) are no other test's; e2e tests on these /24s listen on ephemeral ports.
// ISTHMUS_LAB_TEST_BASE moves them, to run this file beside a copy of the suite on the same machine.
const BASE = Number(process.env.ISTHMUS_LAB_TEST_BASE ?? 41);
const CLUSTERS = ['east', 'west', 'north'];
const dir = mkdtempSync(join(tmpdir(), 'isthmus-lab-'));
let lab: ChildProcess;
let output = '';
let state: LabState;

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pids whose parent is `pid` (Linux /proc; the lab binds 127.0.x.y, which only Linux routes to lo). */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid …: comm may hold spaces and parentheses, so split after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return children;
}

async function getJson(url: string): Promise<{ status: number; body: { upstream?: { message?: string } } }> {
  const res = await request(url, { headersTimeout: 5000, bodyTimeout: 5000 });
  return { status: res.statusCode, body: (await res.body.json()) as { upstream?: { message?: string } } };
}

/** Waits until east's frontend reaches podinfo in west through the tunnel (after a gateway restart). */
async function tunnelServesAgain(): Promise<void> {
  await waitFor(
    'east → west through the tunnel again',
    async () =>
      (await getJson(`${state.frontend}/podinfo-west`).catch(() => undefined))?.status === 200
        ? true
        : undefined,
    { timeoutMs: 30_000, intervalMs: 200 },
  );
}

/** The access-log lines of `side`'s gateway for tunnels to or from `peer` to a podinfo Service. */
function podinfoTunnels(side: string, peer: string): { direction?: string; peer?: string }[] {
  return readFileSync(join(dir, 'logs', `${side}-gateway.log`), 'utf8')
    .split('\n')
    .filter((l) => l.includes('"msg":"tunnel"') && l.includes('podinfo.test.svc.cluster.local'))
    .map((l) => JSON.parse(l) as { direction?: string; peer?: string })
    .filter((l) => l.peer === peer);
}

/** The real kubectl against one lab cluster; stdout. */
async function kubectlIn(cluster: string, ...args: string[]): Promise<string> {
  const r = await run('kubectl', ['--kubeconfig', state.kubeconfig, '--context', cluster, ...args], {
    timeout: 30_000,
  }).catch((err: { message: string; stderr?: string; killed?: boolean }) => {
    // What kubectl said, and whether its 30 s ran out: "Command failed" alone tells neither.
    const why = err.killed ? 'killed after 30 s' : (err.stderr ?? '').trim();
    throw new Error(`${err.message.split('\n')[0]}: ${why}`);
  });
  return r.stdout;
}

beforeAll(async () => {
  lab = spawn(
    process.execPath,
    [
      'bin/isthmus.mjs',
      'lab',
      'up',
      '--local',
      '--dir',
      dir,
      '--base',
      String(BASE),
      '--clusters',
      CLUSTERS.join(','),
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      // The frontend's idle upstream connections end after 0.5 s instead of ~4 s, so the tunnels'
      // access-log lines (written when a tunnel ends) come sooner (src/cli/lab/local-lab.ts).
      env: { ...process.env, ISTHMUS_LAB_FRONTEND_KEEPALIVE_MS: '500' },
    },
  );
  lab.stdout!.on('data', (d: Buffer) => {
    output += d.toString();
  });
  lab.stderr!.on('data', (d: Buffer) => {
    output += d.toString();
  });
  // A lab that exits instead (a refused flag, a crash) fails here at once, with what it said.
  const up = await waitFor(
    'the lab to come up',
    () => (output.includes('The lab is up') ? 'up' : lab.exitCode !== null ? 'exited' : undefined),
    { timeoutMs: 150_000, intervalMs: 100 },
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}\n--- lab output ---\n${output}`);
  });
  if (up === 'exited') throw new Error(`the lab exited (${lab.exitCode})\n--- lab output ---\n${output}`);
  state = (await readLabState(dir))!;
}, 160_000);

afterAll(async () => {
  if (lab && lab.exitCode === null) {
    // The pids as they are now: a process replaced since start-up (a test restarts some) has a new one.
    const now = (await readLabState(dir)) ?? state;
    lab.kill('SIGKILL');
    for (const pid of Object.values(now?.processes ?? {})) if (alive(pid)) process.kill(pid!, 'SIGKILL');
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('isthmus lab', () => {
  it('podinfo-federated in east is answered by east and, through the tunnels, by west and north', async () => {
    expect(output).toContain('/podinfo-federated');
    const seen = new Set<string | undefined>();
    await waitFor(
      'answers from every member of podinfo-federated',
      async () => {
        const res = await getJson(`${state.frontend}/podinfo-federated`).catch(() => undefined);
        if (res?.status === 200) seen.add(res.body.upstream?.message);
        return CLUSTERS.every((c) => seen.has(`greetings from ${c}`)) ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 20 },
    );
    const { stdout } = await run(
      process.execPath,
      ['bin/isthmus.mjs', 'federated', '--kubeconfig', state.kubeconfig, '--context', 'east'],
      { timeout: 30_000 },
    );
    expect(stdout).toMatch(/^NAMESPACE\s+SERVICE\s+MEMBERS\s+AFFINITY\s+SERVING \(ENDPOINTS\)$/m);
    expect(stdout).toMatch(
      /^test\s+podinfo-federated\s+east,north,west\s+none\s+east \(1\), north \(1\), west \(1\)$/m,
    );
  });

  it("links every cluster to every other: east's frontend reaches north's podinfo, north reaches west's", async () => {
    expect(state.clusters.map((c) => c.name)).toEqual(CLUSTERS);
    // What `lab up` tells the user to try, for the cluster beyond east and west too.
    expect(output).toContain(`curl ${state.frontend}/podinfo-north `);
    expect(output).toContain('--context north');
    const fromEast = await getJson(`${state.frontend}/podinfo-north`);
    expect(fromEast.status).toBe(200);
    expect(fromEast.body.upstream?.message).toBe('greetings from north');
    // North has no frontend: a pod of north calling podinfo-west is a connection to what the mirror's
    // slice lists, north's gateway egress port, which tunnels to west's gateway.
    const [host, port] = (
      await kubectlIn(
        'north',
        '-n',
        'test',
        'get',
        'endpointslices',
        '-l',
        'kubernetes.io/service-name=podinfo-west',
        '-o',
        'jsonpath={.items[0].endpoints[0].addresses[0]} {.items[0].ports[0].port}',
      )
    ).split(' ');
    expect(host).toBe(labTopology(BASE, CLUSTERS)[2]!.gateway.host);
    const fromNorth = await request(`http://${host}:${port}/`, {
      headersTimeout: 5000,
      bodyTimeout: 5000,
      reset: true,
    });
    expect(fromNorth.statusCode).toBe(200);
    expect(((await fromNorth.body.json()) as { message?: string }).message).toBe('greetings from west');
    // Through the tunnel from north's gateway: west's ingress logs it (when it ends, at once here).
    await waitFor('west to log a tunnel from north', () => podinfoTunnels('west', 'north').length > 0, {
      timeoutMs: 10_000,
      intervalMs: 100,
    });
    expect(podinfoTunnels('west', 'north')[0]).toMatchObject({ direction: 'ingress' });
    // Every exported podinfo is mirrored into every other cluster.
    for (const [cluster, mirrors] of [
      ['east', ['podinfo-north', 'podinfo-west']],
      ['west', ['podinfo-north']],
      ['north', ['podinfo-west']],
    ] as const) {
      const names = await kubectlIn(cluster, '-n', 'test', 'get', 'svc', '-o', 'name');
      for (const m of mirrors) expect(names, cluster).toContain(`service/${m}\n`);
      // A lab that comes up cleanly says nothing alarming on its Links (`kubectl describe link`):
      // neither a namespace missing at first nor a remote API "unreachable" before first tried.
      const linkWarnings = await kubectlIn(
        cluster,
        '-n',
        'isthmus-system',
        'get',
        'events',
        '--field-selector',
        'involvedObject.kind=Link,type=Warning',
        '-o',
        'jsonpath={range .items[*]}{.reason}{"\\n"}{end}',
      );
      expect(linkWarnings, cluster).toBe('');
    }
  });

  it("podinfo-direct-west reaches west's pod itself: remote discovery, no gateway on the path", async () => {
    expect(output).toContain('/podinfo-direct-west');
    const res = await waitFor(
      'podinfo-direct-west answering',
      async () => {
        const r = await getJson(`${state.frontend}/podinfo-direct-west`).catch(() => undefined);
        return r?.status === 200 ? r : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 50 },
    );
    expect(res.body.upstream?.message).toBe('greetings from west');
    const addresses = '-o=jsonpath={.endpoints[*].addresses[0]}';
    const mirrored = await kubectlIn(
      'east',
      '-n',
      'test',
      'get',
      'endpointslice',
      'podinfo-direct-west',
      addresses,
    );
    const pods = await kubectlIn(
      'west',
      '-n',
      'test',
      'get',
      'endpointslice',
      'podinfo-direct-lab',
      addresses,
    );
    expect(mirrored).not.toBe('');
    expect(mirrored).toBe(pods);
  });

  it('serves east → west through the tunnel, and both gateways log it in their access log', async () => {
    const res = await getJson(`${state.frontend}/podinfo-west`);
    expect(res.status).toBe(200);
    expect(res.body.upstream?.message).toBe('greetings from west');
    // A line is written when a tunnel ends: the frontend's keep-alive connection to podinfo-west
    // ends once it has been idle for the HTTP client's keep-alive timeout (0.5 s here, see beforeAll).
    expect(output).toContain('logs -f deploy/isthmus-gateway');
    expect(output).toContain(`${join(dir, 'logs')}, e.g. east-gateway.log`);
    // East's gateway also logs its tunnels to north (podinfo-federated, podinfo-north): east ↔ west's.
    await waitFor(
      'an access-log line on both gateways',
      () => podinfoTunnels('east', 'west').length > 0 && podinfoTunnels('west', 'east').length > 0,
      {
        timeoutMs: 30_000,
        intervalMs: 200,
      },
    );
    expect(podinfoTunnels('east', 'west')[0]).toMatchObject({ direction: 'egress', peer: 'west' });
    expect(podinfoTunnels('west', 'east')[0]).toMatchObject({ direction: 'ingress', peer: 'east' });
  });

  it('mirrors a Service the user adds with kubectl, and east calls it through the tunnel', async () => {
    // What the README tells a user to type: a Service of their own over the podinfo pods.
    await kubectlIn(
      'west',
      '-n',
      'test',
      'expose',
      'deployment',
      'podinfo',
      '--name',
      'web',
      '--port',
      '80',
      '--target-port',
      'http',
    );
    await kubectlIn('west', '-n', 'test', 'label', 'svc/web', 'mirror.linkerd.io/exported=true');
    const res = await waitFor(
      'web-west to answer from west',
      async () => {
        const r = await getJson(`${state.frontend}/web-west`).catch(() => undefined);
        return r?.status === 200 ? r : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    expect(res.body.upstream?.message).toBe('greetings from west');
    // West's own slice of it, as the EndpointSlice controller writes it: podinfo's pod, the named port resolved.
    const slice = JSON.parse(
      await kubectlIn('west', '-n', 'test', 'get', 'endpointslice', 'web-lab', '-o', 'json'),
    );
    expect(slice.ports).toEqual([{ port: PODINFO_PORT, protocol: 'TCP' }]);
    expect(slice.endpoints.map((e: { targetRef?: { kind?: string } }) => e.targetRef?.kind)).toEqual(['Pod']);
    await kubectlIn('west', '-n', 'test', 'delete', 'svc', 'web');
    await waitFor(
      'web-west to go with it',
      async () =>
        (await kubectlIn('east', '-n', 'test', 'get', 'svc', '-o', 'name')).includes('service/web-west') ===
        false,
      { timeoutMs: 10_000, intervalMs: 100 },
    );
  });

  it('fails the podinfo apex over to west when east has no replicas, and back', async () => {
    expect((await getJson(`${state.frontend}/`)).body.upstream?.message).toBe('greetings from east');
    const east = KubeClient.fromKubeconfigFile(state.kubeconfig, 'east');
    try {
      // What the README tells a user to type.
      await run(
        'kubectl',
        [
          '--kubeconfig',
          state.kubeconfig,
          '--context',
          'east',
          '-n',
          'test',
          'scale',
          'deployment/podinfo',
          '--replicas=0',
        ],
        {
          timeout: 30_000,
        },
      );
      await waitFor(
        'requests to the apex to be served by west',
        async () => {
          const r = await getJson(`${state.frontend}/`);
          return r.body.upstream?.message === 'greetings from west' ? true : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 100 },
      );
      await east.patch(R.deployments, 'test', 'podinfo', { spec: { replicas: 1 } }, 'merge');
      await waitFor(
        'traffic to return to east',
        async () => {
          const r = await getJson(`${state.frontend}/`);
          return r.body.upstream?.message === 'greetings from east' ? true : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
    } finally {
      east.close();
    }
  });

  it('shows its pods as a cluster would: kubectl get pods and logs, isthmus gateways through the pod proxy', async () => {
    const kubectl = (...args: string[]) => kubectlIn('east', ...args);
    const pods = await kubectl('-n', 'isthmus-system', 'get', 'pods', '-o', 'wide', '--no-headers');
    const rows = pods
      .trim()
      .split('\n')
      .map((l) => l.split(/\s+/));
    expect(rows.map((r) => [r[0]!.replace(/-[a-z0-9]+-[a-z0-9]+$/, ''), r[1], r[2], r[5]])).toEqual([
      ['isthmus-controller', '1/1', 'Running', `127.0.${BASE}.4`],
      ['isthmus-gateway', '1/1', 'Running', `127.0.${BASE}.2`],
      ['isthmus-identity', '1/1', 'Running', `127.0.${BASE}.3`],
    ]);
    expect(await kubectl('-n', 'test', 'get', 'deploy', 'frontend', '--no-headers')).toMatch(
      /^frontend\s+1\/1\s+1\s+1\s/,
    );
    const logs = await kubectl('-n', 'isthmus-system', 'logs', 'deploy/isthmus-gateway');
    expect(logs).toContain('"msg":"ingress listening"');
    expect(logs.split('\n')[0]).toContain('"name":"isthmus-gateway"');
    // No --controller-admin: the command finds the controller pod and reads it through the API server.
    const { stdout } = await run(
      process.execPath,
      ['bin/isthmus.mjs', 'gateways', '--kubeconfig', state.kubeconfig, '--context', 'east'],
      { timeout: 30_000 },
    );
    // podinfo-west and podinfo-direct-west: NUM_SVC counts every mirror of the Link.
    // VERSION: what west's gateway answered the probes with.
    expect(stdout).toMatch(/^west\s+True\s+2\s+[\d.]+ms\s+[\d.]+ms\s+\d+\.\d+\.\d+\S*\s*$/m);
    // podinfo-north.
    expect(stdout).toMatch(/^north\s+True\s+1\s+[\d.]+ms\s+[\d.]+ms\s+\d+\.\d+\.\d+\S*\s*$/m);
  });

  it('restarts a process that dies, as a kubelet would: the pod shows it, logs --previous, traffic flows again', async () => {
    const before = (await readLabState(dir))!.processes['west/gateway']!;
    process.kill(before, 'SIGKILL');
    const after = await waitFor(
      'the west gateway to be restarted',
      async () => {
        const pid = (await readLabState(dir))?.processes['west/gateway'];
        return pid !== undefined && pid !== before && alive(pid) ? pid : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(output).toContain('west/gateway exited (signal SIGKILL); restarting in 1s');
    const west = (...args: string[]) => kubectlIn('west', '-n', 'isthmus-system', ...args);
    const gatewayPods = (...out: string[]) =>
      west('get', 'pods', '-l', 'app.kubernetes.io/name=isthmus-gateway', ...out);
    const status =
      '{.items[0].status.containerStatuses[0].restartCount} {.items[0].status.containerStatuses[0].ready} {.items[0].status.containerStatuses[0].lastState.terminated.exitCode}';
    await waitFor(
      'the west gateway pod to be ready again after one restart',
      async () => {
        const out = await gatewayPods('-o', `jsonpath=${status}`);
        return out === '1 true 137' ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    const row = await gatewayPods('--no-headers');
    expect(row).toMatch(/^isthmus-gateway-\S+\s+1\/1\s+Running\s+1 \(\d+s ago\)\s/);
    // The kubelet's events, as `kubectl describe pod` and `get events` show them.
    const events = await west('get', 'events');
    expect(events).toMatch(
      /Warning\s+BackOff\s+pod\/isthmus-gateway-\S+\s+Back-off restarting failed container gateway in pod isthmus-gateway-/,
    );
    expect(events).toMatch(/Normal\s+Started\s+pod\/isthmus-gateway-\S+\s+Started container gateway/);
    const previous = await west('logs', 'deploy/isthmus-gateway', '--previous');
    expect(previous).toContain(`"pid":${before}`);
    expect(previous).not.toContain(`"pid":${after}`);
    const current = await west('logs', 'deploy/isthmus-gateway');
    expect(current).toContain(`"pid":${after}`);
    expect(current).not.toContain(`"pid":${before}`);
    await tunnelServesAgain();
  });

  it('a controller restarted in its pod takes its crashed run’s Lease at once: POD_NAME is the pod’s name', async () => {
    const west = (...args: string[]) => kubectlIn('west', '-n', 'isthmus-system', ...args);
    const podName = () =>
      west(
        'get',
        'pods',
        '-l',
        'app.kubernetes.io/name=isthmus-controller',
        '-o',
        'jsonpath={.items[*].metadata.name}',
      );
    const pod = await podName();
    const before = (await readLabState(dir))!.processes['west/controller']!;
    process.kill(before, 'SIGKILL');
    await waitFor(
      'the west controller to be restarted',
      async () => {
        const pid = (await readLabState(dir))?.processes['west/controller'];
        return pid !== undefined && pid !== before && alive(pid) ? pid : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    // The new run's log (kubectl logs shows the current run only, from its restart on; the
    // controller's lines carry no pid): its leadership line.
    const gained = await waitFor(
      'the restarted west controller to lead',
      async () =>
        (await west('logs', 'deploy/isthmus-controller'))
          .split('\n')
          .find((l) => l.includes('"msg":"leadership gained"')),
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    // previous-run, not expired: the holder was `<its pod>_<the crashed run>`, so no ~15 s wait.
    expect(JSON.parse(gained)).toMatchObject({
      reason: 'previous-run',
      previousHolder: expect.stringMatching(`^${pod}_`),
    });
    expect(await podName()).toBe(pod);
  });

  it('kubectl scale of the west gateway to 0 stops it (pod gone), and back to 1 starts a fresh one', async () => {
    const west = (...args: string[]) => kubectlIn('west', '-n', 'isthmus-system', ...args);
    const before = (await readLabState(dir))!.processes['west/gateway']!;
    await west('scale', 'deployment/isthmus-gateway', '--replicas=0');
    await waitFor('the west gateway process to stop', () => !alive(before), {
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    await waitFor(
      'its pod to go',
      async () =>
        (await west('get', 'pods', '-l', 'app.kubernetes.io/name=isthmus-gateway', '-o', 'name')) === ''
          ? true
          : undefined,
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    await west('scale', 'deployment/isthmus-gateway', '--replicas=1');
    await waitFor(
      'a fresh gateway pod, ready, no restarts',
      async () => {
        const out = await west('get', 'pods', '-l', 'app.kubernetes.io/name=isthmus-gateway', '--no-headers');
        return /^isthmus-gateway-\S+\s+1\/1\s+Running\s+0\s/.test(out) ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    expect(await west('get', 'deployment', 'isthmus-gateway', '--no-headers')).toMatch(
      /^isthmus-gateway\s+1\/1\s/,
    );
    await tunnelServesAgain();

    // Stopped, then one apply that changes the pod template and asks for a replica: it starts.
    const gatewayPods = () =>
      west('get', 'pods', '-l', 'app.kubernetes.io/name=isthmus-gateway', '-o', 'name');
    const oldPod = (await gatewayPods()).trim();
    await west('scale', 'deployment/isthmus-gateway', '--replicas=0');
    await waitFor('its pod to go again', async () => ((await gatewayPods()) === '' ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 200,
    });
    const patch = {
      spec: { replicas: 1, template: { metadata: { annotations: { 'lab.isthmus.dev/poke': '1' } } } },
    };
    await west('patch', 'deployment/isthmus-gateway', '-p', JSON.stringify(patch));
    await west('rollout', 'status', 'deployment/isthmus-gateway', '--timeout=60s');
    const newPod = (await gatewayPods()).trim();
    expect(newPod).toMatch(/^pod\/isthmus-gateway-/);
    expect(newPod).not.toBe(oldPod);
    await tunnelServesAgain();
  });

  it('kubectl delete pod and kubectl rollout restart replace the process, as in a cluster', async () => {
    const east = (...args: string[]) => kubectlIn('east', '-n', 'isthmus-system', ...args);
    const pid = async (name: string) => (await readLabState(dir))!.processes[name]!;
    const replaced = (name: string, before: number) =>
      waitFor(
        `${name} to be replaced`,
        async () => {
          const now = await pid(name);
          return now !== before && alive(now) && !alive(before) ? now : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );

    const controller = await pid('east/controller');
    // As in a cluster: the pod is Terminating while the kubelet stops its process, and `kubectl
    // delete` (which waits) returns once the kubelet has deleted it, after the process exited.
    await east('delete', 'pod', '-l', 'app.kubernetes.io/name=isthmus-controller');
    expect(alive(controller)).toBe(false);
    // The replacement pod was written at once, not ready, so the Deployment is unavailable until
    // the new run is ready (as a ReplicaSet's new pod), and `kubectl rollout status` follows it.
    await east('rollout', 'status', 'deployment/isthmus-controller', '--timeout=60s');
    expect(
      await east('get', 'pods', '-l', 'app.kubernetes.io/name=isthmus-controller', '--no-headers'),
    ).toMatch(/^isthmus-controller-\S+\s+1\/1\s+Running\s+0\s[^\n]*\n?$/);
    await replaced('east/controller', controller);
    expect(output).toContain('east/controller replaced: its pod was deleted');

    // The demo's pods come back too (new objects), as their ReplicaSets would bring them back.
    const uids = () =>
      kubectlIn(
        'east',
        '-n',
        'test',
        'get',
        'pods',
        '-l',
        'app in (podinfo,frontend)',
        '-o',
        'jsonpath={.items[*].metadata.uid}',
      );
    const before = (await uids()).split(' ');
    expect(before).toHaveLength(2);
    await kubectlIn('east', '-n', 'test', 'delete', 'pod', '-l', 'app in (podinfo,frontend)');
    await waitFor(
      'new podinfo and frontend pods',
      async () => {
        const now = (await uids()).split(' ').filter((u) => u !== '');
        return now.length === 2 && now.every((u) => !before.includes(u)) ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );

    const gateway = await pid('east/gateway');
    const oldPod = (
      await east('get', 'pods', '-l', 'app.kubernetes.io/name=isthmus-gateway', '-o', 'name')
    ).trim();
    await east('rollout', 'restart', 'deployment/isthmus-gateway');
    await waitFor(
      'the kubelet to stop the old gateway',
      async () =>
        /Normal\s+Killing\s+pod\/isthmus-gateway-\S+\s+Stopping container gateway/.test(
          await east('get', 'events'),
        )
          ? true
          : undefined,
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    await replaced('east/gateway', gateway);
    await east('rollout', 'status', 'deployment/isthmus-gateway', '--timeout=60s');
    const newPod = (
      await east('get', 'pods', '-l', 'app.kubernetes.io/name=isthmus-gateway', '-o', 'name')
    ).trim();
    expect(newPod).toMatch(/^pod\/isthmus-gateway-/);
    expect(newPod).not.toBe(oldPod);
    await tunnelServesAgain();
  });

  it('refuses a second lab up with a clear error, and leaves the running lab and its state alone', async () => {
    const up = (labDir: string) =>
      run(
        process.execPath,
        ['bin/isthmus.mjs', 'lab', 'up', '--local', '--dir', labDir, '--base', String(BASE)],
        {
          timeout: 60_000,
        },
      ).then(
        () => ({ code: 0, stderr: '' }),
        (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
      );
    const otherDir = mkdtempSync(join(tmpdir(), 'isthmus-lab-2-'));
    // The running lab's certificates, which `lab up` reuses: not minted again (~1 s of RSA keys).
    cpSync(join(dir, 'certs'), join(otherDir, 'certs'), { recursive: true });
    try {
      // Two independent refusals: side by side.
      const [same, other] = await Promise.all([up(dir), up(otherDir)]);
      expect(same.code).toBe(1);
      expect(same.stderr).toContain(`a lab is already running from ${dir} (pid ${state.pid})`);
      expect(other.code).toBe(1);
      expect(other.stderr).toContain(`127.0.${BASE}.1:6443 is in use: another lab with the same --base`);
    } finally {
      rmSync(otherDir, { recursive: true, force: true });
    }
    expect((await readLabState(dir))?.pid).toBe(state.pid);
    expect((await getJson(`${state.frontend}/podinfo-west`)).status).toBe(200);
  });

  it('reports every process ready in lab status, identity included', async () => {
    const status = spawn(process.execPath, ['bin/isthmus.mjs', 'lab', 'status', '--local', '--dir', dir]);
    let text = '';
    status.stdout.on('data', (d: Buffer) => {
      text += d.toString();
    });
    const code = await new Promise<number | null>((r) => status.once('exit', r));
    expect(code, text).toBe(0);
    // Every process the lab runs, each checked to be the one state.json recorded (not a reused pid).
    for (const name of CLUSTERS)
      expect(text).toMatch(new RegExp(`${name}: .*identity ready {2}gateway ready {2}controller ready`));
    // Each identity serves its metrics on its own address (a shared default port would crash-loop one).
    for (const c of labTopology(BASE, CLUSTERS)) {
      const metrics = await fetch(`http://${c.identity.host}:${c.identity.adminPort}/metrics`);
      expect(metrics.status, c.name).toBe(200);
      expect(await metrics.text()).toMatch(
        /^isthmus_identity_certificate_expiration_timestamp_seconds\{certificate="issuer"\} \d+/m,
      );
    }
  });

  it('stops everything on Ctrl-C, leaving no process behind', async () => {
    // Re-read: a process restarted by an earlier test has a new pid.
    const children = Object.values((await readLabState(dir))!.processes);
    expect(children.length).toBe(3 * CLUSTERS.length);
    expect(children.every(alive)).toBe(true);
    lab.kill('SIGINT');
    const exit = await waitFor(
      'the lab to exit',
      () => (lab.exitCode === null ? undefined : { code: lab.exitCode }),
      {
        timeoutMs: 40_000,
        intervalMs: 100,
      },
    );
    expect(exit.code).toBe(0);
    expect(output).toContain('lab stopped');
    expect(children.filter(alive)).toEqual([]);
  });

  // Not only Ctrl-C from a terminal, which reaches every process of the group: a SIGTERM to the
  // lab alone (kill, a process manager), or the SIGHUP of a closed terminal, which the gateways
  // take as "re-read the certificate". The two starts are independent (each its own --base: east
  // 127.0.47.x and west .48.x, or .49.x and .50.x), so they run side by side.
  it.concurrent.for([
    ['SIGTERM', 47],
    ['SIGHUP', 49],
  ] as const)(
    'a %s while the lab starts stops everything it started so far, leaving no process behind',
    { timeout: 180_000 },
    async ([signal, base], { expect }) => {
      const startDir = mkdtempSync(join(tmpdir(), 'isthmus-lab-start-'));
      // The first lab's certificates, which `lab up` reuses: not minted again (~1 s of RSA keys).
      cpSync(join(dir, 'certs'), join(startDir, 'certs'), { recursive: true });
      const starting = spawn(
        process.execPath,
        ['bin/isthmus.mjs', 'lab', 'up', '--local', '--dir', startDir, '--base', String(base)],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let text = '';
      starting.stdout!.on('data', (d: Buffer) => {
        text += d.toString();
      });
      starting.stderr!.on('data', (d: Buffer) => {
        text += d.toString();
      });
      let children: number[] = [];
      try {
        await waitFor(
          "east's processes started",
          () => text.includes('cluster east: installed; identity, gateway and controller processes started'),
          { timeoutMs: 120_000, intervalMs: 100 },
        ).catch((err: unknown) => {
          throw new Error(`${String(err)}\n--- lab output ---\n${text}`);
        });
        children = childrenOf(starting.pid!);
        expect(children.length, text).toBeGreaterThanOrEqual(3);
        starting.kill(signal);
        const exit = await waitFor(
          'the starting lab to exit',
          () => (starting.exitCode === null ? undefined : { code: starting.exitCode }),
          { timeoutMs: 40_000, intervalMs: 100 },
        ).catch(() => ({ code: 'still running' }));
        expect(exit.code, text).toBe(128 + osConstants.signals[signal]);
        expect(text).toContain('lab start interrupted; everything it started is stopped');
        expect(children.filter(alive)).toEqual([]);
        expect(existsSync(join(startDir, 'state.json'))).toBe(false);
      } finally {
        if (starting.exitCode === null) starting.kill('SIGKILL');
        for (const pid of children) if (alive(pid)) process.kill(pid, 'SIGKILL');
        rmSync(startDir, { recursive: true, force: true });
      }
    },
  );
});
