import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { GATEWAY_NODE_FLAGS, GATEWAY_NODE_OPTIONS } from './process-flags.js';

describe('gateway process flags', () => {
  it('are accepted by this node, on the command line and in NODE_OPTIONS', () => {
    const script = 'process.stdout.write(JSON.stringify(process.execArgv))';
    const argv = spawnSync(process.execPath, [...GATEWAY_NODE_FLAGS, '-e', script], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    expect(argv.status).toBe(0);
    expect(JSON.parse(argv.stdout)).toEqual([...GATEWAY_NODE_FLAGS, '-e', script]);
    const env = spawnSync(process.execPath, ['-e', 'void 0'], {
      encoding: 'utf8',
      timeout: 10_000,
      env: { ...process.env, NODE_OPTIONS: GATEWAY_NODE_OPTIONS },
    });
    expect(env.stderr).toBe('');
    expect(env.status).toBe(0);
  });
});
