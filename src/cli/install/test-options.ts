/** The install flags and placeholder PEMs the install tests render with (no real keys needed). */
import { installOptionsFromFlags } from '../commands/install.js';

export const PEM = (label: string) => `-----BEGIN ${label}-----\nRklYVFVSRQ==\n-----END ${label}-----\n`;

export const TEST_FLAGS = {
  clusterName: 'east',
  trustAnchor: 'ca.crt',
  issuerCert: 'issuer.crt',
  issuerKey: 'issuer.key',
  trustDomain: 'cluster.local',
  clusterDomain: 'cluster.local',
  image: 'ghcr.io/isthmus-dev/isthmus:0.1.0',
  imagePullPolicy: 'IfNotPresent',
  gatewayReplicas: '1',
  controllerReplicas: '2',
  gatewayServiceType: 'LoadBalancer',
  failoverControlledBy: 'linkerd-failover',
  egressPortRange: '20000-29999',
};

/** `isthmus install --no-gateway`: no anchor, issuer or gateway flags. */
export const NO_GATEWAY_FLAGS = {
  clusterName: 'west',
  gateway: false,
  trustDomain: 'cluster.local',
  clusterDomain: 'cluster.local',
  image: 'ghcr.io/isthmus-dev/isthmus:0.1.0',
  imagePullPolicy: 'IfNotPresent',
  controllerReplicas: '2',
  failoverControlledBy: 'linkerd-failover',
};

/** Every scheduling and resource flag of `isthmus install` at once. */
export const SCHEDULING_FLAGS = {
  nodeSelector: ['pool=system'],
  gatewayNodeSelector: ['node-role.kubernetes.io/edge='],
  toleration: ['infra:NoSchedule'],
  gatewayToleration: ['edge=true:NoExecute'],
  priorityClassName: 'isthmus-critical',
  imagePullSecret: ['regcred'],
  gatewayResources: 'limits.memory=1Gi,limits.cpu=2',
  controllerResources: 'limits.memory=',
  identityResources: 'requests.cpu=10m',
};

/** Options from `TEST_FLAGS` and `extra`, with a placeholder anchor and issuer. */
export function testInstallOptions(extra: Record<string, unknown> = {}) {
  return installOptionsFromFlags({ ...TEST_FLAGS, ...extra }, PEM('CERTIFICATE'), {
    certPem: PEM('CERTIFICATE'),
    keyPem: PEM('PRIVATE KEY'),
  });
}
