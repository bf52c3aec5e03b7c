/**
 * `isthmus lab up --clusters` refusals, from the real CLI: each is said before anything starts
 * (no API server, no process, no state written), so these runs bind nothing.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isthmusCli } from '../../../test/cli-run.js';

const dir = mkdtempSync(join(tmpdir(), 'isthmus-lab-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('isthmus lab up --clusters', () => {
  it.concurrent.for([
    [['--local', '--clusters', 'east'], 'at least 2 clusters'],
    [['--local', '--clusters', 'east,west,North'], 'invalid cluster name(s): North'],
    [['--local', '--clusters', 'a,b,c,d,e,f'], 'at most 5 clusters'],
    [['--local', '--clusters', 'east,west,north', '--base', '250'], '--base must be 1-249 with 3 clusters'],
    // The kind lab's scripts make east and west: another list is refused, not silently dropped.
    [
      ['--kind', '--dry-run', '--clusters', 'east,west,north'],
      '--clusters east,west,north is a local lab flag: the kind lab (scripts/kind) runs east and west only',
    ],
  ] as const)('refuses %j before starting anything', async ([args, message], { expect }) => {
    const labDir = join(dir, args.join('_').replace(/[^a-z0-9_]/gi, ''));
    const r = await isthmusCli(['lab', 'up', '--dir', labDir, ...args]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe('');
    expect(existsSync(join(labDir, 'state.json'))).toBe(false);
  });

  it('says in --help what --clusters does, and that kind runs east and west only', async () => {
    const r = await isthmusCli(['lab', 'up', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout.replace(/\s+/g, ' ')).toMatch(
      /--clusters <names> .*2-5.*the kind lab runs east,west only.*\(default: "east,west"\)/,
    );
  });
});
