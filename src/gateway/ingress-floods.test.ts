/**
 * An admitted peer gateway that floods its HTTP/2 session (security review, finding 7): nghttp2
 * and Node end such a session (PING and SETTINGS floods while never reading, CONTINUATION floods,
 * empty DATA frames), and the ingress ends one that resets streams faster than nghttp2's own
 * rapid-reset limit allows (CVE-2023-44487) itself, with ENHANCE_YOUR_CALM. Each ended session is
 * published once, naming the peer's cluster and the error, and counted in
 * isthmus_tunnel_session_errors_total; nothing of it was logged or counted before. Real TLS on
 * loopback, frames written by hand; generous deadlines.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../wait-for.js';
import { CHANNELS } from './diagnostics.js';
import type { Ingress } from './ingress.js';
import { createGatewayMetrics, type GatewayMetrics } from './metrics.js';
import { echo, startTcpBackend, type TcpBackend } from './test-support/backends.js';
import { ask, type ClientTls, h2connect } from './test-support/h2-client.js';
import { CLUSTER_DOMAIN, PROBE_PATH, startEchoIngress } from './test-support/harness.js';
import { makePki, type TestPki, TRUST_DOMAIN } from './test-support/pki.js';

const ECHO = `echo.test.svc.${CLUSTER_DOMAIN}:7000`;
const PROBE = { ':method': 'GET', ':path': PROBE_PATH } as const;
const EAST_ID = 'spiffe://cluster.local/cluster/east/gateway';

let pki: TestPki;
let east: ClientTls;
let backend: TcpBackend;
let ingress: Ingress;
let metrics: GatewayMetrics;
const ended: unknown[] = [];
const onEnded = (m: unknown) => ended.push(m);
const cleanups: Array<() => void> = [];

beforeAll(async () => {
  pki = makePki();
  east = pki.gateway('east');
  backend = await startTcpBackend(echo);
});
afterAll(async () => {
  await backend.close();
});
beforeEach(async () => {
  ended.length = 0;
  diagnosticsChannel.subscribe(CHANNELS.sessionError, onEnded);
  metrics = createGatewayMetrics({ processMetrics: false, trustDomain: TRUST_DOMAIN });
  ({ ingress } = await startEchoIngress(pki, backend.port));
});
afterEach(async () => {
  for (const c of cleanups.splice(0)) c();
  await ingress.close();
  metrics.close();
  diagnosticsChannel.unsubscribe(CHANNELS.sessionError, onEnded);
});

const TYPE = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, CONTINUATION: 9 };
const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const ACK = 0x1;
const CANCEL = 8;
const ENHANCE_YOUR_CALM = 11;

function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId, 5);
  return Buffer.concat([head, payload]);
}
/** HPACK literal without indexing, new name (RFC 7541 §6.2.2), short strings only. */
function literal(name: string, value: string): Buffer {
  return Buffer.concat([
    Buffer.from([0, name.length]),
    Buffer.from(name),
    Buffer.from([value.length]),
    Buffer.from(value),
  ]);
}
const connectBlock = Buffer.concat([literal(':method', 'CONNECT'), literal(':authority', ECHO)]);
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

interface Raw {
  socket: tls.TLSSocket;
  /** GOAWAY error codes received (only while reading). */
  goaways: number[];
  closed: Promise<void>;
}

/**
 * An admitted session of east's gateway, its frames written by the test. `read: false` never reads
 * what the ingress sends (the flood of PING and SETTINGS acknowledgements piles up on its side).
 */
async function session(read = true): Promise<Raw> {
  const socket = tls.connect({
    ...ingress.address,
    ...east,
    ALPNProtocols: ['h2'],
    checkServerIdentity: () => undefined,
  });
  socket.on('error', () => {});
  cleanups.push(() => socket.destroy());
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  await new Promise((r) => socket.once('secureConnect', r));
  const goaways: number[] = [];
  if (read) {
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 9) {
        const length = buffered.readUIntBE(0, 3);
        if (buffered.length < 9 + length) break;
        if (buffered[3] === TYPE.GOAWAY) goaways.push(buffered.readUInt32BE(13));
        buffered = buffered.subarray(9 + length);
      }
    });
  } else socket.pause();
  socket.write(
    Buffer.concat([
      Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
      frame(TYPE.SETTINGS, 0, 0),
      frame(TYPE.SETTINGS, ACK, 0),
    ]),
  );
  await waitFor('the session to be admitted', () => ingress.sessions() === 1);
  return { socket, goaways, closed };
}

async function sessionErrors(): Promise<string[]> {
  return (await metrics.render())
    .split('\n')
    .filter((l) => l.startsWith('isthmus_tunnel_session_errors_total{'));
}

/** The session ended, was published once and counted once, and another peer session still works. */
async function expectEndedOnce(raw: Raw, reason: string, code: string): Promise<void> {
  await waitFor('the flood to be published', () => ended.length > 0, 20_000);
  await waitFor('the flooding session to end', () => ingress.sessions() === 0, 20_000);
  raw.socket.destroy();
  await raw.closed;
  expect(ended).toEqual([
    expect.objectContaining({
      peerCluster: 'east',
      identity: EAST_ID,
      reason,
      code,
      peer: expect.any(String),
    }),
  ]);
  expect(await sessionErrors()).toEqual([
    `isthmus_tunnel_session_errors_total{direction="ingress",peer_cluster="east",reason="${reason}"} 1`,
  ]);
  const good = h2connect(ingress.address, east);
  cleanups.push(() => good.destroy());
  expect(await ask(good, PROBE)).toEqual({ status: 200, body: 'ready\n' });
}

describe('an admitted peer that floods its session', () => {
  it('PING flood while never reading: ended by nghttp2, published and counted as a flood', async () => {
    const raw = await session(false);
    const pings = Array.from({ length: 100_000 }, () => frame(TYPE.PING, 0, 0, Buffer.alloc(8)));
    raw.socket.write(Buffer.concat(pings));
    await expectEndedOnce(raw, 'flood', 'ERR_HTTP2_ERROR');
  });

  it('SETTINGS flood while never reading: a flood too', async () => {
    const raw = await session(false);
    raw.socket.write(Buffer.concat(Array.from({ length: 100_000 }, () => frame(TYPE.SETTINGS, 0, 0))));
    await expectEndedOnce(raw, 'flood', 'ERR_HTTP2_ERROR');
  });

  it('CONTINUATION flood: ended, as continuation_flood', async () => {
    const raw = await session();
    const first = frame(TYPE.HEADERS, 0, 1, literal(':method', 'CONNECT'));
    const more = Array.from({ length: 5_000 }, () => frame(TYPE.CONTINUATION, 0, 1, literal('x-a', 'b')));
    raw.socket.write(Buffer.concat([first, ...more]));
    await expectEndedOnce(raw, 'continuation_flood', 'ERR_HTTP2_ERROR');
  });

  it('empty DATA frames: ended by Node (too many invalid frames), as invalid_frames', async () => {
    const raw = await session();
    const empty = Array.from({ length: 20_000 }, () => frame(TYPE.DATA, 0, 1));
    raw.socket.write(Buffer.concat([frame(TYPE.HEADERS, END_HEADERS, 1, connectBlock), ...empty]));
    await expectEndedOnce(raw, 'invalid_frames', 'ERR_HTTP2_TOO_MANY_INVALID_FRAMES');
  });

  it('rapid reset (CONNECT then RST_STREAM, over and over): ended by the ingress with ENHANCE_YOUR_CALM, as rapid_reset', async () => {
    const raw = await session();
    const pairs: Buffer[] = [];
    for (let id = 1; id < 2 * 1500; id += 2)
      pairs.push(
        frame(TYPE.HEADERS, END_HEADERS, id, connectBlock),
        frame(TYPE.RST_STREAM, 0, id, u32(CANCEL)),
      );
    raw.socket.write(Buffer.concat(pairs));
    await waitFor('a GOAWAY', () => raw.goaways.length > 0, 20_000);
    expect(raw.goaways[0]).toBe(ENHANCE_YOUR_CALM);
    await expectEndedOnce(raw, 'rapid_reset', 'ENHANCE_YOUR_CALM');
  });

  it('a peer that cancels a few hundred tunnels keeps its session; nothing is published', async () => {
    const raw = await session();
    const pairs: Buffer[] = [];
    for (let id = 1; id < 2 * 300; id += 2)
      pairs.push(
        frame(TYPE.HEADERS, END_HEADERS, id, connectBlock),
        frame(TYPE.RST_STREAM, 0, id, u32(CANCEL)),
      );
    // Then a stream that ends cleanly: its answer says the session still serves.
    const probe = Buffer.concat([
      literal(':method', 'GET'),
      literal(':path', PROBE_PATH),
      literal(':scheme', 'https'),
      literal(':authority', 'x'),
    ]);
    let answered = false;
    raw.socket.on('data', (chunk: Buffer) => {
      if (chunk.includes(Buffer.from('ready\n'))) answered = true;
    });
    raw.socket.write(Buffer.concat([...pairs, frame(TYPE.HEADERS, END_HEADERS | END_STREAM, 601, probe)]));
    await waitFor('the probe on the same session to be answered', () => answered, 20_000);
    expect(raw.goaways).toEqual([]);
    expect(ingress.sessions()).toBe(1);
    expect(ended).toEqual([]);
    expect(await sessionErrors()).toEqual([]);
  });
});
