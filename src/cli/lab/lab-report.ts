/** What `lab up` prints once ready, and the `lab status` / `lab down` verbs on a running lab. */
import { dirname, join } from 'node:path';
import { request } from 'undici';
import { processAlive as alive, type LabState, readLabState } from './lab-state.js';

export function printLabReady(state: LabState, out: (line: string) => void): void {
  const kc = state.kubeconfig;
  out('');
  out('The lab is up. Clusters east and west, linked both ways:');
  out(`  export KUBECONFIG=${kc}`);
  out(
    '  kubectl --context east get svc -A                 # podinfo-west is the mirror of west/test/podinfo',
  );
  out("  kubectl --context east -n test get endpointslices # it points at east's gateway egress port");
  out(
    `  curl ${state.frontend}/podinfo-west              # east frontend → east gateway → mTLS → west podinfo`,
  );
  out(
    `  curl ${state.frontend}/                          # the podinfo apex (TrafficSplit; fails over to west)`,
  );
  out(`  curl ${state.frontend}/podinfo-federated         # federated podinfo: answered by east or by west`);
  out(
    `  curl ${state.frontend}/podinfo-direct-west       # remote discovery: east frontend → west pod directly, no gateway`,
  );
  out('  kubectl --context east -n test scale deployment/podinfo --replicas=0   # then curl the apex again');
  out(
    '  kubectl --context east -n isthmus-system logs -f deploy/isthmus-gateway   # the access log: a line per tunnel',
  );
  out(`    (every process logs to ${join(dirname(kc), 'logs')}, e.g. east-gateway.log)`);
  out(
    "  kubectl --context west -n isthmus-system scale deployment/isthmus-gateway --replicas=0   # take west's gateway down (1 brings it back)",
  );
  out(`  node bin/isthmus.mjs check --kubeconfig ${kc} --context east`);
  out(
    `  node bin/isthmus.mjs gateways --kubeconfig ${kc} --context east   # remote gateways: alive, latency`,
  );
  out(`  node bin/isthmus.mjs routes --kubeconfig ${kc} --context east     # egress port → remote Service`);
  out(
    `  node bin/isthmus.mjs federated --kubeconfig ${kc} --context east  # podinfo-federated: what each cluster serves`,
  );
  out('Ctrl-C stops everything.');
}

async function ready(url: string): Promise<boolean> {
  try {
    const res = await request(`${url}/ready`, { headersTimeout: 2000, bodyTimeout: 2000 });
    await res.body.dump();
    return res.statusCode === 200;
  } catch {
    return false;
  }
}

export async function labStatusLines(dir: string): Promise<{ lines: string[]; healthy: boolean }> {
  const state = await readLabState(dir);
  if (!state || !alive(state.pid)) return { lines: [`no lab is running (state in ${dir})`], healthy: false };
  const lines = [`lab running (pid ${state.pid}); KUBECONFIG=${state.kubeconfig}`];
  let healthy = true;
  for (const c of state.clusters) {
    const gw = await ready(c.gatewayAdmin);
    const ctl = await ready(c.controllerAdmin);
    healthy &&= gw && ctl;
    lines.push(
      `  ${c.name}: api ${c.api}  gateway ${gw ? 'ready' : 'NOT READY'}  controller ${ctl ? 'ready' : 'NOT READY'}`,
    );
  }
  lines.push(`  frontend: ${state.frontend}`);
  return { lines, healthy };
}

/** SIGTERM the `lab up` process and wait (with a deadline) until it is gone. */
export async function stopLocalLab(dir: string, timeoutMs = 30_000): Promise<string> {
  const state = await readLabState(dir);
  if (!state || !alive(state.pid)) return 'no lab is running';
  process.kill(state.pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (alive(state.pid)) {
    if (Date.now() > deadline) return `lab (pid ${state.pid}) did not stop within ${timeoutMs / 1000}s`;
    await new Promise((r) => setTimeout(r, 100));
  }
  return 'lab stopped';
}
