import { describe, expect, it } from 'vitest';
import { isIsthmusError } from '../../errors.js';
import { matchesLabelSelector } from '../../kube/label-selector.js';
import { keyPatternList, labelSelectorFromString, linkSpecOptions, linkSpecWarnings } from './options.js';

function usageError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(isIsthmusError(err, 'USAGE')).toBe(true);
    return String(err);
  }
  throw new Error('expected a USAGE error');
}

describe('isthmus link flags', () => {
  it('turns a kubectl -l selector into the LabelSelector that selects the same Services', () => {
    const text = 'app in (api,web),tier!=internal,mirror.linkerd.io/exported=true,!legacy,team';
    const sel = labelSelectorFromString(text);
    expect(sel).toEqual({
      matchLabels: { 'mirror.linkerd.io/exported': 'true' },
      matchExpressions: [
        { key: 'app', operator: 'In', values: ['api', 'web'] },
        { key: 'legacy', operator: 'DoesNotExist' },
        { key: 'team', operator: 'Exists' },
        { key: 'tier', operator: 'NotIn', values: ['internal'] },
      ],
    });
    const base = { 'mirror.linkerd.io/exported': 'true', app: 'web', team: 'a' };
    expect(matchesLabelSelector(sel, base)).toBe(true);
    expect(matchesLabelSelector(sel, { ...base, tier: 'internal' })).toBe(false);
    expect(matchesLabelSelector(sel, { ...base, tier: 'edge' })).toBe(true);
    expect(matchesLabelSelector(sel, { ...base, legacy: 'yes' })).toBe(false);
    expect(matchesLabelSelector(sel, { ...base, app: 'db' })).toBe(false);
  });

  it.each([
    ['', /empty: a Link with an empty selector mirrors nothing/],
    ['app in (a', /unable to parse requirement|expected/],
    ['replicas>2', /replicas > … is not supported/],
    ['app=a,app=b', /app cannot equal both a and b/],
    ['-bad=1', /Invalid value/],
  ])('refuses the selector %j with the reason', (text, reason) => {
    expect(usageError(() => labelSelectorFromString(text))).toMatch(reason);
  });

  it('takes a federated service selector, empty meaning no members, and names its flag in errors', () => {
    expect(linkSpecOptions({ federatedServiceSelector: 'federation=payments' })).toEqual({
      federatedServiceSelector: { matchLabels: { federation: 'payments' } },
    });
    expect(linkSpecOptions({ federatedServiceSelector: '' })).toEqual({ federatedServiceSelector: {} });
    expect(usageError(() => linkSpecOptions({ federatedServiceSelector: 'replicas>2' }))).toMatch(
      /--federated-service-selector "replicas>2": replicas > … is not supported/,
    );
  });

  it('takes a remote-discovery selector, empty meaning none, and names its flag in errors', () => {
    expect(linkSpecOptions({ remoteDiscoverySelector: 'flat=yes' })).toEqual({
      remoteDiscoverySelector: { matchLabels: { flat: 'yes' } },
    });
    expect(linkSpecOptions({ remoteDiscoverySelector: ' ' })).toEqual({ remoteDiscoverySelector: {} });
    expect(usageError(() => linkSpecOptions({ remoteDiscoverySelector: 'a in (' }))).toMatch(
      /--remote-discovery-selector "a in \(": unable to parse/,
    );
  });

  it('--no-gateway refuses the flags of what such a Link does not have, naming them', () => {
    expect(linkSpecOptions({ gateway: false, remoteDiscoverySelector: 'flat=yes' })).toEqual({
      remoteDiscoverySelector: { matchLabels: { flat: 'yes' } },
    });
    expect(
      usageError(() =>
        linkSpecOptions({ gateway: false, selector: 'a=b', probePeriod: '1s', gatewayAddresses: 'x' }),
      ),
    ).toMatch(/--no-gateway cannot be combined with --gateway-addresses, --selector, --probe-period: /);
  });

  it('warns about a selector that picks Services the remote gateway will refuse', () => {
    expect(linkSpecWarnings(linkSpecOptions({ selector: 'app=podinfo' }))).toEqual([
      expect.stringMatching(
        /^--selector does not require mirror\.linkerd\.io\/exported=true: .* refused \(403\)$/,
      ),
    ]);
    for (const selector of [
      'mirror.linkerd.io/exported=true,tier!=internal',
      'mirror.linkerd.io/exported in (true)',
    ]) {
      expect(linkSpecWarnings(linkSpecOptions({ selector }))).toEqual([]);
    }
    expect(linkSpecWarnings(linkSpecOptions({}))).toEqual([]);
  });

  it('takes label keys and prefix/* wildcards, and refuses anything else', () => {
    expect(keyPatternList('--excluded-labels', ' team, example.com/*,app.kubernetes.io/name ')).toEqual([
      'team',
      'example.com/*',
      'app.kubernetes.io/name',
    ]);
    for (const bad of ['*', 'a b', 'Example.com/*', 'x/y/z']) {
      expect(usageError(() => keyPatternList('--excluded-labels', bad))).toMatch(
        /is neither a label key nor a prefix\/\* wildcard/,
      );
    }
  });

  it('sets only what was given, and checks durations and numbers', () => {
    expect(linkSpecOptions({})).toEqual({});
    expect(
      linkSpecOptions({
        gatewayPort: '8443',
        mirrorHeadless: true,
        enableNamespaceCreation: true,
        probePeriod: '10s',
        probeFailureThreshold: '5',
        excludedAnnotations: 'internal.example.com/*',
      }),
    ).toEqual({
      gatewayPort: 8443,
      mirrorHeadless: true,
      enableNamespaceCreation: true,
      excludedAnnotations: ['internal.example.com/*'],
      probe: { period: '10s', failureThreshold: 5 },
    });
    expect(usageError(() => linkSpecOptions({ probePeriod: '3' }))).toMatch(
      /--probe-period "3": expected a duration/,
    );
    expect(usageError(() => linkSpecOptions({ probeTimeout: '0s' }))).toMatch(/--probe-timeout/);
    expect(usageError(() => linkSpecOptions({ gatewayPort: '70000' }))).toMatch(/from 1 to 65535/);
    expect(usageError(() => linkSpecOptions({ probeFailureThreshold: '1.5' }))).toMatch(/an integer/);
  });
});
