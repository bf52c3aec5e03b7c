import { describe, expect, it } from 'vitest';
import { errorFromResponse, errorFromTransport } from '../kube/errors.js';
import {
  type RemoteApiHealth,
  type RemoteApiSource,
  RemoteApiSources,
  remoteApiHealth,
  type SourceHealth,
} from './remote-api-sources.js';

const answer = (status: number, reason: string, path: string) =>
  errorFromResponse(
    status,
    { kind: 'Status', code: status, reason, message: reason },
    { method: 'GET', path },
  );
const unreachable = errorFromTransport(
  Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
  {
    method: 'GET',
    path: '/api/v1/services',
  },
);
const services: RemoteApiSource = { name: 'exported services', resource: 'services' };
const federated: RemoteApiSource = { name: 'federated services', resource: 'services' };
const slices: RemoteApiSource = { name: 'endpointslices', resource: 'endpointslices' };
const up: SourceHealth = { connected: true };
const down = (error: unknown): SourceHealth => ({ connected: false, error });
const e401 = answer(401, 'Unauthorized', '/apis/discovery.k8s.io/v1/endpointslices');
const e403services = answer(403, 'Forbidden', '/api/v1/services');
const e403slices = answer(403, 'Forbidden', '/apis/discovery.k8s.io/v1/endpointslices');

describe('remoteApiHealth', () => {
  it.each<[string, [RemoteApiSource, SourceHealth | undefined][], RemoteApiHealth]>([
    [
      'every source lists and watches: up',
      [
        [services, up],
        [slices, up],
      ],
      { up: true },
    ],
    [
      'one has not answered yet, none fails: nothing to say',
      [
        [services, up],
        [slices, undefined],
      ],
      undefined,
    ],
    [
      'none has answered',
      [
        [services, undefined],
        [slices, undefined],
      ],
      undefined,
    ],
    [
      'services listed, endpointslices forbidden: down, endpointslices named',
      [
        [services, up],
        [slices, down(e403slices)],
      ],
      { up: false, source: slices, error: e403slices },
    ],
    [
      'a failure counts before every source has answered',
      [
        [services, undefined],
        [slices, down(e403slices)],
      ],
      { up: false, source: slices, error: e403slices },
    ],
    [
      'Unauthorized before Forbidden, wherever it is',
      [
        [services, down(e403services)],
        [slices, down(e401)],
      ],
      { up: false, source: slices, error: e401 },
    ],
    [
      'Forbidden before Unreachable',
      [
        [services, down(unreachable)],
        [slices, down(e403slices)],
      ],
      { up: false, source: slices, error: e403slices },
    ],
    [
      'alike failures: the first source named wins',
      [
        [services, up],
        [federated, down(e403services)],
        [slices, down(e403slices)],
      ],
      { up: false, source: federated, error: e403services },
    ],
    [
      'only Unreachable ones: the first',
      [
        [services, down(unreachable)],
        [slices, down(new Error('timed out'))],
      ],
      { up: false, source: services, error: unreachable },
    ],
    ['no source at all (nothing watched yet): up, vacuously', [], { up: true }],
  ])('%s', (_, sources, want) => {
    expect(remoteApiHealth(sources)).toEqual(want);
  });
});

describe('RemoteApiSources', () => {
  it('reports a change of the decided health only', () => {
    const seen: RemoteApiHealth[] = [];
    const s = new RemoteApiSources([services, slices], (h) => seen.push(h));
    s.set(services, up);
    expect(seen).toEqual([]);
    s.set(slices, down(e403slices));
    s.set(services, up);
    expect(seen).toEqual([{ up: false, source: slices, error: e403slices }]);
    s.set(services, down(unreachable));
    expect(seen).toHaveLength(1);
    s.set(slices, up);
    expect(seen.at(-1)).toEqual({ up: false, source: services, error: unreachable });
    s.set(services, up);
    expect(seen.at(-1)).toEqual({ up: true });
    s.set(slices, up);
    expect(seen).toHaveLength(3);
  });
});
