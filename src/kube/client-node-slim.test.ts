/**
 * client-node loaded without its generated API (client-node-slim.ts): the hook's decision, and real
 * processes that show what a CLI process loads, with a load-recording hook of their own.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../sandbox/index.js';
import { resolve as resolveInProcess, SLIM_HOOKS_URL } from './client-node-slim.js';

const run = promisify(execFile);
const RECORDER = join(import.meta.dirname, 'testdata', 'record-client-node-loads.mjs');
const CLIENT_NODE = 'file:///app/node_modules/@kubernetes/client-node/dist';

/** The client-node modules a process reported loading (record-client-node-loads-hooks.mjs). */
function loaded(record: string): string[] {
  return readFileSync(record, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('[client-node load] '))
    .map((l) => l.slice('[client-node load] '.length));
}
const generatedModels = (modules: string[]) => modules.filter((m) => m.startsWith('dist/gen/models/'));

type Resolve = (
  specifier: string,
  context: { parentURL?: string },
  next: (specifier: string, context?: { parentURL?: string }) => unknown,
) => unknown;

// The hook as registered in-thread (Node 22/24), and as Node 20's loader thread runs it: rebuilt
// from its source text.
describe.each([
  ['in-thread', async (): Promise<Resolve> => resolveInProcess],
  [
    'from its data: URL',
    async (): Promise<Resolve> => ((await import(SLIM_HOOKS_URL)) as { resolve: Resolve }).resolve,
  ],
])('the resolve hook, %s', (_how, load) => {
  const passedOn = (specifier: string) => `next:${specifier}`;
  let resolve: Resolve;
  beforeAll(async () => {
    resolve = await load();
  });

  it('answers config.js asking for the generated API with the two names it imports', async () => {
    const answer = await resolve('./gen/index.js', { parentURL: `${CLIENT_NODE}/config.js` }, passedOn);
    expect(answer).toMatchObject({ shortCircuit: true });
    const url = (answer as { url: string }).url;
    expect(url.startsWith('data:text/javascript,')).toBe(true);
    const source = decodeURIComponent(url.slice('data:text/javascript,'.length));
    expect(source).toBe(
      `export { createConfiguration } from "${CLIENT_NODE}/gen/configuration.js";\n` +
        `export { ServerConfiguration } from "${CLIENT_NODE}/gen/servers.js";\n`,
    );
  });

  it('passes every other import on', async () => {
    // The package root and its API module load the generated API as usual.
    for (const [specifier, parentURL] of [
      ['./gen/index.js', `${CLIENT_NODE}/index.js`],
      ['./gen/index.js', `${CLIENT_NODE}/api.js`],
      ['./config_types.js', `${CLIENT_NODE}/config.js`],
      ['./gen/index.js', 'file:///app/src/config.js'],
    ] as const) {
      expect(await resolve(specifier, { parentURL }, passedOn)).toBe(`next:${specifier}`);
    }
    expect(await resolve('./gen/index.js', {}, passedOn)).toBe('next:./gen/index.js');
  });
});

describe('a CLI process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'isthmus-slim-'));
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ name: 'slim' });
  });
  afterAll(async () => {
    await sandbox?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loads KubeConfig without the generated API, and its credentials reach the API server', async () => {
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, sandbox.kubeconfig());
    const record = join(dir, 'loads-check');
    const { stdout } = await run(
      process.execPath,
      ['--import', RECORDER, 'bin/isthmus.mjs', 'check', '--pre', '--kubeconfig', kubeconfig],
      { timeout: 60_000, env: { ...process.env, ISTHMUS_RECORD_LOADS_FILE: record } },
    );
    // Answers from the sandbox: the token and the CA of the kubeconfig worked over TLS.
    expect(stdout).toContain('√ the Kubernetes API is v1.27 or newer');
    const modules = loaded(record);
    expect(modules).toContain('dist/config.js');
    expect(modules).toContain('dist/gen/configuration.js');
    expect(generatedModels(modules)).toEqual([]);
  });

  it('the recorder does see the generated API when the package root is loaded', async () => {
    const record = join(dir, 'loads-root');
    await run(
      process.execPath,
      ['--import', RECORDER, '--input-type=module', '-e', "await import('@kubernetes/client-node');"],
      { timeout: 60_000, env: { ...process.env, ISTHMUS_RECORD_LOADS_FILE: record } },
    );
    expect(generatedModels(loaded(record)).length).toBeGreaterThan(500);
  });
});
