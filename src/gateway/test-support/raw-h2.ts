/**
 * A raw HTTP/2 client over TLS that writes frames itself (RFC 9113 §4, §6; HPACK literals from
 * RFC 7541 §6.2.2), so tests can do what a well-behaved library never would: exceed the peer's
 * SETTINGS_MAX_CONCURRENT_STREAMS, or send a request RFC 9113 calls malformed.
 */
import tls from 'node:tls';
import type { ClientTls } from './h2-client.js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
export const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, GOAWAY: 7 } as const;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const ACK = 0x1;

export interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** HPACK "literal header field without indexing — new name", short strings only (< 127 octets). */
function literal(name: string, value: string): Buffer {
  return Buffer.concat([
    Buffer.from([0x00, name.length]),
    Buffer.from(name),
    Buffer.from([value.length]),
    Buffer.from(value),
  ]);
}

export interface RawH2 {
  frames: Frame[];
  /** Resolves once the server's SETTINGS arrived (and were acknowledged, unless `holdAck`). */
  ready: Promise<void>;
  /** Acknowledges the server's SETTINGS (with `holdAck`). */
  ack(): void;
  closed: Promise<void>;
  connect(streamId: number, authority: string): void;
  /**
   * A HEADERS frame (END_HEADERS) with exactly these fields, in this order, well-formed or not: what
   * a library would refuse to send (a CONNECT without `:authority`, or with `:path`).
   */
  headers(streamId: number, fields: ReadonlyArray<readonly [string, string]>, endStream?: boolean): void;
  data(streamId: number, bytes: Buffer, end?: boolean): void;
  destroy(): void;
}

export function rawH2(
  address: { host: string; port: number },
  creds: ClientTls,
  opts: { holdAck?: boolean } = {},
): RawH2 {
  const frames: Frame[] = [];
  const socket = tls.connect({
    host: address.host,
    port: address.port,
    ...creds,
    ALPNProtocols: ['h2'],
    checkServerIdentity: () => undefined,
  });
  socket.on('error', () => {});
  let markReady: () => void;
  const ready = new Promise<void>((r) => {
    markReady = r;
  });
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  socket.once('secureConnect', () =>
    socket.write(Buffer.concat([PREFACE, frame(FRAME.SETTINGS, 0, 0, Buffer.alloc(0))])),
  );
  let buffered = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 9) {
      const length = buffered.readUIntBE(0, 3);
      if (buffered.length < 9 + length) break;
      const f: Frame = {
        type: buffered[3]!,
        flags: buffered[4]!,
        streamId: buffered.readUInt32BE(5) & 0x7fffffff,
        payload: buffered.subarray(9, 9 + length),
      };
      buffered = buffered.subarray(9 + length);
      frames.push(f);
      if (f.type === FRAME.SETTINGS && (f.flags & ACK) === 0) {
        if (!opts.holdAck) socket.write(frame(FRAME.SETTINGS, ACK, 0, Buffer.alloc(0)));
        markReady();
      }
    }
  });
  return {
    frames,
    ready,
    closed,
    ack() {
      socket.write(frame(FRAME.SETTINGS, ACK, 0, Buffer.alloc(0)));
    },
    connect(streamId, authority) {
      const block = Buffer.concat([literal(':method', 'CONNECT'), literal(':authority', authority)]);
      socket.write(frame(FRAME.HEADERS, END_HEADERS, streamId, block));
    },
    headers(streamId, fields, endStream = false) {
      const block = Buffer.concat(fields.map(([name, value]) => literal(name, value)));
      socket.write(frame(FRAME.HEADERS, END_HEADERS | (endStream ? END_STREAM : 0), streamId, block));
    },
    data(streamId, bytes, end = false) {
      socket.write(frame(FRAME.DATA, end ? END_STREAM : 0, streamId, bytes));
    },
    destroy: () => socket.destroy(),
  };
}
