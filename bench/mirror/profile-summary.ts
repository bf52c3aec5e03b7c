/**
 * Summarises a V8 `.cpuprofile` (from `--cpu-prof`): self time by function and by file, as shares
 * of the sampled time, so a missed target can be pinned on a function.
 *   node --import tsx bench/mirror/profile-summary.ts <file.cpuprofile> [top]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export function selfTimes(profile: Profile): {
  byFunction: Map<string, number>;
  byFile: Map<string, number>;
  totalMs: number;
} {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  let totalMs = 0;
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    const frame = nodes.get(id)?.callFrame;
    if (!frame) return;
    totalMs += ms;
    const file =
      frame.url.replace(/^file:\/\/.*?\/(node_modules|dist|src)\//, '$1/') ||
      `(${frame.functionName || 'native'})`;
    const fn = `${frame.functionName || '(anonymous)'} ${file}:${frame.lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + ms);
    byFile.set(file, (byFile.get(file) ?? 0) + ms);
  });
  return { byFunction, byFile, totalMs };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, top = '15'] = process.argv.slice(2);
  if (!file) throw new Error('usage: profile-summary.ts <file.cpuprofile> [top]');
  const { byFunction, byFile, totalMs } = selfTimes(JSON.parse(readFileSync(file, 'utf8')) as Profile);
  const print = (title: string, m: Map<string, number>) => {
    process.stdout.write(`${title} (of ${(totalMs / 1000).toFixed(1)} s sampled)\n`);
    for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, Number(top)))
      process.stdout.write(
        `  ${((100 * v) / totalMs).toFixed(1).padStart(5)}%  ${(v / 1000).toFixed(2)} s  ${k}\n`,
      );
  };
  print('self time by file', byFile);
  print('self time by function', byFunction);
}
