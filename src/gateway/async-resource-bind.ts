/**
 * A cheaper `AsyncResource.prototype.bind` for the gateway process.
 *
 * Why: every tunnel the egress opens is an `http2.ClientHttp2Session.request()`, and Node binds a
 * fresh `AsyncResource` for each of them (`reqAsync.bind(requestOnConnect…)`). Node's `bind` wraps
 * the deprecated `asyncResource` getter and setter of the bound function in two `util.deprecate`
 * closures per call; on Node 20 `deprecate` also re-parents each closure's prototype and reads its
 * lazily built `.prototype`. A micro-benchmark of `new AsyncResource().bind(f)` on this VM: ~9.5 µs
 * on Node 20, ~2.8 µs on Node 24, ~0.3 µs with this one (on either). Under `Connection: close` load
 * (`bench/gateway-ab.ts --measure new-connections`, both orders) the egress spent 34–64 µs less
 * CPU per client connection on Node 20 and 15 µs less on Node 24 (bench/gateway-analysis.md).
 *
 * What stays the same as Node's (checked against the original in the tests): the bound function
 * runs `fn` through the resource's `runInAsyncScope` (async id, AsyncLocalStorage store), with the
 * caller's `this` when no `thisArg` is given; `length` is `fn.length`; `asyncResource` is still an
 * enumerable accessor that returns the resource (or what was assigned to it) and warns DEP0172
 * once per process; a non-function `fn` gets Node's own ERR_INVALID_ARG_TYPE. What differs: the
 * accessor's functions are shared instead of made per call, and the resource it reports sits under
 * a symbol on the bound function.
 *
 * Installed by `serveGateway` (the gateway as a process), not by `runGateway`, so a library user
 * or a test that embeds a gateway keeps its process's `AsyncResource` untouched.
 */
import { AsyncResource } from 'node:async_hooks';
import { deprecate } from 'node:util';

type Bind = (this: AsyncResource, fn: (...args: unknown[]) => unknown, thisArg?: unknown) => unknown;

const nodeBind: Bind = AsyncResource.prototype.bind as Bind;

// One deprecated no-op for every bound function: it warns DEP0172 on the first access only, as
// Node's per-call wrappers do (Node remembers warned codes per process).
const warnAsyncResourceProperty = deprecate(
  () => {},
  'The asyncResource property on bound functions is deprecated',
  'DEP0172',
);

// What `asyncResource` reports, kept on the bound function itself so that one accessor pair serves
// them all: V8 shares the property's map transition only when the getter and setter are the same
// functions each time, and fresh closures per call cost ~0.6 µs more on Node 20.
const REPORTED = Symbol('isthmus.asyncResource');
type BoundFunction = { [REPORTED]: unknown };
const ASYNC_RESOURCE_PROPERTY: PropertyDescriptor = {
  configurable: true,
  enumerable: true,
  get(this: BoundFunction) {
    warnAsyncResourceProperty();
    return this[REPORTED];
  },
  set(this: BoundFunction, value: unknown) {
    warnAsyncResourceProperty();
    this[REPORTED] = value;
  },
};

/** `AsyncResource.prototype.bind` without the per-call deprecation wrappers. */
export const cheapBind: Bind = function cheapBind(fn, thisArg) {
  if (typeof fn !== 'function') return nodeBind.call(this, fn, thisArg); // Node's error
  const resource = this;
  const bound =
    thisArg === undefined
      ? function (this: unknown, ...args: unknown[]) {
          return resource.runInAsyncScope(fn, this, ...args);
        }
      : resource.runInAsyncScope.bind(resource, fn, thisArg);
  // A function's own `length` is already non-writable, non-enumerable and configurable, so only
  // its value may need changing (not for http2's request: both are 0 there).
  if (bound.length !== fn.length) {
    Object.defineProperty(bound, 'length', {
      configurable: true,
      enumerable: false,
      value: fn.length,
      writable: false,
    });
  }
  (bound as unknown as BoundFunction)[REPORTED] = resource;
  Object.defineProperty(bound, 'asyncResource', ASYNC_RESOURCE_PROPERTY);
  return bound;
};

/** Puts `cheapBind` on `proto` (AsyncResource's by default); false if it was already there. */
export function installCheapAsyncResourceBind(proto: { bind: unknown } = AsyncResource.prototype): boolean {
  if (proto.bind === cheapBind) return false;
  proto.bind = cheapBind;
  return true;
}
