/**
 * One sandbox API server in its own process (bench-only), so the API servers never share an event
 * loop with the controller or the benchmark driver. Spawned by `processes.ts` with an IPC channel:
 * it announces `{ ready, url, kubeconfig }`, then answers `{ id, op }` requests:
 *   stats                      → the sandbox's { requests, writes, openWatches }
 *   addToken { token, rules }  → a bearer token with those RBAC rules (read-only Link credentials)
 *   profile { file? }          → starts a V8 CPU profile; with `file`, stops it and writes it there
 * It exits when the parent goes away (IPC disconnect) or on SIGTERM.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { type PolicyRule, startSandbox } from '../../src/sandbox/index.js';

interface Request {
  id: number;
  op: 'stats' | 'addToken' | 'profile';
  file?: string;
  token?: string;
  username?: string;
  rules?: PolicyRule[];
}

const name = process.argv[2];
if (!name || !process.send) {
  process.stderr.write('usage: sandbox-process.ts <cluster-name> (spawned with an IPC channel)\n');
  process.exit(2);
}

// A larger watch window than the default so that 20,000 quick writes never push a slow bench
// watcher into 410 Gone and a relist (which would load the server in the middle of a measurement).
const sandbox = await startSandbox({ name, host: '127.0.0.1', watchWindow: 100_000 });

const send = (msg: unknown) => process.send?.(msg);

let profiler: Session | undefined;

/** A CPU profile of one window of the run (ISTHMUS_BENCH_SANDBOX_WINDOW_PROF in floor/scenario). */
async function profile(file: string | undefined): Promise<void> {
  if (!file) {
    profiler = new Session();
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
    return;
  }
  const { profile } = await profiler!.post('Profiler.stop');
  writeFileSync(file, JSON.stringify(profile));
  profiler!.disconnect();
  profiler = undefined;
}

process.on('message', (raw: Request) => {
  try {
    if (raw.op === 'stats') send({ id: raw.id, result: sandbox.stats() });
    else if (raw.op === 'profile') {
      profile(raw.file).then(
        () => send({ id: raw.id, result: true }),
        (err) => send({ id: raw.id, error: String(err) }),
      );
    } else if (raw.op === 'addToken') {
      sandbox.addToken(raw.token ?? '', { username: raw.username ?? 'bench', rules: raw.rules ?? [] });
      send({ id: raw.id, result: true });
    } else send({ id: raw.id, error: `unknown op ${String(raw.op)}` });
  } catch (err) {
    send({ id: raw.id, error: String(err) });
  }
});

const shutdown = () => {
  void sandbox.close().finally(() => process.exit(0));
};
process.on('disconnect', shutdown);
process.on('SIGTERM', shutdown);
send({ ready: true, url: sandbox.url, kubeconfig: sandbox.kubeconfig() });
