/**
 * The lab's load-balancer stand-in: the gateway Service gets its address whenever it has none, so an
 * uninstall and reinstall in the lab leaves it linkable, as a cloud controller would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../kube/client.js';
import { GATEWAY_SERVICE_NAME, SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { V1Service } from '../../kube/types.js';
import { type Sandbox, startSandbox } from '../../sandbox/index.js';
import { waitFor } from '../../wait-for.js';
import { LabLoadBalancer, loadBalancerPatch } from './lab-load-balancer.js';

const ADDRESS = '127.0.171.2';
const stops: Array<() => unknown> = [];
let sandbox: Sandbox;
let admin: KubeClient;

beforeAll(async () => {
  sandbox = await startSandbox({ name: 'west', allowLoopbackEndpoints: true });
  stops.push(() => sandbox.close());
  admin = KubeClient.fromKubeconfigString(sandbox.kubeconfig());
  stops.push(() => admin.close());
  await admin.create(R.namespaces, { metadata: { name: SYSTEM_NAMESPACE } });
});

afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
});

const gatewayService = (type = 'LoadBalancer'): V1Service => ({
  metadata: { name: GATEWAY_SERVICE_NAME, namespace: SYSTEM_NAMESPACE },
  spec: { type, selector: { app: 'gateway' }, ports: [{ name: 'mc-gateway', port: 4143 }] },
});

const ingressOf = async () =>
  (await admin.get<V1Service>(R.services, SYSTEM_NAMESPACE, GATEWAY_SERVICE_NAME))?.status?.loadBalancer
    ?.ingress;

describe('loadBalancerPatch', () => {
  it.each<[string, V1Service | undefined, boolean]>([
    ['no Service', undefined, false],
    ['a ClusterIP Service', gatewayService('ClusterIP'), false],
    ['a LoadBalancer without an address', gatewayService(), true],
    [
      'a LoadBalancer with one',
      { ...gatewayService(), status: { loadBalancer: { ingress: [{ ip: '10.0.0.9' }] } } },
      false,
    ],
  ])('%s', (_name, service, wanted) => {
    expect(loadBalancerPatch(service, ADDRESS) !== undefined).toBe(wanted);
  });
});

describe('LabLoadBalancer', () => {
  it('gives the gateway Service its address, and again once it is deleted and re-created', async () => {
    const lb = new LabLoadBalancer(admin, ADDRESS);
    stops.push(() => lb.stop());
    await admin.create(R.services, gatewayService());
    await lb.start();
    await waitFor('the address', async () => (await ingressOf())?.[0]?.ip === ADDRESS);

    await admin.delete(R.services, SYSTEM_NAMESPACE, GATEWAY_SERVICE_NAME);
    await admin.create(R.services, gatewayService());
    await waitFor('the address again', async () => (await ingressOf())?.[0]?.ip === ADDRESS);
    expect(await ingressOf()).toHaveLength(1);
  });
});
