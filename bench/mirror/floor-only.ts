/**
 * Only the floor of the mirror benchmark, N times (default 3): for A/B runs of API-server changes.
 *   node --import tsx bench/mirror/floor-only.ts [N]
 * With ISTHMUS_BENCH_SANDBOX_PROF=<dir> the API server writes V8 CPU profiles there.
 */
import { runFloor } from './floor.js';
import { Children } from './processes.js';

const children = new Children();
const n = Number(process.argv[2] ?? 3);
for (let i = 0; i < n; i++) {
  const f = await runFloor(children, ['west', 'north'], 5000, 600_000);
  console.log(`floor ${f.seconds.toFixed(2)} s server CPU ${f.serverCpuSeconds.toFixed(2)} s load ${f.load}`);
}
await children.stopAll();
