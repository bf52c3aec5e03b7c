/**
 * `npm run bench`: every benchmark in turn, each as its own process (so one's processes and
 * memory never colour the next): the gateway bench, then the mirror bench, then the failover bench,
 * each when it exists.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const BENCHES = ['gateway.ts', 'mirror.ts', 'failover.ts'];
const args = process.argv.slice(2);
let failed = 0;
for (const bench of BENCHES) {
  const file = fileURLToPath(new URL(bench, import.meta.url));
  if (!existsSync(file)) {
    console.log(`[bench] ${bench}: not present, skipped`);
    continue;
  }
  console.log(`[bench] ${bench}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', file, ...args], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.error(`[bench] ${bench} failed (${r.status ?? r.signal})`);
  }
}
process.exitCode = failed > 0 ? 1 : 0;
