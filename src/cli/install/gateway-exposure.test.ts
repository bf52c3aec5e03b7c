import { describe, expect, it } from 'vitest';
import { exposureFields, exposureNotes, gatewayExposureFromFlags } from './gateway-exposure.js';

function parse(flags: Parameters<typeof gatewayExposureFromFlags>[0], type = 'LoadBalancer') {
  const problems: string[] = [];
  const exposure = gatewayExposureFromFlags(flags, type, problems);
  return { exposure, problems };
}

describe('gateway exposure flags', () => {
  it('turn into the Service fields a cloud load balancer reads', () => {
    const { exposure, problems } = parse({
      gatewayServiceAnnotation: [
        'service.beta.kubernetes.io/aws-load-balancer-type=nlb',
        'service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags=team=net,env=prod',
      ],
      gatewayLoadBalancerSourceRanges: '203.0.113.0/24, 2001:db8::/64',
      gatewayLoadBalancerClass: 'service.k8s.aws/nlb',
      gatewayExternalTrafficPolicy: 'Local',
      gatewayNodePort: '31443',
    });
    expect(problems).toEqual([]);
    expect(exposure.nodePort).toBe(31443);
    // A value keeps everything after the first '=', commas included.
    expect(exposureFields(exposure)).toEqual({
      annotations: {
        'service.beta.kubernetes.io/aws-load-balancer-type': 'nlb',
        'service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags': 'team=net,env=prod',
      },
      spec: {
        loadBalancerClass: 'service.k8s.aws/nlb',
        loadBalancerSourceRanges: ['203.0.113.0/24', '2001:db8::/64'],
        externalTrafficPolicy: 'Local',
      },
    });
  });

  it('set nothing when not given', () => {
    expect(parse({})).toEqual({ exposure: { annotations: {}, loadBalancerSourceRanges: [] }, problems: [] });
    expect(exposureFields(parse({}).exposure)).toEqual({ spec: {} });
  });

  it('are refused with the reason, as the API server would refuse them', () => {
    const { problems } = parse(
      {
        gatewayServiceAnnotation: ['no-value', 'bad key!=x'],
        gatewayLoadBalancerSourceRanges: '10.0.0.0/8,10.0.0.0/33',
        gatewayLoadBalancerClass: 'a/b/c',
        gatewayExternalTrafficPolicy: 'local',
        gatewayNodePort: '70000',
      },
      'NodePort',
    );
    expect(problems).toEqual([
      '--gateway-service-annotation "no-value": expected KEY=VALUE',
      expect.stringMatching(/^--gateway-service-annotation "bad key!=x": name part must consist of/),
      '--gateway-load-balancer-source-ranges needs --gateway-service-type LoadBalancer',
      '--gateway-load-balancer-source-ranges: "10.0.0.0/33" is not a CIDR (e.g. 10.9.8.0/24)',
      '--gateway-load-balancer-class needs --gateway-service-type LoadBalancer',
      expect.stringMatching(/^--gateway-load-balancer-class: /),
      '--gateway-external-traffic-policy must be Cluster or Local',
      '--gateway-node-port must be a port number (by default the API server takes 30000-32767)',
    ]);
  });

  it('a ClusterIP gateway takes no load balancer or node port settings', () => {
    const { problems } = parse(
      { gatewayServiceAnnotation: ['a=b'], gatewayExternalTrafficPolicy: 'Local', gatewayNodePort: '30443' },
      'ClusterIP',
    );
    expect(problems).toEqual([
      '--gateway-external-traffic-policy needs --gateway-service-type LoadBalancer or NodePort',
      '--gateway-node-port needs --gateway-service-type LoadBalancer or NodePort',
    ]);
  });

  it('notes a node port outside the default range, which only a widened API server takes', () => {
    const at = (nodePort: number) =>
      exposureNotes({ annotations: {}, loadBalancerSourceRanges: [], nodePort });
    expect(at(31443)).toEqual([]);
    expect(at(80)).toEqual([
      "--gateway-node-port 80 is outside Kubernetes' default NodePort range 30000-32767: the API server refuses it unless its --service-node-port-range includes it",
    ]);
    expect(exposureNotes({ annotations: {}, loadBalancerSourceRanges: [] })).toEqual([]);
  });
});
