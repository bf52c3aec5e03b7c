import { AsyncLocalStorage, AsyncResource, executionAsyncId } from 'node:async_hooks';
import { spawnSync } from 'node:child_process';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cheapBind, installCheapAsyncResourceBind } from './async-resource-bind.js';

type Bound = ((...args: unknown[]) => unknown) & { asyncResource: unknown };
type AnyBind = (this: AsyncResource, fn: (...args: never[]) => unknown, thisArg?: unknown) => unknown;
const nodeBind = AsyncResource.prototype.bind as AnyBind;
const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** What a bound function observes when called: its async id, ALS store, `this` and arguments. */
function observe(bind: AnyBind, thisArg?: unknown) {
  const als = new AsyncLocalStorage<string>();
  const resource = als.run('at bind', () => new AsyncResource('Probe'));
  const fn = function (this: unknown, a: number, b: number) {
    return { id: executionAsyncId() === resource.asyncId(), store: als.getStore(), self: this, sum: a + b };
  };
  const bound = bind.call(resource, fn, thisArg) as Bound;
  const caller = { name: 'caller' };
  return {
    result: als.run('at call', () => bound.call(caller, 1, 2)),
    length: bound.length,
    enumerable: Object.keys(bound),
    lengthDescriptor: Object.getOwnPropertyDescriptor(bound, 'length'),
  };
}

describe('cheapBind', () => {
  it.each([
    ['without thisArg (the caller’s this)', undefined],
    ['with thisArg', { name: 'bound' }],
  ])('behaves as Node’s bind %s', (_, thisArg) => {
    const ours = observe(cheapBind as AnyBind, thisArg);
    expect(ours).toEqual(observe(nodeBind, thisArg));
    expect(ours.result).toMatchObject({ id: true, store: 'at bind', sum: 3 });
    expect((ours.result as { self: unknown }).self).toEqual(thisArg ?? { name: 'caller' });
  });

  it.each([0, 1, 3])('gives the bound function the length of a %i-parameter function, as Node does', (n) => {
    const fn = new Function(...Array.from({ length: n }, (_, i) => `a${i}`), 'return 0') as () => unknown;
    const resource = new AsyncResource('Probe');
    for (const thisArg of [undefined, {}]) {
      const ours = cheapBind.call(resource, fn, thisArg) as Bound;
      const node = nodeBind.call(resource, fn, thisArg) as Bound;
      expect(Object.getOwnPropertyDescriptor(ours, 'length')).toEqual(
        Object.getOwnPropertyDescriptor(node, 'length'),
      );
      expect(ours.length).toBe(n);
    }
  });

  it('rejects a non-function with Node’s own error', () => {
    const resource = new AsyncResource('Probe');
    const code = (bind: AnyBind) => {
      try {
        bind.call(resource, 42 as never);
      } catch (err) {
        return (err as NodeJS.ErrnoException).code;
      }
      return 'no error';
    };
    expect(code(cheapBind as AnyBind)).toBe('ERR_INVALID_ARG_TYPE');
    expect(code(nodeBind)).toBe('ERR_INVALID_ARG_TYPE');
  });

  it('keeps the deprecated asyncResource accessor, warning DEP0172 once per process', () => {
    // A fresh process, since Node remembers warned codes for the process's lifetime.
    const script = `
      import { AsyncResource } from 'node:async_hooks';
      import { cheapBind } from './src/gateway/async-resource-bind.ts';
      const codes = [];
      process.on('warning', (w) => codes.push(w.code));
      const r = new AsyncResource('Probe');
      const a = cheapBind.call(r, () => 1);
      const b = cheapBind.call(r, () => 2, {});
      const other = new AsyncResource('Other');
      const seen = [a.asyncResource === r, b.asyncResource === r];
      a.asyncResource = other;
      seen.push(a.asyncResource === other, b.asyncResource === r, a() === 1);
      setImmediate(() => process.stdout.write(JSON.stringify({ seen, codes })));`;
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: REPO,
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ seen: [true, true, true, true, true], codes: ['DEP0172'] });
  });
});

describe('installCheapAsyncResourceBind', () => {
  it('installs once on the prototype it is given', () => {
    class Probe extends AsyncResource {}
    expect(installCheapAsyncResourceBind(Probe.prototype)).toBe(true);
    expect(installCheapAsyncResourceBind(Probe.prototype)).toBe(false);
    expect(new Probe('Probe').bind).toBe(cheapBind);
    expect(new AsyncResource('Other').bind).toBe(nodeBind);
  });

  it('keeps an HTTP/2 client stream’s events in the requester’s async context', async () => {
    // ClientHttp2Session.request() is the call the gateway installs it for (see the module).
    const proto = AsyncResource.prototype as { bind: unknown };
    const server = http2.createServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    expect(installCheapAsyncResourceBind()).toBe(true);
    try {
      const als = new AsyncLocalStorage<string>();
      const stores = await als.run('requester', () => {
        const req = client.request({ ':path': '/' });
        req.end();
        return new Promise<(string | undefined)[]>((resolve, reject) => {
          const seen: (string | undefined)[] = [];
          req.on('response', () => seen.push(als.getStore()));
          req.on('error', reject);
          req.resume();
          req.on('end', () => resolve([...seen, als.getStore()]));
        });
      });
      expect(stores).toEqual(['requester', 'requester']);
    } finally {
      proto.bind = nodeBind;
      client.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
