/**
 * The data path end to end on loopback with real TLS: client → egress → pooled mTLS h2 session →
 * ingress → backend, for opaque TCP, HTTP/1.1, h2c and gRPC, with the tunnel's TCP semantics.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { echo, startTcpBackend, type TcpBackend } from './test-support/backends.js';
import { type Harness, startHarness } from './test-support/harness.js';
import { makePki, type TestPki } from './test-support/pki.js';
import { waitFor, within } from './test-support/wait.js';

let pki: TestPki;
let h: Harness;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(() => {
  pki = makePki();
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function harness(): Promise<Harness> {
  h = await startHarness(pki);
  cleanups.push(() => h.close());
  return h;
}

async function backend(handler: (s: net.Socket) => void): Promise<TcpBackend> {
  const b = await startTcpBackend(handler);
  cleanups.push(() => b.close());
  return b;
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => resolve(s));
    s.once('error', reject);
  });
}

function readAll(socket: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('error', reject);
  });
}

/** The tunnel is gone on both gateways and at the backend. */
async function expectNoLeaks(b?: TcpBackend): Promise<void> {
  await waitFor(() => h.ingress.openTunnels() === 0, 'ingress tunnels to close');
  await waitFor(
    () => h.egress.openTunnels() === 0 && h.egress.connections() === 0,
    'egress connections to close',
  );
  if (b) await waitFor(() => b.sockets.size === 0, 'backend sockets to close');
}

describe('opaque TCP', () => {
  it('echoes bytes through egress and ingress', async () => {
    await harness();
    const b = await backend(echo);
    h.exportService('test', 'echo', 7000, [b.port]);
    const port = await h.route('test', 'echo', 7000);
    const s = await connect(port);
    const got = readAll(s);
    s.end('hello tunnel');
    expect((await within(got, 5_000, 'echo')).toString()).toBe('hello tunnel');
    await expectNoLeaks(b);
  });

  it('carries 100 MB byte-identical', async () => {
    await harness();
    const b = await backend(echo);
    h.exportService('test', 'echo', 7000, [b.port]);
    const port = await h.route('test', 'echo', 7000);
    const s = await connect(port);
    const block = randomBytes(1 << 20);
    const sent = createHash('sha256');
    const received = createHash('sha256');
    let receivedBytes = 0;
    s.on('data', (c: Buffer) => {
      received.update(c);
      receivedBytes += c.length;
    });
    const ended = new Promise<void>((resolve) => s.once('end', () => resolve()));
    for (let i = 0; i < 100; i++) {
      sent.update(block);
      if (!s.write(block)) await new Promise((r) => s.once('drain', r));
    }
    s.end();
    await within(ended, 30_000, '100 MB echo');
    expect(receivedBytes).toBe(100 * (1 << 20));
    expect(received.digest('hex')).toBe(sent.digest('hex'));
    await expectNoLeaks(b);
  });

  it('1,000 concurrent connections each get their own answer', async () => {
    await harness();
    const b = await backend(echo);
    h.exportService('test', 'echo', 7000, [b.port]);
    const port = await h.route('test', 'echo', 7000);
    const results = await within(
      Promise.all(
        Array.from({ length: 1000 }, async (_, i) => {
          const s = await connect(port);
          const got = readAll(s);
          s.end(`connection ${i}`);
          return (await got).toString();
        }),
      ),
      30_000,
      '1,000 connections',
    );
    expect(results).toEqual(results.map((_, i) => `connection ${i}`));
    expect(h.pool.sessionCount()).toBe(1);
    await expectNoLeaks(b);
  });

  it('half-close client → backend: the backend sees FIN and can still answer', async () => {
    await harness();
    // Answers only after the request is complete (the client's FIN), like `nc -N`.
    const b = await backend((socket) => {
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.once('end', () => socket.end(`got ${Buffer.concat(chunks).length} bytes`));
    });
    h.exportService('test', 'hc', 7001, [b.port]);
    const port = await h.route('test', 'hc', 7001);
    const s = await connect(port);
    const got = readAll(s);
    s.end('x'.repeat(1234));
    expect((await within(got, 5_000, 'answer after FIN')).toString()).toBe('got 1234 bytes');
    await expectNoLeaks(b);
  });

  it('half-close backend → client: the client sees FIN and can still send', async () => {
    await harness();
    const backendReceived = new Promise<string>((resolve) => {
      void backend((socket) => {
        socket.end('banner');
        const chunks: Buffer[] = [];
        socket.on('data', (c: Buffer) => chunks.push(c));
        socket.once('end', () => resolve(Buffer.concat(chunks).toString()));
      }).then((b) => {
        h.exportService('test', 'banner', 7002, [b.port]);
      });
    });
    await waitFor(() => h.index.size() === 1, 'backend exported');
    const port = await h.route('test', 'banner', 7002);
    const s = await connect(port);
    const got = await within(readAll(s), 5_000, 'banner then FIN');
    expect(got.toString()).toBe('banner');
    s.end('still talking');
    expect(await within(backendReceived, 5_000, 'late client data')).toBe('still talking');
    await expectNoLeaks();
  });

  it('a backend reset reaches the client as a reset', async () => {
    await harness();
    const b = await backend((socket) => {
      socket.once('data', () => socket.resetAndDestroy());
    });
    h.exportService('test', 'rst', 7003, [b.port]);
    const port = await h.route('test', 'rst', 7003);
    const s = await connect(port);
    const err = new Promise<NodeJS.ErrnoException>((resolve) => s.once('error', resolve));
    s.write('boom');
    expect((await within(err, 5_000, 'client reset')).code).toBe('ECONNRESET');
    await expectNoLeaks(b);
  });

  it('a client reset reaches the backend as a reset', async () => {
    await harness();
    let backendError: Promise<NodeJS.ErrnoException> | undefined;
    const b = await backend((socket) => {
      backendError = new Promise((resolve) => socket.once('error', resolve));
      socket.write('hello');
    });
    h.exportService('test', 'crst', 7004, [b.port]);
    const port = await h.route('test', 'crst', 7004);
    const s = await connect(port);
    await new Promise((r) => s.once('data', r));
    s.resetAndDestroy();
    await waitFor(() => backendError !== undefined, 'backend connection');
    expect((await within(backendError!, 5_000, 'backend reset')).code).toBe('ECONNRESET');
    await expectNoLeaks(b);
  });
});
