/**
 * Reads a plain TCP socket through `net`'s `onread` option: libuv reads into one static buffer
 * instead of a fresh 64 KiB allocation per read, and no chunk goes through the socket's Readable
 * state. Only sockets the gateway creates itself can use it (`net.connect({ onread })`): Node's
 * `net.Server` takes no `onread` for the sockets it accepts.
 */

import type { OnReadOpts } from 'node:net';

/** Shared by every socket: the callback copies each chunk out before it returns. */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

export type ChunkSink = (chunk: Buffer) => void;

export interface SocketReader {
  /** Pass as `net.connect({ onread })`. */
  readonly onread: OnReadOpts;
  /** Where chunks go from now on; chunks read before are handed over first. */
  attach(sink: ChunkSink): void;
}

export function socketReader(): SocketReader {
  let sink: ChunkSink | undefined;
  const early: Buffer[] = [];
  return {
    onread: {
      buffer: READ_BUFFER,
      callback(bytes: number): boolean {
        // A right-sized copy: the sink's write may complete later, and the next read refills the buffer.
        const chunk = Buffer.allocUnsafe(bytes);
        READ_BUFFER.copy(chunk, 0, 0, bytes);
        if (sink) sink(chunk);
        else early.push(chunk);
        return true; // the sink pauses the socket itself when the other side pushes back
      },
    },
    attach(next) {
      sink = next;
      for (const chunk of early.splice(0)) next(chunk);
    },
  };
}
