/**
 * The `onread` reader hands out chunks that outlive the shared read buffer, keeps what arrives
 * before a sink is attached, and leaves EOF to the socket's own 'end' event.
 */
import net from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { socketReader } from './socket-reader.js';
import { within } from './test-support/wait.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** What libuv does on a read: fill the shared buffer, then call back with the byte count. */
function deliver(reader: ReturnType<typeof socketReader>, text: string): void {
  const { buffer, callback } = reader.onread as {
    buffer: Buffer;
    callback: (n: number, b: Buffer) => boolean;
  };
  const n = buffer.write(text);
  expect(callback(n, buffer)).toBe(true);
}

it('hands over chunks read before attach first, each a copy the next read cannot overwrite', () => {
  const reader = socketReader();
  deliver(reader, 'early ');
  const chunks: Buffer[] = [];
  reader.attach((c) => chunks.push(c));
  deliver(reader, 'late');
  deliver(reader, 'XXXX'); // refills the shared buffer
  expect(chunks.map((c) => c.toString())).toEqual(['early ', 'late', 'XXXX']);
});

it("carries a socket's bytes and ends with the socket's 'end'", async () => {
  const payload = Buffer.alloc(300_000, 'abc');
  const server = net.createServer((s) => s.end(payload));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => server.close());
  const reader = socketReader();
  const socket = net.connect({
    host: '127.0.0.1',
    port: (server.address() as net.AddressInfo).port,
    onread: reader.onread,
  });
  cleanups.push(() => socket.destroy());
  const chunks: Buffer[] = [];
  reader.attach((c) => chunks.push(c));
  await within(new Promise((r) => socket.once('end', r)), 5_000, "the socket's 'end'");
  expect(Buffer.concat(chunks).equals(payload)).toBe(true);
});
