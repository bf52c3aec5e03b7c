/**
 * The bench's Isthmus pair serves a request end to end, so a change to what the gateways need (a
 * Link, an egress port in range) breaks this test, not the next `npm run bench:gateway`. The
 * gateways run from src/ through tsx here (the bench runs dist/), with the bench's certificates.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/wait-for.js';
import { writeBenchCerts } from './certs.js';
import { type IsthmusPair, REPO, startIsthmusPair } from './isthmus-pair.js';

const HOSTS = { east: '127.0.65.1', west: '127.0.66.1', backend: '127.0.67.1' };

let dir: string;
let backend: Server;
let pair: IsthmusPair | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'isthmus-bench-pair-'));
  backend = createServer((_req, res) => res.end('through the pair'));
  await new Promise<void>((r) => backend.listen(0, HOSTS.backend, r));
  const { port } = backend.address() as { port: number };
  pair = await startIsthmusPair({
    dir,
    certs: await writeBenchCerts(dir),
    eastHost: HOSTS.east,
    westHost: HOSTS.west,
    backend: { host: HOSTS.backend, port },
    // By URL: the gateways run with the work directory as their cwd, where `tsx` does not resolve.
    nodeArgs: ['--import', import.meta.resolve('tsx')],
    main: join(REPO, 'src', 'gateway', 'main.ts'),
  });
}, 90_000);

afterAll(async () => {
  await pair?.stop();
  await new Promise((r) => backend.close(r));
  await rm(dir, { recursive: true, force: true });
});

describe("the bench's Isthmus pair", () => {
  it('carries a request from east egress through the tunnel to the backend', async () => {
    const { host, port } = pair!.egress;
    // The egress opens its listener once it has seen the mirror and the Link.
    const body = await waitFor(
      'an answer through the pair',
      async () => (await fetch(`http://${host}:${port}/`, { signal: AbortSignal.timeout(2_000) })).text(),
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    expect(body).toBe('through the pair');
  }, 30_000);
});
