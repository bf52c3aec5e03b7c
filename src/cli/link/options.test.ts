import { describe, expect, it } from 'vitest';
import { isIsthmusError } from '../../errors.js';
import { matchesLabelSelector } from '../../kube/label-selector.js';
import {
  apiServerAddressFlag,
  clusterNameFlag,
  gatewayAddressList,
  keyPatternList,
  labelSelectorFromString,
  linkSpecOptions,
  linkSpecWarnings,
  tokenDurationFlag,
  trustDomainFlag,
} from './options.js';

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
    const refused =
      /^--selector does not require mirror\.linkerd\.io\/exported=true or mirror\.linkerd\.io\/federated=member: .* refused \(403\)$/;
    expect(linkSpecWarnings(linkSpecOptions({ selector: 'app=podinfo' }))).toEqual([
      expect.stringMatching(refused),
    ]);
    for (const selector of [
      'mirror.linkerd.io/exported=true,tier!=internal',
      'mirror.linkerd.io/exported in (true)',
    ]) {
      expect(linkSpecWarnings(linkSpecOptions({ selector }))).toEqual([]);
    }
    expect(linkSpecWarnings(linkSpecOptions({}))).toEqual([]);
  });

  it('warns about a federated-service selector that picks members the remote gateway will refuse', () => {
    const flags = { federatedServiceSelector: 'team=cart' };
    expect(linkSpecWarnings(linkSpecOptions(flags))).toEqual([
      expect.stringMatching(/^--federated-service-selector does not require .* refused \(403\)$/),
    ]);
    for (const federatedServiceSelector of [
      'mirror.linkerd.io/federated=member,team=cart',
      'mirror.linkerd.io/exported=true,team=cart',
      '',
    ]) {
      expect(linkSpecWarnings(linkSpecOptions({ federatedServiceSelector }))).toEqual([]);
    }
    // Without a gateway the mirrors list the remote pods: nothing is refused.
    expect(linkSpecWarnings(linkSpecOptions({ ...flags, gateway: false }), false)).toEqual([]);
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

describe('isthmus link: the Link and its credentials are refused, not cut down or printed broken', () => {
  it('--cluster-name takes one DNS label, not a list of which only the first is linked', () => {
    expect(clusterNameFlag('west')).toBe('west');
    for (const bad of ['west,east', 'West', 'west_1', '-west', 'x'.repeat(64), '']) {
      expect(usageError(() => clusterNameFlag(bad))).toMatch(/--cluster-name .*expected one cluster name/);
    }
  });

  it('--trust-domain must be a SPIFFE trust domain, or no gateway identity would ever match the Link', () => {
    expect(trustDomainFlag('prod.example.com')).toBe('prod.example.com');
    for (const bad of ['Example.com', 'cluster local', '', 'a/b']) {
      expect(usageError(() => trustDomainFlag(bad))).toMatch(/--trust-domain .*not a SPIFFE trust domain/);
    }
  });

  it('--api-server-address must be an http(s) URL, as the controller loads the credentials', () => {
    expect(apiServerAddressFlag('https://203.0.113.10:6443')).toBe('https://203.0.113.10:6443');
    expect(apiServerAddressFlag('https://[2001:db8::1]:6443')).toBe('https://[2001:db8::1]:6443');
    for (const bad of ['203.0.113.10:6443', 'localhost:6443', 'tcp://10.0.0.1:6443', '']) {
      expect(usageError(() => apiServerAddressFlag(bad))).toMatch(/--api-server-address must be a URL/);
    }
  });

  it('--token-duration: whole seconds within what TokenRequest accepts (10m to 2^32 s)', () => {
    expect(tokenDurationFlag('2160h')).toBe(7_776_000);
    expect(tokenDurationFlag('10m')).toBe(600);
    expect(tokenDurationFlag('1h30m0.5s')).toBe(5400);
    expect(tokenDurationFlag(`${2 ** 32}s`)).toBe(2 ** 32);
    for (const bad of ['9m59s', '90d', '0', '', '-1h', `${2 ** 32 + 1}s`, '1y']) {
      expect(usageError(() => tokenDurationFlag(bad))).toMatch(
        /--token-duration .*expected a duration from 10m to 4294967296s, such as 2160h/,
      );
    }
  });

  it('--gateway-addresses takes IPs and DNS names, and says where a port goes', () => {
    expect(gatewayAddressList('198.51.100.7, gw.west.example ,2001:db8::7,')).toEqual([
      '198.51.100.7',
      'gw.west.example',
      '2001:db8::7',
    ]);
    expect(usageError(() => gatewayAddressList(' , '))).toMatch(/lists no address/);
    expect(usageError(() => gatewayAddressList('198.51.100.7:4143'))).toMatch(
      /"198.51.100.7:4143" is neither an IP address nor a DNS name: give the address alone, and its port with --gateway-port/,
    );
    expect(usageError(() => gatewayAddressList('gw.west.example:4143'))).toMatch(/--gateway-port/);
    expect(usageError(() => gatewayAddressList('[2001:db8::7]'))).toMatch(/without brackets \(2001:db8::7\)/);
    expect(usageError(() => gatewayAddressList('https://gw.west.example'))).toMatch(/neither an IP/);
    // Refused with the other flags, before the remote cluster is read.
    expect(usageError(() => linkSpecOptions({ gatewayAddresses: '10.0.0.1:4143' }))).toMatch(
      /--gateway-port/,
    );
  });
});
