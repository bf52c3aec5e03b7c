import { Readable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import type { KubeClient } from './client.js';
import { createInformer } from './informer.js';
import { R } from './resources.js';
import type { V1ConfigMap } from './types.js';

/** A client whose one watch streams `chunks` as they are, then stays open until the informer stops. */
function clientStreaming(chunks: Buffer[]): KubeClient {
  let watched = false;
  const client = {
    closed: false,
    list: async () => ({ items: [], resourceVersion: '1' }),
    watch: async (_res: unknown, opts: { signal: AbortSignal }) => {
      if (watched) return Readable.from([]);
      watched = true;
      const stream = new Readable({ read() {} });
      for (const c of chunks) stream.push(c);
      opts.signal.addEventListener('abort', () => stream.destroy());
      return stream;
    },
  };
  return client as unknown as KubeClient;
}

const event = (name: string, data: string, rv: string) =>
  `${JSON.stringify({ type: 'ADDED', object: { metadata: { namespace: 'ns', name, resourceVersion: rv }, data: { v: data } } })}\n`;

describe('informer watch stream', () => {
  it('cuts events at newlines wherever the chunks split them, multi-byte characters included', async () => {
    const text = event('a', 'grüße ✓ 🚀', '2') + '\n' + event('b', 'x', '3') + event('c', '日本', '4');
    const bytes = Buffer.from(text, 'utf8');
    // Split inside the 4-byte emoji, inside an event, and right after a newline.
    const rocket = bytes.indexOf(Buffer.from('🚀')) + 2;
    const cuts = [3, rocket, bytes.indexOf(10) + 1, bytes.length - 5];
    const chunks = [0, ...cuts].map((from, i) => bytes.subarray(from, cuts[i] ?? bytes.length));
    const informer = createInformer<V1ConfigMap>(clientStreaming(chunks), R.configMaps, {
      watchTimeoutSeconds: 60,
    });
    const seen: string[] = [];
    const all = new Promise<void>((resolve) =>
      informer.onEvent((e) => {
        seen.push(`${e.object.metadata?.name}=${e.object.data?.v}`);
        if (seen.length === 3) resolve();
      }),
    );
    informer.start();
    await all;
    await informer.stop();
    expect(seen).toEqual(['a=grüße ✓ 🚀', 'b=x', 'c=日本']);
    expect(informer.resourceVersion).toBe('4');
  });
});

describe('informer watch lines and resourceVersions', () => {
  it("parses each line's resourceVersion once: its own is kept parsed, not parsed again per line", async () => {
    const lines = Array.from({ length: 20 }, (_, i) => event(`c${i}`, 'x', String(10 + i))).join('');
    const informer = createInformer<V1ConfigMap>(clientStreaming([Buffer.from(lines)]), R.configMaps, {
      watchTimeoutSeconds: 60,
    });
    let seen = 0;
    const all = new Promise<void>((resolve) =>
      informer.onEvent(() => {
        if (++seen === 20) resolve();
      }),
    );
    const parsed = vi.spyOn(globalThis, 'BigInt');
    try {
      informer.start();
      await all;
      // The list's version, then one per line.
      expect(parsed.mock.calls.length).toBeLessThanOrEqual(21);
    } finally {
      parsed.mockRestore();
      await informer.stop();
    }
    expect(informer.resourceVersion).toBe('29');
  });
});
