import { describe, expect, it } from 'vitest';
import { errorFromResponse } from '../../kube/errors.js';
import type { V1Pod } from '../../kube/types.js';
import { diagnosePod, needsReadiness, podLines, readinessFromError, readyReasons } from './pod-diagnosis.js';
import { pod, podStatus } from './test-builders.js';
import type { Fetched, PodFacts } from './types.js';

const GW = 'isthmus-gateway-7d9f-abcde';
const ID = 'isthmus-identity-5c8b-fghij';
const gateway = (status: V1Pod['status'], readiness?: Fetched<string[]>): PodFacts => ({
  pod: pod(GW, status!),
  ...(readiness ? { readiness } : {}),
});
const SELECTOR =
  "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.";

describe('diagnosePod', () => {
  it.each<[string, PodFacts, string]>([
    [
      'unschedulable: no node matches the selector',
      gateway(podStatus.unschedulable(SELECTOR)),
      `pod ${GW}: not schedulable: 0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector; check \`--node-selector\`/\`--gateway-node-selector\` against the nodes' labels`,
    ],
    [
      'unschedulable: taints and memory',
      gateway(
        podStatus.unschedulable(
          '0/3 nodes are available: 1 Insufficient memory, 2 node(s) had untolerated taint {dedicated: edge}.',
        ),
      ),
      `pod ${GW}: not schedulable: 0/3 nodes are available: 1 Insufficient memory, 2 node(s) had untolerated taint {dedicated: edge}; \`--toleration\`/\`--gateway-toleration\` must tolerate the nodes' taints, or lower the requests of \`--gateway-resources\` (or add nodes)`,
    ],
    [
      'image pull back-off',
      gateway(
        podStatus.waiting('ImagePullBackOff', 'Back-off pulling image "registry.example.com/isthmus:0.1.0"'),
      ),
      `pod ${GW}: ImagePullBackOff: Back-off pulling image "registry.example.com/isthmus:0.1.0"; check \`--image\` and \`--image-pull-secret\` (the Secret must exist in isthmus-system)`,
    ],
    [
      'a missing issuer Secret (--external-issuer)',
      { pod: pod(ID, podStatus.waiting('CreateContainerConfigError', 'secret "isthmus-issuer" not found')) },
      `pod ${ID}: CreateContainerConfigError: secret "isthmus-issuer" not found; with \`--external-issuer\`, cert-manager's Certificate writes it: see \`kubectl -n isthmus-system describe certificate\``,
    ],
    [
      'stuck creating containers (a volume not mounted)',
      { pod: pod(ID, podStatus.waiting('ContainerCreating')) },
      `pod ${ID}: containers not created yet (ContainerCreating): the image is still pulling, or a volume is missing (the Secret isthmus-issuer with \`--external-issuer\`); see \`kubectl -n isthmus-system describe pod/${ID}\``,
    ],
    [
      'crash loop',
      gateway(podStatus.crashLooping({ exitCode: 1, reason: 'Error' })),
      `pod ${GW}: CrashLoopBackOff: exited with code 1 (Error), 4 restarts; see \`kubectl -n isthmus-system logs ${GW} --previous\``,
    ],
    [
      'out of memory',
      gateway(podStatus.crashLooping({ exitCode: 137, reason: 'OOMKilled' }, 2)),
      `pod ${GW}: OOMKilled (exit code 137), 2 restarts; raise \`--gateway-resources limits.memory=…\``,
    ],
    [
      'running, not ready: what its /ready says',
      gateway(podStatus.running(false), { ok: true, value: ['certificates not loaded', 'links not synced'] }),
      `pod ${GW}: running, not ready: certificates not loaded, links not synced`,
    ],
    [
      'running, not ready, /ready unreadable',
      gateway(podStatus.running(false), { ok: false, error: '503 ServiceUnavailable: connection refused' }),
      `pod ${GW}: running, not ready; its /ready could not be read: 503 ServiceUnavailable: connection refused`,
    ],
    [
      'running, not ready, /ready now answers ready',
      gateway(podStatus.running(false), { ok: true, value: [] }),
      `pod ${GW}: running, not ready yet (its /ready now answers ready)`,
    ],
    [
      'identity running, not ready (no admin port)',
      { pod: pod(ID, podStatus.running(false)) },
      `pod ${ID}: running, not ready (its gRPC health check fails); see \`kubectl -n isthmus-system logs ${ID}\``,
    ],
    ['pending, no condition yet', gateway(podStatus.pending()), `pod ${GW}: not scheduled yet`],
  ])('%s', (_name, facts, line) => {
    expect(diagnosePod(facts)).toBe(line);
  });

  it('says nothing of a ready pod nor of one being deleted', () => {
    expect(diagnosePod(gateway(podStatus.running(true)))).toBeNull();
    const leaving = pod(GW, podStatus.waiting('ImagePullBackOff', 'x'));
    leaving.metadata!.deletionTimestamp = new Date();
    expect(diagnosePod({ pod: leaving })).toBeNull();
  });
});

describe('needsReadiness', () => {
  it.each<[string, V1Pod, boolean]>([
    ['a running, unready gateway', pod(GW, podStatus.running(false)), true],
    ['a running, unready controller', pod('isthmus-controller-6f5d-klmno', podStatus.running(false)), true],
    ['identity (no admin port)', pod(ID, podStatus.running(false)), false],
    ['a ready gateway', pod(GW, podStatus.running(true)), false],
    ['a crash-looping gateway', pod(GW, podStatus.crashLooping({ exitCode: 1, reason: 'Error' })), false],
  ])('%s → %s', (_name, p, wanted) => {
    expect(needsReadiness(p)).toBe(wanted);
  });
});

describe('readiness answers', () => {
  const path = `/api/v1/namespaces/isthmus-system/pods/${GW}:4191/proxy/ready`;
  it.each([
    ['ready\n', []],
    [
      'not ready: certificates not loaded; links not synced\n',
      ['certificates not loaded', 'links not synced'],
    ],
    ['caches not synced yet\n', ['caches not synced yet']],
  ])('%j', (body, reasons) => {
    expect(readyReasons(body)).toEqual(reasons);
  });

  it("reads the reasons from the pod's own 503, and calls the API server's a failure", () => {
    const podAnswer = errorFromResponse(503, 'not ready: certificates not loaded\n', { method: 'GET', path });
    expect(readinessFromError(podAnswer)).toEqual({ ok: true, value: ['certificates not loaded'] });
    const apiAnswer = errorFromResponse(
      503,
      {
        kind: 'Status',
        status: 'Failure',
        reason: 'ServiceUnavailable',
        message: 'error trying to reach service: dial tcp 10.244.1.7:4191: connect: connection refused',
        code: 503,
      },
      { method: 'GET', path },
    );
    expect(readinessFromError(apiAnswer)).toEqual({
      ok: false,
      error:
        '503 ServiceUnavailable: error trying to reach service: dial tcp 10.244.1.7:4191: connect: connection refused',
    });
  });
  it('reads every reason of a long answer, which the error message quotes only in part', () => {
    const reasons = Array.from({ length: 12 }, (_, i) => `informer links-${i} of cluster west not synced`);
    const podAnswer = errorFromResponse(503, `not ready: ${reasons.join('; ')}\n`, { method: 'GET', path });
    expect(podAnswer.message.length).toBeLessThan(400);
    expect(readinessFromError(podAnswer)).toEqual({ ok: true, value: reasons });
  });
});

describe('podLines', () => {
  it('names the first three unready pods, then counts the rest', () => {
    const pods = ['a', 'b', 'c', 'd', 'e'].map((s) => ({
      pod: pod(`isthmus-gateway-7d9f-${s}`, podStatus.pending()),
    }));
    pods.push({ pod: pod('isthmus-gateway-7d9f-f', podStatus.running(true)) });
    expect(podLines({ ok: true, value: pods })).toEqual([
      'pod isthmus-gateway-7d9f-a: not scheduled yet',
      'pod isthmus-gateway-7d9f-b: not scheduled yet',
      'pod isthmus-gateway-7d9f-c: not scheduled yet',
      'and 2 more pods not ready',
    ]);
  });

  it('says a Deployment without pods may be refused them', () => {
    expect(podLines({ ok: true, value: [] })).toEqual([
      'no pod exists: the ReplicaSet may be refused them (e.g. an unknown `--priority-class-name`); see `kubectl -n isthmus-system get events`',
    ]);
  });

  it('says what a user who may not list pods misses, and any other read failure', () => {
    expect(podLines({ ok: false, error: '403', forbidden: true })).toEqual([
      'pod details need `list pods` in isthmus-system',
    ]);
    expect(podLines({ ok: false, error: 'timeout' })).toEqual(['cannot read its pods: timeout']);
  });
});
