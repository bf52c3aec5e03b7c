import { describe, expect, it } from 'vitest';
import { HEADLESS_MIRROR_LABEL } from '../kube/keys.js';
import type { V1Service } from '../kube/types.js';
import { listeningKeys } from './local-events.js';

/** A per-pod mirror of the headless `db` of east, in the cache. */
const perPod: V1Service = {
  metadata: { namespace: 'default', name: 'db-0-east', labels: { [HEADLESS_MIRROR_LABEL]: 'db-east' } },
};
const cache = (ns: string, name: string) =>
  ns === perPod.metadata?.namespace && name === perPod.metadata?.name ? perPod : undefined;

describe('listeningKeys', () => {
  it.each<[string, string[], string[]]>([
    ['a mirror of the Link, not in the cache: by its name', ['east/default/web-east'], ['default/web']],
    ['a per-pod mirror in the cache: its headless parent', ['east/default/db-0-east'], ['default/db']],
    ['another cluster at a name this Link could have', ['us-east/default/web-east'], []],
    ['a foreign claim (no cluster)', ['default/web-east'], []],
    ['a name that is no mirror of the Link', ['east/default/web'], []],
    ['each mirror its key', ['east/default/web-east', 'east/prod/api-east'], ['default/web', 'prod/api']],
  ])('%s', (_name, mirrors, expected) => {
    expect(listeningKeys(new Set(mirrors), 'east', cache)).toEqual(expected);
  });
});
