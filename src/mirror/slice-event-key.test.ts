import { describe, expect, it } from 'vitest';
import { HEADLESS_MIRROR_LABEL, SERVICE_NAME_LABEL } from '../kube/keys.js';
import type { V1EndpointSlice, V1Service } from '../kube/types.js';
import { sliceRemoteKey } from './slice-event-key.js';

const slice = (name: string, labels: Record<string, string> = {}): V1EndpointSlice => ({
  addressType: 'IPv4',
  endpoints: [],
  metadata: { namespace: 'default', name, labels },
});
const services: Record<string, V1Service> = {
  'default/web-0-west': {
    metadata: { namespace: 'default', name: 'web-0-west', labels: { [HEADLESS_MIRROR_LABEL]: 'web-west' } },
  },
};
const lookup = (ns: string | undefined, name: string) => services[`${ns}/${name}`];

describe('sliceRemoteKey', () => {
  it.each<[string, V1EndpointSlice, string | undefined]>([
    ["by its Service's label", slice('web-west-x7k2p', { [SERVICE_NAME_LABEL]: 'web-west' }), 'default/web'],
    ['by its name when unlabelled', slice('web-west'), 'default/web'],
    [
      "a per-pod mirror's slice: its Service's parent label",
      slice('web-0-west-abcde', { [SERVICE_NAME_LABEL]: 'web-0-west' }),
      'default/web',
    ],
    ['not a mirror name', slice('web-abcde', { [SERVICE_NAME_LABEL]: 'web' }), undefined],
  ])('%s', (_, s, want) => {
    expect(sliceRemoteKey(s, lookup, 'west')).toBe(want);
  });
});
