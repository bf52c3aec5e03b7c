/**
 * The data path end to end on loopback with real TLS: client → egress → pooled mTLS h2 session →
 * ingress → backend, for opaque TCP, HTTP/1.1, h2c and gRPC, with the tunnel's TCP semantics.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
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
    // One deadline for the whole transfer, the waits for 'drain' included: a flow-control stall
    // fails with what it was waiting for instead of hanging in the write loop.
    const deadline = Date.now() + 45_000;
    for (let i = 0; i < 100; i++) {
      sent.update(block);
      if (!s.write(block)) {
        const left = deadline - Date.now();
        await within(
          new Promise((r) => s.once('drain', r)),
          Math.max(left, 0),
          `drain after ${i + 1} of 100 MB written (${receivedBytes} bytes echoed)`,
        );
      }
    }
    s.end();
    await within(ended, Math.max(deadline - Date.now(), 0), '100 MB echo');
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

describe('connection churn', () => {
  it('short tunnels end with END_STREAM, so rapid-reset protection never sends GOAWAY', async () => {
    await harness();
    const b = await backend(echo);
    h.exportService('test', 'echo', 7000, [b.port]);
    const port = await h.route('test', 'echo', 7000);
    // nghttp2 allows a burst of 1,000 received RST_STREAMs, then 33/s: 1,500 resets would trip it.
    for (let batch = 0; batch < 30; batch++) {
      await within(
        Promise.all(
          Array.from({ length: 50 }, async () => {
            const s = await connect(port);
            const got = readAll(s);
            s.end('x');
            return (await got).toString();
          }),
        ),
        10_000,
        `batch ${batch}`,
      );
    }
    expect(h.pool.sessionCount()).toBe(1);
    expect(h.ingress.sessions()).toBe(1);
    await expectNoLeaks(b);
  });
});

describe('protocols', () => {
  it('HTTP/1.1 keep-alive requests share one tunnel', async () => {
    await harness();
    const server = http.createServer((req, res) => {
      res.setHeader('x-remote-port', String(req.socket.remotePort));
      res.end(`hello ${req.url}`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    cleanups.push(() => server.closeAllConnections());
    h.exportService('test', 'web', 80, [(server.address() as net.AddressInfo).port]);
    const port = await h.route('test', 'web', 80);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(() => agent.destroy());
    const get = (path: string) =>
      new Promise<{ body: string; peer: string }>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, path, agent }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => {
              body += c;
            });
            res.on('end', () => resolve({ body, peer: String(res.headers['x-remote-port']) }));
          })
          .once('error', reject);
      });
    const first = await within(get('/a'), 5_000, 'first request');
    const second = await within(get('/b'), 5_000, 'second request');
    expect(first.body).toBe('hello /a');
    expect(second.body).toBe('hello /b');
    expect(second.peer).toBe(first.peer);
    agent.destroy();
    await expectNoLeaks();
  });

  it('h2c (prior knowledge) streams through the tunnel', async () => {
    await harness();
    const server = http2.createServer();
    server.on('stream', (stream, headers) => {
      stream.respond({ ':status': 200 });
      stream.end(`h2c ${headers[':path']}`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const sessions = new Set<http2.Http2Session>();
    server.on('session', (s) => sessions.add(s));
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          for (const s of sessions) s.destroy();
          server.close(() => r());
        }),
    );
    h.exportService('test', 'h2c', 8080, [(server.address() as net.AddressInfo).port]);
    const port = await h.route('test', 'h2c', 8080);
    const client = http2.connect(`http://127.0.0.1:${port}`);
    cleanups.push(() => {
      client.destroy();
    });
    const get = (path: string) =>
      new Promise<string>((resolve, reject) => {
        const req = client.request({ ':path': path });
        let body = '';
        req.setEncoding('utf8');
        req.on('data', (c: string) => {
          body += c;
        });
        req.on('end', () => resolve(body));
        req.on('error', reject);
      });
    expect(await within(Promise.all([get('/one'), get('/two')]), 5_000, 'h2c')).toEqual([
      'h2c /one',
      'h2c /two',
    ]);
    client.close();
    await expectNoLeaks();
  });

  it('gRPC unary and server-streaming calls work through the tunnel', async () => {
    await harness();
    const identity = (b: Buffer) => b;
    const service: grpc.ServiceDefinition = {
      Echo: {
        path: '/isthmus.test.Echo/Echo',
        requestStream: false,
        responseStream: false,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
      Repeat: {
        path: '/isthmus.test.Echo/Repeat',
        requestStream: false,
        responseStream: true,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
    };
    const server = new grpc.Server();
    server.addService(service, {
      Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) =>
        cb(null, call.request),
      Repeat: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
        for (let i = 0; i < 3; i++) call.write(Buffer.from(`${call.request.toString()} ${i}`));
        call.end();
      },
    });
    const grpcPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    cleanups.push(() => {
      server.forceShutdown();
    });
    h.exportService('test', 'grpc', 9090, [grpcPort]);
    const port = await h.route('test', 'grpc', 9090);
    const Client = grpc.makeGenericClientConstructor(service, 'Echo');
    const client = new Client(
      `127.0.0.1:${port}`,
      grpc.credentials.createInsecure(),
    ) as unknown as grpc.Client & {
      Echo: (req: Buffer, cb: (err: Error | null, res?: Buffer) => void) => void;
      Repeat: (req: Buffer) => grpc.ClientReadableStream<Buffer>;
    };
    cleanups.push(() => client.close());
    const echoed = await within(
      new Promise<Buffer>((resolve, reject) =>
        client.Echo(Buffer.from('ping'), (err, res) => (err ? reject(err) : resolve(res!))),
      ),
      10_000,
      'gRPC unary',
    );
    expect(echoed.toString()).toBe('ping');
    const repeated = await within(
      new Promise<string[]>((resolve, reject) => {
        const out: string[] = [];
        const call = client.Repeat(Buffer.from('hi'));
        call.on('data', (b: Buffer) => out.push(b.toString()));
        call.on('end', () => resolve(out));
        call.on('error', reject);
      }),
      10_000,
      'gRPC server streaming',
    );
    expect(repeated).toEqual(['hi 0', 'hi 1', 'hi 2']);
    client.close();
    await expectNoLeaks();
  });
});
