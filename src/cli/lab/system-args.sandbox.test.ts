/**
 * The lab's processes run what their Deployment declares: a flag the user adds to the gateway's
 * template (as `isthmus upgrade`, `kubectl edit` or `kubectl patch` would) reaches the new run,
 * restarts in the pod keep it, and a template the lab cannot run shows on its pod
 * (CreateContainerConfigError) while the old run serves on, as a rolling update with the install's
 * strategy (maxUnavailable 0) keeps its old pod. A stand-in for the gateway that listens where its
 * argv says (the lab's --admin-host/--admin-port) and answers its argv, the lab's own kubelet and
 * ProcessGroup, and a sandbox API server with the install applied as the lab applies it.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { updateWithRetry } from '../../kube/apply.js';
import type { KubeClient } from '../../kube/client.js';
import { SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { V1Deployment, V1Pod } from '../../kube/types.js';
import { waitFor } from '../../wait-for.js';
import type { ProcessGroup } from './processes.js';
import { type Closers, closeAll, installedSandbox, runStandIn } from './test-support.js';
import { labCluster } from './topology.js';

/** West of a lab at --base 176: apart from every other test's addresses. */
const WEST = labCluster('west', 177);
const { host: HOST, adminPort: PORT } = WEST.gateway;
const PROCESS = 'west/gateway';
const DEPLOYMENT = 'isthmus-gateway';

/** The gateway's admin port where its argv puts it: /ready, and /args with the run's pid and argv. */
const STAND_IN = `
import { createServer } from 'node:http';
const flag = (name) => process.argv.find((a) => a.startsWith(\`--\${name}=\`))?.slice(name.length + 3);
const server = createServer((req, res) => {
  if (req.url === '/args') res.writeHead(200).end(JSON.stringify({ pid: process.pid, args: process.argv.slice(2) }));
  else res.writeHead(req.url === '/ready' ? 200 : 404).end();
});
server.listen(Number(flag('admin-port')), flag('admin-host'));
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
});
`;

const dir = mkdtempSync(join(tmpdir(), 'isthmus-system-args-'));
const closers: Closers = [];
const notices: string[] = [];
let admin: KubeClient;

afterAll(() => closeAll(closers, dir));

const WAIT = { timeoutMs: 30_000, intervalMs: 100 };

async function startWest(): Promise<ProcessGroup> {
  admin = await installedSandbox(WEST, closers);
  const lab = {
    part: 'gateway' as const,
    cluster: WEST,
    kubeconfig: join(dir, 'west-isthmus-gateway.kubeconfig'),
    certs: join(dir, 'certs'),
    identityToken: join(dir, 'west-gateway.token'),
  };
  const p = { part: 'gateway', host: HOST, script: STAND_IN, args: [], dir, lab, firstBackoffMs: 100 };
  return runStandIn(admin, WEST, { ...p, notice: (l) => notices.push(l) }, closers);
}

interface Run {
  pid: number;
  args: string[];
}

/** The run answering now, once `ok` says it is the one looked for. */
function runWhere(what: string, ok: (r: Run) => boolean): Promise<Run> {
  return waitFor(
    what,
    async () => {
      const run = (await (await fetch(`http://${HOST}:${PORT}/args`)).json()) as Run;
      return ok(run) ? run : undefined;
    },
    WAIT,
  );
}

/** The argv the kernel has for `pid` (/proc/<pid>/cmdline), node's own first. */
const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');

async function gatewayPods(): Promise<V1Pod[]> {
  const { items } = await admin.list<V1Pod>(R.pods, {
    namespace: SYSTEM_NAMESPACE,
    labelSelector: `app.kubernetes.io/name=${DEPLOYMENT}`,
  });
  return items;
}

const waitingOf = (p: V1Pod) => p.status?.containerStatuses?.[0]?.state?.waiting;

/**
 * The template's container args, changed by `edit` (a replace, as `kubectl edit` does; read again
 * on a 409, since the lab's Deployment controller writes the status meanwhile).
 */
async function editArgs(edit: (args: string[]) => string[]): Promise<void> {
  await updateWithRetry<V1Deployment>(admin, R.deployments, SYSTEM_NAMESPACE, DEPLOYMENT, (d) => {
    const container = d.spec!.template.spec!.containers[0]!;
    container.args = edit(container.args ?? []);
    return d;
  });
}

const deploymentStatus = async () =>
  (await admin.get<V1Deployment>(R.deployments, SYSTEM_NAMESPACE, DEPLOYMENT))?.status;

const scale = (replicas: number) =>
  admin.patch(R.deployments, SYSTEM_NAMESPACE, DEPLOYMENT, { spec: { replicas } }, 'merge');

const CANNOT = '--cert-file=/etc/tls/tls.crt';

describe("the lab's isthmus-system processes", () => {
  it('run the flags their Deployment declares; a template the lab cannot run shows on its pod', async () => {
    const procs = await startWest();
    const first = await runWhere('the first run', () => true);
    expect(first.args).toEqual(
      expect.arrayContaining([
        `--admin-host=${HOST}`,
        `--admin-port=${PORT}`,
        '--egress-port-range=20000-29999',
      ]),
    );
    expect(first.args).not.toContain('--in-cluster');

    // A flag added to the template: the new pod's run has it, in its argv as the kernel has it.
    await editArgs((args) => [...args, '--max-tunnels=7']);
    const rolled = await runWhere('a run with --max-tunnels=7', (r) => r.args.includes('--max-tunnels=7'));
    expect(rolled.pid).not.toBe(first.pid);
    expect(cmdline(rolled.pid)).toContain('--max-tunnels=7');

    // Killed: restarted in the same pod, with that pod's argv.
    const [pod] = await gatewayPods();
    process.kill(rolled.pid, 'SIGKILL');
    const restarted = await runWhere('the restarted run', (r) => r.pid !== rolled.pid);
    expect(restarted.args).toEqual(rolled.args);
    expect(procs.process(PROCESS)?.restarts).toBe(1);
    expect((await gatewayPods()).map((p) => p.metadata?.name)).toEqual([pod!.metadata?.name]);

    // A flag the lab cannot run: the new pod waits, saying why; the old run serves on.
    await editArgs((args) => [...args, CANNOT]);
    const stuck = await waitFor(
      'the new pod waiting in CreateContainerConfigError',
      async () =>
        (await gatewayPods()).find((p) => waitingOf(p)?.reason === 'CreateContainerConfigError') ?? undefined,
      WAIT,
    );
    expect(waitingOf(stuck)?.message).toContain(CANNOT);
    expect(stuck.status?.podIP).toBeUndefined();
    // The old pod stays, Running and Ready, beside it: the rollout is stuck, not done.
    const counts = { replicas: 2, updatedReplicas: 1, availableReplicas: 1 };
    const status = await waitFor(
      'the stuck rollout in the status: two pods, one updated, one (the old) available',
      async () => {
        const st = await deploymentStatus();
        return st && Object.entries(counts).every(([k, v]) => st[k as keyof typeof counts] === v)
          ? st
          : undefined;
      },
      WAIT,
    );
    expect(status.conditions?.find((c) => c.type === 'Available')?.status).toBe('True');
    expect((await runWhere('the old run', () => true)).pid).toBe(restarted.pid);
    expect(procs.process(PROCESS)?.child.pid).toBe(restarted.pid);
    expect(notices.join('\n')).toContain(CANNOT);

    // Undone (the running pod's template again): the stuck pod goes, the run is not replaced.
    await editArgs((args) => args.filter((a) => a !== CANNOT));
    await waitFor(
      'the stuck pod to go',
      async () => ((await gatewayPods()).length === 1 ? true : undefined),
      WAIT,
    );
    expect(procs.process(PROCESS)?.child.pid).toBe(restarted.pid);
    await waitFor(
      'the Deployment to count one pod',
      async () => ((await deploymentStatus())?.replicas === 1 ? true : undefined),
      WAIT,
    );

    // With no old run (scaled to 0 and back): the pod waits, nothing runs, the Deployment is unavailable.
    await editArgs((args) => [...args, CANNOT]);
    await waitFor('the stuck pod', async () => ((await gatewayPods()).length === 2 ? true : undefined), WAIT);
    await scale(0);
    await waitFor('no pod', async () => ((await gatewayPods()).length === 0 ? true : undefined), WAIT);
    await scale(1);
    const alone = await waitFor(
      'the one pod, waiting',
      async () => {
        const pods = await gatewayPods();
        return pods.length === 1 && waitingOf(pods[0]!)?.reason === 'CreateContainerConfigError'
          ? pods[0]
          : undefined;
      },
      WAIT,
    );
    expect(waitingOf(alone)?.message).toContain(CANNOT);
    expect(procs.isPaused(PROCESS)).toBe(true);
    await expect(fetch(`http://${HOST}:${PORT}/args`)).rejects.toThrow();
    const unavailable = await deploymentStatus();
    expect(unavailable?.conditions?.find((c) => c.type === 'Available')?.status).toBe('False');
    expect(unavailable?.availableReplicas ?? 0).toBe(0);

    // Fixed: the new template's run starts, with the flag the user asked for.
    await editArgs((args) => args.filter((a) => a !== CANNOT));
    const fixed = await runWhere('the run of the fixed template', (r) => r.pid !== restarted.pid);
    expect(fixed.args).toContain('--max-tunnels=7');
    expect(fixed.args).not.toContain(CANNOT);
    await waitFor(
      'the Deployment available',
      async () => ((await deploymentStatus())?.availableReplicas === 1 ? true : undefined),
      WAIT,
    );
  }, 120_000);
});
