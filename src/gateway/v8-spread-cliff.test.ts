import http2, { constants as h2 } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { CONNECT_REQUEST_OPTIONS, SPREAD_COPIES_ARE_SLOW, socketOptions } from './v8-spread-cliff.js';

const nodeMajor = Number(process.versions.node.split('.')[0]);

describe('the V8 spread-copy workarounds', () => {
  it('apply on Node 20 (V8 11.3) only', () => {
    expect(SPREAD_COPIES_ARE_SLOW).toBe(nodeMajor < 22);
  });

  it('keep the socket options as given, on a null prototype only where that is cheaper', () => {
    const onread = { buffer: Buffer.alloc(16), callback: () => true };
    const given = { host: '10.0.0.1', port: 80, allowHalfOpen: true, noDelay: true, onread };
    const options = socketOptions(given);
    expect({ ...options }).toEqual(given);
    expect(Object.getPrototypeOf(options)).toBe(SPREAD_COPIES_ARE_SLOW ? null : Object.prototype);
  });

  it('open a CONNECT stream with Node’s own priority defaults and no warning', async () => {
    expect(CONNECT_REQUEST_OPTIONS.endStream).toBe(false);
    if (SPREAD_COPIES_ARE_SLOW) {
      expect(CONNECT_REQUEST_OPTIONS).toMatchObject({
        weight: h2.NGHTTP2_DEFAULT_WEIGHT,
        parent: 0,
        exclusive: false,
      });
    }
    const warnings: string[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w.message);
    };
    process.on('warning', onWarning);
    const server = http2.createServer();
    const seen: Array<{ method: unknown; authority: unknown; body: string }> = [];
    server.on('stream', (stream, headers) => {
      let body = '';
      stream.setEncoding('utf8');
      stream.on('data', (c: string) => {
        body += c;
      });
      stream.on('end', () => {
        seen.push({ method: headers[':method'], authority: headers[':authority'], body });
        stream.respond({ ':status': 200 });
        stream.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const session = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      for (let i = 0; i < 2; i++) {
        const stream = session.request(
          { ':method': 'CONNECT', ':authority': 'svc.ns.svc.cluster.local:80' },
          CONNECT_REQUEST_OPTIONS,
        );
        stream.end(`tunnel ${i}`);
        const headers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
          stream.once('response', (h) => resolve(h));
          stream.once('error', reject);
        });
        expect(headers[':status']).toBe(200);
        stream.resume();
        await new Promise((resolve) => stream.once('close', resolve));
      }
      await new Promise((resolve) => setImmediate(resolve));
      expect(seen).toEqual(
        [0, 1].map((i) => ({
          method: 'CONNECT',
          authority: 'svc.ns.svc.cluster.local:80',
          body: `tunnel ${i}`,
        })),
      );
      expect(warnings).toEqual([]);
      expect(CONNECT_REQUEST_OPTIONS.endStream).toBe(false); // request() copied it, not changed it
    } finally {
      process.off('warning', onWarning);
      session.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
