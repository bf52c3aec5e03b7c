/**
 * The lab kubelet's readiness probes, read from the Deployments the install renders and run against
 * a pod's IP as the kubelet runs them: httpGet with a named port, grpc health, and none at all.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server as GrpcServer } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bindServer, shutdownServer } from '../../identity/grpc-util.js';
import { addHealthService } from '../../identity/health.js';
import { ServingStatus } from '../../identity/protocol.js';
import { installManifests } from '../install/render.js';
import { labInstallOptions } from './bootstrap.js';
import { type ProbedContainer, readinessProbe } from './probes.js';
import { labCluster } from './topology.js';

const PEM = { anchorPem: 'anchor', issuerCertPem: 'issuer', issuerKeyPem: 'key' };

interface RenderedDeployment {
  kind: string;
  metadata: { name: string };
  spec: { template: { spec: { containers: ProbedContainer[] } } };
}

function containerOf(name: string): ProbedContainer {
  const objects = installManifests(labInstallOptions(labCluster('east', 1), PEM)) as RenderedDeployment[];
  const d = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === name);
  return d!.spec.template.spec.containers[0]!;
}

let ready = false;
let http: Server;
let port: number;

beforeAll(async () => {
  http = createServer((req, res) => {
    if (req.url === '/ready') res.writeHead(ready ? 200 : 503).end();
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  port = (http.address() as AddressInfo).port;
});

afterAll(() => new Promise((r) => http.close(r)));

describe('readinessProbe', () => {
  it("takes each process's period and thresholds from the Deployment the install renders", () => {
    const shape = (name: string) => {
      const { periodMs, failureThreshold, successThreshold } = readinessProbe(containerOf(name), '127.0.1.2');
      return { periodMs, failureThreshold, successThreshold };
    };
    expect(shape('isthmus-gateway')).toEqual({ periodMs: 2000, failureThreshold: 3, successThreshold: 1 });
    expect(shape('isthmus-controller')).toEqual({ periodMs: 2000, failureThreshold: 3, successThreshold: 1 });
    expect(shape('isthmus-identity')).toEqual({ periodMs: 5000, failureThreshold: 3, successThreshold: 1 });
  });

  it("asks the gateway's /ready on its named admin port at the pod's IP", async () => {
    // The rendered gateway probe, its `admin` port the one this test listens on.
    const rendered = containerOf('isthmus-gateway');
    const container: ProbedContainer = {
      ...rendered,
      ports: rendered.ports!.map((p) => (p.name === 'admin' ? { ...p, containerPort: port } : p)),
    };
    const probe = readinessProbe(container, '127.0.0.1');
    ready = false;
    expect(await probe.check()).toBe('HTTP probe failed with statuscode: 503');
    ready = true;
    expect(await probe.check()).toBeUndefined();
  });

  it("asks identity's gRPC health, as its Deployment's grpc probe", async () => {
    const serving: { value: ServingStatus } = { value: ServingStatus.NOT_SERVING };
    const health = new GrpcServer();
    addHealthService(health, () => serving.value);
    const healthPort = await bindServer(health, '127.0.0.1', 0);
    try {
      const rendered = containerOf('isthmus-identity');
      const probe = readinessProbe(
        { ...rendered, readinessProbe: { ...rendered.readinessProbe, grpc: { port: healthPort } } },
        '127.0.0.1',
      );
      expect(await probe.check()).toBe('service unhealthy (responded with "NOT_SERVING")');
      serving.value = ServingStatus.SERVING;
      expect(await probe.check()).toBeUndefined();
    } finally {
      await shutdownServer(health);
    }
  });

  it('is ready while running without a probe, with the API defaults', async () => {
    const probe = readinessProbe({}, '127.0.0.1');
    expect(await probe.check()).toBeUndefined();
    expect(probe.periodMs).toBe(10_000);
  });
});
