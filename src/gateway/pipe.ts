/**
 * Joins a CONNECT tunnel's HTTP/2 stream and a plain TCP socket, both ways, with the semantics of
 * RFC 9113 §8.5:
 * - a FIN on the TCP side becomes END_STREAM, END_STREAM becomes a FIN (half-close both ways, so
 *   the socket must be created with `allowHalfOpen: true`);
 * - a TCP error or reset becomes RST_STREAM(CONNECT_ERROR), and a RST_STREAM becomes a TCP reset.
 * Streams that end cleanly end with END_STREAM only: resets are counted by the peer's rapid-reset
 * protection (CVE-2023-44487), and a GOAWAY from it would take every tunnel on the session down.
 *
 * Bytes move by direct `write` calls with manual backpressure (a `false` from `write` pauses the
 * other side until 'drain'), which is cheaper per chunk than `pipe`. The socket side may be read
 * through a SocketReader (`onread`, no per-read allocation) when the gateway created the socket.
 * Nothing is counted inline: the close callback reads the socket's own byte counts, and the
 * metrics read them of open tunnels at each scrape.
 */

import type { Http2Stream } from 'node:http2';
import { constants as h2 } from 'node:http2';
import type { Socket } from 'node:net';
import { abortSocket } from './drain.js';
import type { SocketReader } from './socket-reader.js';

export interface SpliceResult {
  /** Bytes read from the TCP socket. */
  bytesIn: number;
  /** Bytes written to the TCP socket. */
  bytesOut: number;
  /** True when either side ended with a reset rather than both FINs. */
  reset: boolean;
}

export function splice(
  stream: Http2Stream,
  socket: Socket,
  onClose: (result: SpliceResult) => void,
  reader?: SocketReader,
): void {
  let reset = false;
  let streamClosed = false;
  let socketClosed = false;

  const finish = (): void => {
    if (streamClosed && socketClosed) {
      onClose({ bytesIn: socket.bytesRead, bytesOut: socket.bytesWritten, reset });
    }
  };

  socket.on('error', () => {
    // ECONNRESET, EPIPE, ETIMEDOUT …: RFC 9113 §8.5 asks for CONNECT_ERROR on the stream.
    reset = true;
    resetStream(stream, h2.NGHTTP2_CONNECT_ERROR);
  });
  socket.on('close', () => {
    socketClosed = true;
    // Closed without reading the peer's FIN: the tunnel cannot carry on normally.
    if (!socket.readableEnded && !stream.closed && !stream.destroyed) {
      reset = true;
      resetStream(stream, h2.NGHTTP2_CONNECT_ERROR);
    }
    finish();
  });

  // A stream error (RST_STREAM received, session torn down) is handled on 'close' below.
  stream.on('error', () => {
    reset = true;
  });
  stream.on('close', () => {
    streamClosed = true;
    // A reset, or a close before both directions finished (the session was destroyed: cut, revoked,
    // pool closed), aborts the TCP side too (RFC 9113 §8.5): a FIN would read as a complete
    // transfer and silently truncate close-delimited data.
    if (!socket.destroyed && (wasReset(stream) || !socket.readableEnded || !socket.writableEnded)) {
      reset = true;
      abortSocket(socket);
    }
    finish();
  });

  // Node ends an HTTP/2 stream's readable side on RST_STREAM too, and when it destroys the stream
  // with its session (no code: a cut, a revoked peer, the pool closing): only the peer's
  // END_STREAM, which ends a live stream, is forwarded as a FIN; the rest are resets.
  stream.once('end', () => {
    if (socket.destroyed) return;
    if (wasReset(stream) || stream.destroyed) {
      reset = true;
      abortSocket(socket);
    } else {
      socket.end();
    }
  });
  stream.on('data', (chunk: Buffer) => {
    if (!socket.write(chunk)) stream.pause();
  });
  socket.on('drain', () => stream.resume());

  const toStream = (chunk: Buffer): void => {
    if (!stream.write(chunk)) socket.pause();
  };
  if (reader) reader.attach(toStream);
  else socket.on('data', toStream);
  stream.on('drain', () => socket.resume());
  // The socket's FIN (its 'end', also in `onread` mode) becomes END_STREAM. A client that sent its
  // FIN, with no data, while its tunnel was being opened has had its 'end' already.
  if (socket.readableEnded) stream.end();
  else socket.once('end', () => stream.end());
}

/** Whether the stream was closed by RST_STREAM (either side) with an error code. */
function wasReset(stream: Http2Stream): boolean {
  return stream.rstCode !== undefined && stream.rstCode !== h2.NGHTTP2_NO_ERROR;
}

/** Streams reset by this process (resetStream), which the ingress's rapid-reset count leaves out. */
const resetHere = new WeakSet<Http2Stream>();

/** Whether `stream` was reset by `resetStream`: by this gateway, not by its peer. */
export function wasResetHere(stream: Http2Stream): boolean {
  return resetHere.has(stream);
}

/**
 * RST_STREAM(code) with no END_STREAM before it. Http2Stream.close() first ends the writable side,
 * and when a write is in flight Node sends that END_STREAM ahead of the deferred RST_STREAM: the
 * peer would see a clean FIN, forward it, and only then the reset. Marking the writable side as
 * ending makes close() skip that end() and reset straight away.
 */
export function resetStream(stream: Http2Stream, code: number): void {
  if (stream.closed || stream.destroyed) return;
  resetHere.add(stream);
  const state = (stream as unknown as { _writableState?: { ending: boolean } })._writableState;
  if (state) state.ending = true;
  stream.close(code);
}
