/** What `lab up` prints once ready, and the `lab status` / `lab down` verbs on a running lab. */
import { dirname, join } from 'node:path';
import { parseHostPort } from '../../host-port.js';
import { waitFor } from '../../wait-for.js';
import {
  isRecordedProcess,
  type LabState,
  LOCAL_LAB_DIR,
  labDownCommand,
  processesLeftRunning,
  readLabState,
} from './lab-state.js';
import { grpcServing, httpReady, tcpOpen } from './probes.js';
import { type ProcRead, readProc } from './process-start.js';

/** "west", "west and north", "east, west and north" (or "…, west or north"). */
export function inProse(names: readonly string[], conjunction: 'and' | 'or' = 'and'): string {
  return names.length < 2
    ? (names[0] ?? '')
    : `${names.slice(0, -1).join(', ')} ${conjunction} ${names.at(-1)}`;
}

/**
 * The clusters by their part in the demo (LAB_CLUSTERS): the first is east's, the second west's,
 * and every further one exports its podinfo, as west does.
 */
export function printLabReady(state: LabState, out: (line: string) => void, dir: string): void {
  const kc = state.kubeconfig;
  const names = state.clusters.map((c) => c.name);
  const [east = 'east', west = 'west', ...more] = names;
  const fe = state.frontend;
  const linked = names.length === 2 ? 'linked both ways' : 'each linked to every other';
  out('');
  out(`The lab is up. Clusters ${inProse(names)}, ${linked}:`);
  out(`  export KUBECONFIG=${kc}`);
  out(
    `  kubectl --context ${east} get svc -A                 # podinfo-${west} is the mirror of ${west}/test/podinfo`,
  );
  out(`  kubectl --context ${east} -n test get endpointslices # it points at ${east}'s gateway egress port`);
  out(
    `  curl ${fe}/podinfo-${west}              # ${east} frontend → ${east} gateway → mTLS → ${west} podinfo`,
  );
  out(`  curl ${fe}/                          # the podinfo apex (TrafficSplit; fails over to ${west})`);
  // As it always read for two clusters.
  const answeredBy = names.length === 2 ? `${east} or by ${west}` : inProse(names, 'or');
  out(`  curl ${fe}/podinfo-federated         # federated podinfo: answered by ${answeredBy}`);
  out(
    `  curl ${fe}/podinfo-direct-${west}       # remote discovery: ${east} frontend → ${west} pod directly, no gateway`,
  );
  for (const name of more) {
    out(
      `  curl ${fe}/podinfo-${name}             # ${east} frontend → ${east} gateway → mTLS → ${name} podinfo`,
    );
    out(
      `  kubectl --context ${name} -n test get endpointslices   # in ${name}: every other cluster's podinfo at ${name}'s gateway egress ports (curl one)`,
    );
  }
  out(
    `  kubectl --context ${east} -n test scale deployment/podinfo --replicas=0   # then curl the apex again`,
  );
  out(
    `  kubectl --context ${east} -n isthmus-system logs -f deploy/isthmus-gateway   # the access log: a line per tunnel, when it closes`,
  );
  out(`    (every process logs to ${join(dirname(kc), 'logs')}, e.g. ${east}-gateway.log)`);
  out(
    `  kubectl --context ${west} -n isthmus-system scale deployment/isthmus-gateway --replicas=0   # take ${west}'s gateway down (1 brings it back)`,
  );
  out(`  node bin/isthmus.mjs check --kubeconfig ${kc} --context ${east}`);
  out(
    `  node bin/isthmus.mjs gateways --kubeconfig ${kc} --context ${east}   # remote gateways: alive, latency`,
  );
  out(
    `  node bin/isthmus.mjs routes --kubeconfig ${kc} --context ${east}     # egress port → remote Service`,
  );
  out(
    `  node bin/isthmus.mjs federated --kubeconfig ${kc} --context ${east}  # podinfo-federated: what each cluster serves`,
  );
  // A lab run from --dir (a second one beside the first, or in the background) is found only with
  // the same --dir: said here, where it is known.
  const at = dir === LOCAL_LAB_DIR ? '' : ` --dir ${dir}`;
  out(
    `Ctrl-C stops everything; from another terminal: node bin/isthmus.mjs lab status${at}, node bin/isthmus.mjs lab down${at}`,
  );
}

/** What `lab status` says of one part: its process runs (as recorded) and answers its probe. */
export type PartState = 'ready' | 'NOT READY' | 'NOT RUNNING';

/** `running` undefined: no pid recorded for it (a state written before), the probe decides. */
export function partState(running: boolean | undefined, ready: boolean): PartState {
  if (running === false) return 'NOT RUNNING';
  return ready ? 'ready' : 'NOT READY';
}

/** Every process the lab runs in a cluster, each with its Deployment's readiness probe. */
const PARTS = [
  {
    part: 'identity',
    // As the Deployment's probes: gRPC health on the plaintext port. An older state records only
    // the Certify port, and an open port is all it can say.
    probe: (c: LabState['clusters'][number]) => {
      const health = c.identityHealth ? parseHostPort(c.identityHealth) : null;
      if (health) return grpcServing(health.host, health.port);
      const certify = c.identity ? parseHostPort(c.identity) : null;
      return certify && tcpOpen(certify.host, certify.port);
    },
  },
  { part: 'gateway', probe: (c: LabState['clusters'][number]) => httpReady(`${c.gatewayAdmin}/ready`) },
  { part: 'controller', probe: (c: LabState['clusters'][number]) => httpReady(`${c.controllerAdmin}/ready`) },
] as const;

/**
 * Where to scrape or probe a cluster's processes (`lab status`): each admin server (`/metrics`,
 * `/ready`, `/live`) and what its Deployment's readiness probe asks, which is what the lab's
 * kubelet asks for the pod's readiness. A state written before identity's admin address was
 * recorded shows what it has.
 */
export function scrapeLines(c: LabState['clusters'][number]): string[] {
  const lines = [`    gateway admin     ${c.gatewayAdmin}  /metrics /ready /live  (readiness probe: /ready)`];
  const identityProbe = c.identityHealth ? `  (readiness probe: gRPC health ${c.identityHealth})` : '';
  if (c.identityAdmin)
    lines.push(`    identity admin    ${c.identityAdmin}  /metrics /ready /live${identityProbe}`);
  else if (identityProbe) lines.push(`    identity${identityProbe}`);
  lines.push(`    controller admin  ${c.controllerAdmin}  /metrics /ready /live  (readiness probe: /ready)`);
  return lines;
}

export async function labStatusLines(
  dir: string,
  read: ProcRead = readProc,
): Promise<{ lines: string[]; healthy: boolean }> {
  const state = await readLabState(dir);
  if (!state || !isRecordedProcess(state, state.pid, read)) {
    const left = state ? processesLeftRunning(state, read).map(([name]) => name) : [];
    const lines = [
      `no lab is running (state in ${dir}; a lab started with --dir is found with the same --dir)`,
    ];
    if (left.length > 0)
      lines.push(
        `  still running, left by a lab that exited: ${left.join(', ')} (\`${labDownCommand(dir)}\` stops them)`,
      );
    return { lines, healthy: false };
  }
  if (state.starting) {
    const started = Object.entries(state.processes)
      .filter(([, pid]) => isRecordedProcess(state, pid, read))
      .map(([name]) => name);
    const so = started.length > 0 ? `started so far: ${started.join(', ')}` : 'no process started yet';
    return {
      lines: [`lab starting (pid ${state.pid}); ${so} (\`${labDownCommand(dir)}\` stops it)`],
      healthy: false,
    };
  }
  const lines = [`lab running (pid ${state.pid}); KUBECONFIG=${state.kubeconfig}`];
  let healthy = true;
  for (const c of state.clusters) {
    const states = await Promise.all(
      PARTS.map(async ({ part, probe }) => {
        const pid = state.processes[`${c.name}/${part}`];
        const running = pid === undefined ? undefined : isRecordedProcess(state, pid, read);
        // Without an address to probe (a state written before), running is all there is to know.
        const ready = running === false ? false : ((await probe(c)) ?? running === true);
        return `${part} ${partState(running, ready)}`;
      }),
    );
    healthy &&= states.every((s) => s.endsWith(' ready'));
    lines.push(`  ${c.name}: api ${c.api}  ${states.join('  ')}`, ...scrapeLines(c));
  }
  lines.push(`  frontend: ${state.frontend}`);
  return { lines, healthy };
}

/**
 * SIGTERM the `lab up` process and wait (with a deadline) until it is gone. Where it is gone already
 * (killed), the processes it left running are stopped instead: they hold the lab's addresses.
 */
export async function stopLocalLab(
  dir: string,
  timeoutMs = 30_000,
  read: ProcRead = readProc,
): Promise<string> {
  const state = await readLabState(dir);
  if (!state) return 'no lab is running';
  const gone = (pids: number[]) =>
    waitFor('the lab to stop', () => pids.every((pid) => !isRecordedProcess(state, pid, read)), {
      timeoutMs,
      intervalMs: 100,
    }).then(
      () => true,
      () => false,
    );
  if (isRecordedProcess(state, state.pid, read)) {
    process.kill(state.pid, 'SIGTERM');
    if (await gone([state.pid])) return 'lab stopped';
    return `lab (pid ${state.pid}) did not stop within ${timeoutMs / 1000}s`;
  }
  const left = processesLeftRunning(state, read);
  if (left.length === 0) return 'no lab is running';
  for (const [, pid] of left) process.kill(pid, 'SIGTERM');
  const names = left.map(([name]) => name).join(', ');
  if (await gone(left.map(([, pid]) => pid)))
    return `the lab process had exited; stopped what it left running: ${names}`;
  return `the lab process had exited; what it left running (${names}) did not stop within ${timeoutMs / 1000}s`;
}
