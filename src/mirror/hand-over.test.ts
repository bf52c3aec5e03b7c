import { describe, expect, it } from 'vitest';
import { IsthmusError } from '../errors.js';
import { KubeApiError } from '../kube/errors.js';
import { ISTHMUS_MIRROR_LABEL } from '../kube/keys.js';
import type { V1Service } from '../kube/types.js';
import {
  clusterIPRefusal,
  keptClusterIP,
  VacatedNames,
  vacatedClusterIP,
  withClusterIP,
  withoutClusterIP,
} from './hand-over.js';
import { foreignService, linkerdMirror } from './test-builders.js';

/** Linkerd's mirror of `cluster` as the API server stores it. */
function linkerds(name = 'web-west', cluster = 'west', spec: V1Service['spec'] = {}): V1Service {
  const svc = linkerdMirror(name, cluster);
  svc.metadata!.uid = `uid-${name}`;
  svc.spec = { ...svc.spec, type: 'ClusterIP', clusterIP: '10.96.0.42', clusterIPs: ['10.96.0.42'], ...spec };
  return svc;
}

describe('vacatedClusterIP', () => {
  it("is the address of Linkerd's mirror of that cluster, of type ClusterIP, with an address", () => {
    expect(vacatedClusterIP(linkerds(), 'west')).toBe('10.96.0.42');
    expect(vacatedClusterIP(linkerds('web-west', 'west', { type: undefined }), 'west')).toBe('10.96.0.42');
  });

  it.each<[string, V1Service | undefined]>([
    ['nothing', undefined],
    ['a mirror of another cluster', linkerds('web-west', 'north')],
    ['a headless one', linkerds('web-west', 'west', { clusterIP: 'None', clusterIPs: ['None'] })],
    ['a NodePort one', linkerds('web-west', 'west', { type: 'NodePort' })],
    ['one without an address', linkerds('web-west', 'west', { clusterIP: '', clusterIPs: [] })],
    ['one whose address is no IP', linkerds('web-west', 'west', { clusterIP: 'nonsense' })],
    ['a Service that is no mirror', { ...foreignService('web-west'), spec: linkerds().spec }],
  ])('is nothing for %s', (_what, svc) => {
    expect(vacatedClusterIP(svc, 'west')).toBeUndefined();
  });

  it("is nothing for one of Isthmus's own mirrors", () => {
    const ours = linkerds();
    ours.metadata!.labels![ISTHMUS_MIRROR_LABEL] = 'west';
    expect(vacatedClusterIP(ours, 'west')).toBeUndefined();
  });
});

describe('keptClusterIP', () => {
  const mirror = (spec: V1Service['spec'] = {}): V1Service => ({ metadata: { name: 'web-west' }, spec });

  it('keeps an address of the family the mirror gets', () => {
    expect(keptClusterIP(linkerds(), 'west', mirror(), 'IPv4')).toBe('10.96.0.42');
    expect(keptClusterIP(linkerds(), 'west', mirror(), undefined)).toBe('10.96.0.42');
    expect(keptClusterIP(linkerds(), 'west', mirror({ ipFamilies: ['IPv6'] }), 'IPv4')).toBeUndefined();
    expect(keptClusterIP(linkerds(), 'west', mirror(), 'IPv6')).toBeUndefined();
    const v6 = linkerds('web-west', 'west', { clusterIP: 'fd00:10:96::2a', clusterIPs: ['fd00:10:96::2a'] });
    expect(keptClusterIP(v6, 'west', mirror({ ipFamilies: ['IPv6'] }), 'IPv4')).toBe('fd00:10:96::2a');
  });

  it('asks nothing for a headless mirror', () => {
    expect(keptClusterIP(linkerds(), 'west', mirror({ clusterIP: 'None' }), 'IPv4')).toBeUndefined();
  });

  it('sets and clears both address fields', () => {
    const asked = withClusterIP(mirror({ ports: [{ port: 80 }] }), '10.96.0.42');
    expect(asked.spec).toEqual({
      ports: [{ port: 80 }],
      clusterIP: '10.96.0.42',
      clusterIPs: ['10.96.0.42'],
    });
    expect(withoutClusterIP(asked).spec).toEqual({ ports: [{ port: 80 }] });
  });
});

describe('clusterIPRefusal', () => {
  const invalid = (field: string, message: string) =>
    new KubeApiError('KUBE_INVALID', message, 422, 'Invalid', [{ field, message }], undefined, {
      terminal: true,
    });

  it("is the API server's words of a 422 about the address asked for", () => {
    const taken =
      'Service "web-west" is invalid: spec.clusterIPs: Invalid value: ["10.96.0.42"]: failed to allocate IP 10.96.0.42: provided IP is already allocated';
    expect(clusterIPRefusal(invalid('spec.clusterIPs', taken))).toBe(taken);
    const family =
      'Service "web-west" is invalid: spec.clusterIPs[0]: Invalid value: "fd00::1": expected an IPv4 value';
    expect(clusterIPRefusal(invalid('spec.clusterIPs[0]', family))).toBe(family);
  });

  it('is nothing for any other error', () => {
    expect(
      clusterIPRefusal(
        invalid('spec.ports[0].port', 'Service "web-west" is invalid: spec.ports[0].port: Invalid value: 0'),
      ),
    ).toBeUndefined();
    expect(clusterIPRefusal(new IsthmusError('KUBE_FORBIDDEN', 'spec.clusterIP forbidden'))).toBeUndefined();
    expect(clusterIPRefusal(new Error('spec.clusterIPs'))).toBeUndefined();
  });
});

describe('VacatedNames', () => {
  it("remembers Linkerd's deleted mirrors until their name is held again", () => {
    const names = new VacatedNames();
    names.observe({ type: 'add', object: linkerds() });
    expect(names.get('default', 'web-west')).toBeUndefined();
    names.observe({ type: 'delete', object: linkerds() });
    const kept = names.get('default', 'web-west');
    expect(vacatedClusterIP(kept, 'west')).toBe('10.96.0.42');
    // Only what the decision reads is kept.
    expect(kept?.metadata?.annotations).toBeUndefined();
    // Held again (our new mirror, or anyone's Service): its address is the holder's own now.
    names.observe({ type: 'add', object: foreignService('web-west') });
    expect(names.get('default', 'web-west')).toBeUndefined();
  });

  it('remembers nothing of other Services', () => {
    const names = new VacatedNames();
    const ours = linkerds('a-west');
    ours.metadata!.labels![ISTHMUS_MIRROR_LABEL] = 'west';
    for (const object of [
      ours,
      { ...foreignService('b-west'), spec: linkerds().spec },
      linkerds('c-west', 'west', { clusterIP: 'None' }),
    ])
      names.observe({ type: 'delete', object });
    expect(names.size).toBe(0);
  });

  it('forgets the oldest past its bound', () => {
    const names = new VacatedNames();
    for (let i = 0; i <= 10_000; i++) names.observe({ type: 'delete', object: linkerds(`s${i}-west`) });
    expect(names.size).toBe(10_000);
    expect(names.get('default', 's0-west')).toBeUndefined();
    expect(names.get('default', 's10000-west')).toBeDefined();
  });
});
