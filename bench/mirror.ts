/**
 * `npm run bench:mirror`: the mirror controller against 2 remote clusters of N exported Services
 * each (default 5,000), compared with a floor measured in the same run on the same kind of API
 * server. Every API server and the controller run as their own processes; the controller runs from
 * built JS (`npm run build` first). Prints a table and rewrites the `## Mirror` section of
 * docs/benchmarks.md. Options:
 *   --services N     exported Services per remote (default 5000)
 *   --exports N      single exports timed one at a time (default 50)
 *   --modes LIST     client-side rate limits to run: off,default (default both)
 *   --repeat N       floor + controller pairs for each unlimited mode; the table shows the median
 *                    by ratio, the text every ratio (default 3: single runs on a shared 2-core
 *                    machine scatter too widely to stand alone)
 *   --cpu-prof       write V8 CPU profiles of the controller under the work directory
 *   --no-docs        print only
 *   --no-build       use dist/ as it is
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Table from 'cli-table3';
import { adminClient, populateRemote } from './mirror/fixtures.js';
import { FLOOR_CONCURRENCY, type FloorResult, runFloor } from './mirror/floor.js';
import { startProbeStub } from './mirror/probe-stub.js';
import { Children, REPO, startSandboxProcess } from './mirror/processes.js';
import { markdownTable, rows, writeSection } from './mirror/report.js';
import { runScenario, type ScenarioResult } from './mirror/scenario.js';

const { values } = parseArgs({
  options: {
    services: { type: 'string', default: '5000' },
    exports: { type: 'string', default: '50' },
    modes: { type: 'string', default: 'off,default' },
    repeat: { type: 'string', default: '3' },
    'cpu-prof': { type: 'boolean', default: false },
    'no-docs': { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
  },
});
const perCluster = Number(values.services);
const exports = Number(values.exports);
const modes = values.modes.split(',').map((m) => m.trim());
const repeat = Math.max(1, Number(values.repeat));
const REMOTES = ['west', 'north'];

const children = new Children();
const workDir = mkdtempSync(join(tmpdir(), 'isthmus-bench-mirror-'));
const log = (msg: string) =>
  process.stdout.write(`[bench:mirror ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    children.killAll('SIGKILL');
    process.exit(130);
  });
}

async function main(): Promise<void> {
  log(`work directory ${workDir}`);
  if (!values['no-build']) execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO, stdio: 'inherit' });

  const probe = await startProbeStub();
  const remotes = [];
  for (const name of REMOTES) remotes.push(await startSandboxProcess(children, name));
  const remoteClients = remotes.map(adminClient);
  const results: ScenarioResult[] = [];
  const floors: FloorResult[] = [];
  /** Every pair's sync ratio, by mode, when a mode ran more than once. */
  const spreads = new Map<string, number[]>();
  try {
    log(`populating ${REMOTES.join(', ')} with ${perCluster} exported Services each`);
    await Promise.all(remoteClients.map((c) => populateRemote(c, perCluster)));
    for (const mode of modes) {
      const qps = mode === 'off' ? 0 : mode === 'default' ? undefined : Number(mode);
      // A limited sync is paced by its limiter (minutes, little spread): one pair is enough.
      const pairs: Array<{ floor: FloorResult; result: ScenarioResult }> = [];
      for (let k = 0; k < (qps === 0 ? repeat : 1); k++)
        pairs.push(await measurePair(mode, qps, remotes, remoteClients, probe.url, `${mode}-${k + 1}`));
      const ratio = (p: (typeof pairs)[number]) => p.result.syncSeconds / p.floor.seconds;
      const sorted = [...pairs].sort((a, b) => ratio(a) - ratio(b));
      const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
      if (pairs.length > 1) {
        spreads.set(mode, pairs.map(ratio));
        log(
          `${mode}: sync ratios ${pairs.map((p) => ratio(p).toFixed(2)).join(' / ')}, median ${ratio(median).toFixed(2)}`,
        );
      }
      floors.push(median.floor);
      results.push(median.result);
    }
  } finally {
    for (const c of remoteClients) c.close();
    await probe.close();
    await children.stopAll();
  }

  async function measurePair(
    mode: string,
    qps: number | undefined,
    remotes: Awaited<ReturnType<typeof startSandboxProcess>>[],
    remoteClients: ReturnType<typeof adminClient>[],
    probeUrl: string,
    label: string,
  ): Promise<{ floor: FloorResult; result: ScenarioResult }> {
    // The floor is measured right before each controller run: this machine is shared, and a floor
    // taken minutes apart would compare against a different background load.
    log(
      `floor: ${2 * perCluster * REMOTES.length} creates at concurrency ${FLOOR_CONCURRENCY}, fresh sandbox`,
    );
    const floor = await runFloor(children, REMOTES, perCluster, 30 * 60_000);
    log(
      `floor: ${floor.seconds.toFixed(1)} s, ${floor.writesPerSecond.toFixed(0)} writes/s, server CPU ${floor.serverCpuSeconds.toFixed(1)} s, client CPU ${floor.clientCpuSeconds.toFixed(1)} s, load ${floor.load}, CPU stolen ${floor.stolen}`,
    );
    log(`controller run, client-side rate limit ${mode}`);
    const result = await runScenario(children, {
      label,
      ...(qps === undefined ? {} : { qps }),
      perCluster,
      exports,
      remotes,
      remoteClients,
      probeUrl,
      workDir,
      // 4 requests per mirror (2 reads, 2 writes) at 50 qps, with margin; unlimited runs are far faster.
      syncTimeoutMs: qps === 0 ? 15 * 60_000 : 60 * 60_000,
      cpuProf: values['cpu-prof'],
    });
    log(
      `${mode}: sync ${result.syncSeconds.toFixed(1)} s, ${result.syncWrites} writes, ${result.syncs} syncs, server CPU ${result.serverCpuSeconds.toFixed(1)} s, controller CPU ${result.controllerCpuSeconds.toFixed(1)} s, load ${result.load}, CPU stolen ${result.stolen}, peak RSS ${result.syncPeakRssMb} MB (sync) / ${result.restartPeakRssMb} MB (restarted)`,
    );
    return { floor, result };
  }

  const mirrored = perCluster * REMOTES.length;
  const table = rows(floors, results, mirrored);
  const t = new Table({ head: ['metric', 'target', ...results.map((r) => `rate limit ${r.qps}`)] });
  for (const r of table) t.push([r.metric, r.target, ...r.values]);
  process.stdout.write(`${t.toString()}\n`);
  process.stdout.write(
    `work directory (controller logs${values['cpu-prof'] ? ', CPU profiles' : ''}): ${workDir}\n`,
  );

  if (!values['no-docs']) {
    const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}`;
    const notes = readFileSync(join(import.meta.dirname, 'mirror', 'notes.md'), 'utf8');
    const body = [
      `\`npm run bench:mirror\` — ${new Date().toISOString().slice(0, 10)}, ${machine}.`,
      '',
      `${perCluster.toLocaleString('en')} exported Services (each with a ready EndpointSlice of three 10.x pods) in each of ${REMOTES.length} remote clusters (${REMOTES.join(', ')}), mirrored into a fresh local cluster (east). ` +
        `Every API server is a sandbox in its own process; the controller runs from built JS (\`node dist/cli/main.js controller --no-leader-elect\`). ` +
        `Floor, same run, measured right before each controller run: a bare script making the same ${(2 * mirrored).toLocaleString('en')} creates (each mirror Service, then its EndpointSlice) at concurrency ${FLOOR_CONCURRENCY} on a fresh sandbox of the same kind: ` +
        floors
          .map(
            (f, i) =>
              `**${f.seconds.toFixed(1)} s, ${f.writesPerSecond.toFixed(0)} writes/s** before the ${results[i]?.qps} run (server counted ${f.serverWrites} writes; load average ${f.load}; CPU stolen by the hypervisor ${f.stolen})`,
          )
          .join('; ') +
        `. Load average and CPU stolen by the hypervisor during the sync: ${results.map((r) => `${r.load}, ${r.stolen} (${r.qps})`).join('; ')}.` +
        [...spreads]
          .map(
            ([mode, ratios]) =>
              ` Limit ${mode}: ${ratios.length} floor + controller pairs back to back, sync ratios ${ratios.map((x) => `${x.toFixed(2)}×`).join(' / ')}; the table shows the median pair.`,
          )
          .join(''),
      '',
      markdownTable(results, table),
      '',
      `API requests to the local server per single export: ${results.map((r) => `${JSON.stringify(r.exportRequests)} (${r.qps})`).join('; ')}. ` +
        `Restart: back to every mirror reported in ${results.map((r) => `${r.restartReadySeconds.toFixed(1)} s (${r.qps})`).join(', ')}; writes after it by resource: ${results.map((r) => JSON.stringify(r.restartWritesByResource)).join(', ')}. ` +
        `Writes counted by the API server during the sync (Links excluded): ${results.map((r) => `${r.serverWritesDuringSync} (${r.qps})`).join(', ')}; sync until the last (trailing) write: ${results.map((r) => `${r.syncSettledSeconds.toFixed(1)} s (${r.qps})`).join(', ')}.`,
      '',
      notes.trim(),
    ].join('\n');
    writeSection(join(REPO, 'docs', 'benchmarks.md'), body);
    log('wrote the Mirror section of docs/benchmarks.md');
  }
}

try {
  await main();
} catch (err) {
  process.stderr.write(
    `bench:mirror failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  children.killAll('SIGKILL');
  process.exitCode = 1;
}
