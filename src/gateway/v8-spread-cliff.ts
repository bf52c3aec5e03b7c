/**
 * Node 20's V8 (11.3) has a performance cliff that two hot calls of Node's own hit once per tunnel:
 * an object copied with `{ ...source }` from a plain object and then given a new property misses
 * the inline caches of every later access (megamorphic loads, prototype validity cells and stub
 * cache entries rebuilt each time; `perf` on a micro-benchmark shows `LoadIC_Miss`,
 * `StubCache::Set`, `MakePrototypesFast`). `net.Socket` copies its options that way and adds
 * `emitClose` and friends; `ClientHttp2Session.request()` copies its options and adds the priority
 * defaults. Measured on this VM: `new net.Socket({ allowHalfOpen: true })` ~7.8 µs against ~0.4 µs
 * without options; `request()` ~10.3 µs against ~4.8 µs when the options leave nothing to add.
 * V8 12 (Node 22) and later do not have the cliff, and the workarounds cost a little there, so each
 * one applies only where the cliff is (bench/gateway-analysis.md, "What Node 20 costs per new
 * connection").
 */
import type { ClientSessionRequestOptions } from 'node:http2';

/** Whether this V8 has the cliff (major version below 12). */
export const SPREAD_COPIES_ARE_SLOW = Number(process.versions.v8.split('.')[0]) < 12;

/**
 * Options for `net.connect`. With the cliff they sit on a null prototype: V8 copies such an object
 * by its generic path (~2 µs per socket instead of ~7.8). Without it the plain object is cheaper.
 */
export function socketOptions<T extends object>(options: T): T {
  return SPREAD_COPIES_ARE_SLOW ? Object.assign(Object.create(null) as T, options) : options;
}

/**
 * Options of a CONNECT `request()`. With the cliff they carry Node's own priority defaults (weight
 * 16, no parent, not exclusive, not silent: RFC 9113 §5.3.5), so that `request()` adds nothing to
 * its copy. Node 24 deprecates `weight`, so elsewhere only `endStream` is passed.
 */
export const CONNECT_REQUEST_OPTIONS: ClientSessionRequestOptions = SPREAD_COPIES_ARE_SLOW
  ? ({
      endStream: false,
      weight: 16,
      parent: 0,
      exclusive: false,
      silent: false,
    } as ClientSessionRequestOptions)
  : { endStream: false };
