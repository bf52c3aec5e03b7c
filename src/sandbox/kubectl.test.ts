/**
 * The real kubectl against a TLS sandbox: discovery, tables, apply (client-side, strategic merge
 * PATCH with last-applied), create from flags (protobuf bodies), label/annotate, delete, CRDs, -w.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from './index.js';
import { kubectlWith } from './test-support.js';

let sb: Sandbox;
let dir: string;
let kubeconfig: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  sb = await startSandbox({ name: 'kubectl-east' });
  dir = mkdtempSync(join(tmpdir(), 'sandbox-kubectl-'));
  kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, sb.kubeconfig());
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await sb.close();
  rmSync(dir, { recursive: true, force: true });
});

const kubectl = (...args: string[]) => kubectlWith(kubeconfig, dir)(...args);

async function ok(...args: string[]): Promise<string> {
  const r = await kubectl(...args);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

function file(name: string, content: string): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

const service = (port: number) => `apiVersion: v1
kind: Service
metadata:
  name: podinfo
  namespace: default
  labels: {app: podinfo}
spec:
  selector: {app: podinfo}
  ports:
  - name: http
    port: ${port}
`;

describe('kubectl', () => {
  it('get namespaces prints the server-side table', async () => {
    const out = await ok('get', 'namespaces');
    expect(out).toMatch(/^NAME\s+STATUS\s+AGE/);
    expect(out).toMatch(/default\s+Active/);
  });

  it('get events prints LAST SEEN, TYPE, REASON, OBJECT and MESSAGE, as kubectl shows them', async () => {
    const event = `apiVersion: v1
kind: Event
metadata: {name: podinfo.1, namespace: default}
involvedObject: {apiVersion: split.smi-spec.io/v1alpha2, kind: TrafficSplit, name: podinfo, namespace: default}
type: Warning
reason: NothingReady
message: no backend of podinfo has a ready endpoint
count: 1
lastTimestamp: "${new Date(Date.now() - 5000).toISOString().replace(/\.\d+Z$/, 'Z')}"
`;
    await ok('create', '-f', file('event.yaml', event));
    const out = await ok('get', 'events', '-n', 'default');
    expect(out).toMatch(/^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE\n/);
    expect(out).toMatch(
      /\n\d+s\s+Warning\s+NothingReady\s+trafficsplit\/podinfo\s+no backend of podinfo has a ready endpoint\n/,
    );
  });

  it('apply creates, re-apply patches with the last-applied configuration', async () => {
    expect(await ok('apply', '-f', file('svc.yaml', service(9898)))).toContain('service/podinfo created');
    expect(await ok('apply', '-f', file('svc.yaml', service(9899)))).toContain('service/podinfo configured');
    const svc = JSON.parse(await ok('get', 'service', 'podinfo', '-o', 'json'));
    expect(svc.spec.ports).toEqual([{ name: 'http', port: 9899, protocol: 'TCP', targetPort: 9899 }]);
    expect(svc.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']).toContain('9899');
    expect(await ok('apply', '-f', file('svc.yaml', service(9899)))).toContain('service/podinfo unchanged');
  });

  it('get -o yaml, label, annotate, selectors', async () => {
    await ok('label', 'service', 'podinfo', 'mirror.linkerd.io/exported=true');
    await ok('annotate', 'service', 'podinfo', 'example.com/note=hi');
    const yaml = await ok('get', 'service', 'podinfo', '-o', 'yaml');
    expect(yaml).toContain('mirror.linkerd.io/exported: "true"');
    expect(yaml).toContain('example.com/note: hi');
    expect(await ok('get', 'svc', '-l', 'mirror.linkerd.io/exported=true', '-o', 'name')).toBe(
      'service/podinfo\n',
    );
    const bad = await kubectl('label', 'service', 'podinfo', 'bad key=x');
    expect(bad.code).not.toBe(0);
  });

  it('create from flags (protobuf bodies) and from a file; delete', async () => {
    await ok('create', 'namespace', 'isthmus-system');
    await ok('create', 'configmap', 'cfg', '--from-literal=a=b', '-n', 'isthmus-system');
    expect(await ok('get', 'configmap', 'cfg', '-n', 'isthmus-system', '-o', 'jsonpath={.data.a}')).toBe('b');
    await ok(
      'create',
      '-f',
      file('cm.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-file}\ndata: {k: v}\n'),
    );
    const dup = await kubectl('create', '-f', join(dir, 'cm.yaml'));
    expect(dup.stderr).toContain('AlreadyExists');
    expect(await ok('delete', 'configmap', 'from-file')).toContain('deleted');
    const gone = await kubectl('get', 'configmap', 'from-file');
    expect(gone.stderr).toContain('configmaps "from-file" not found');
  });

  it('serves the Link CRD: apply, defaults, printer columns, schema errors', async () => {
    const link = (extra = '') => `apiVersion: multicluster.isthmus.dev/v1alpha1
kind: Link
metadata:
  name: west
  namespace: isthmus-system
spec:
  targetClusterName: west
  clusterCredentialsSecret: cluster-credentials-west
  gatewayAddress: 127.0.0.2
${extra}`;
    await ok('apply', '-f', file('link.yaml', link()));
    const table = await ok('get', 'links', '-n', 'isthmus-system');
    expect(table).toMatch(/^NAME\s+CLUSTER\s+GATEWAY\s+ALIVE\s+REMOTE API\s+SERVICES\s+AGE/);
    expect(table).toMatch(/west\s+west\s+127\.0\.0\.2/);
    const obj = JSON.parse(await ok('get', 'link', 'west', '-n', 'isthmus-system', '-o', 'json'));
    expect(obj.spec.gatewayPort).toBe(4143);
    const bad = await kubectl(
      'apply',
      '-f',
      file('bad-link.yaml', link('  gatewayPort: 70000\n').replace('name: west', 'name: east')),
    );
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('spec.gatewayPort');
  });

  it('get -w prints changes as they happen', async () => {
    const child = spawn('kubectl', [
      '--kubeconfig',
      kubeconfig,
      '--cache-dir',
      join(dir, 'cache'),
      'get',
      'configmaps',
      '-w',
      '-o',
      'name',
    ]);
    children.push(child);
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const waitFor = async (text: string) => {
      const deadline = Date.now() + 10_000;
      while (!out.includes(text)) {
        if (Date.now() > deadline) throw new Error(`kubectl get -w never printed ${text}: ${out}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    await waitFor('configmap/kube-root-ca.crt');
    await ok('create', 'configmap', 'watched');
    await waitFor('configmap/watched');
    child.kill('SIGKILL');
  });
});

describe('kubectl strict field validation', () => {
  it('refuses unknown fields of a custom resource (kubectl sends fieldValidation=Strict)', async () => {
    const r = await kubectl(
      'apply',
      '-f',
      file(
        'typo.yaml',
        `apiVersion: multicluster.isthmus.dev/v1alpha1
kind: Link
metadata: {name: typo, namespace: default}
spec: {targetClusterName: west, clusterCredentialsSecret: c, gatewayAddress: 127.0.0.2, gatewayProt: 1}
`,
      ),
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('unknown field "spec.gatewayProt"');
  });
});

describe('kubectl scale (deployments/scale, autoscaling/v1 Scale)', () => {
  it('scales through the subresource, honours --current-replicas and rejects negatives', async () => {
    const manifest = file(
      'web.yaml',
      `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
`,
    );
    await ok('apply', '-f', manifest);
    expect(await ok('scale', 'deployment/web', '--replicas=3')).toContain('deployment.apps/web scaled');
    expect(await ok('get', 'deployment', 'web', '-o', 'jsonpath={.spec.replicas}')).toBe('3');
    const stale = await kubectl('scale', 'deployment/web', '--replicas=0', '--current-replicas=2');
    expect(stale.code).not.toBe(0);
    expect(stale.stderr).toContain('Expected replicas to be 2, was 3');
    const scale = JSON.parse(
      await ok('get', '--raw', '/apis/apps/v1/namespaces/default/deployments/web/scale'),
    );
    expect(scale).toMatchObject({ kind: 'Scale', spec: { replicas: 3 }, status: { selector: 'app=web' } });
    const negative = await kubectl(
      'patch',
      'deployment/web',
      '--subresource=scale',
      '--type=merge',
      '-p',
      '{"spec":{"replicas":-1}}',
    );
    expect(negative.code).not.toBe(0);
    expect(negative.stderr).toContain('must be greater than or equal to 0');
    expect(await ok('get', 'deployment', 'web', '-o', 'jsonpath={.spec.replicas}')).toBe('3');
  });
});

describe('kubectl and NetworkPolicies', () => {
  const policy = (name: string, peer: string) => `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ${name}, namespace: default}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [${peer}]
    ports: [{port: 8080}]
`;

  it('apply creates one with its defaults, get netpol lists it, a bad one is refused with its field', async () => {
    const applied = await ok('apply', '-f', file('netpol.yaml', policy('web', '{namespaceSelector: {}}')));
    expect(applied).toContain('networkpolicy.networking.k8s.io/web created');
    expect(await ok('get', 'netpol')).toMatch(/^NAME\s+POD-SELECTOR\s+AGE\nweb\s+app=web\s+\d+s\n$/);
    const obj = JSON.parse(await ok('get', 'networkpolicy', 'web', '-o', 'json'));
    expect(obj.metadata.generation).toBe(1);
    expect(obj.spec.policyTypes).toEqual(['Ingress']);
    expect(obj.spec.ingress[0].ports).toEqual([{ port: 8080, protocol: 'TCP' }]);
    const bad = await kubectl(
      'apply',
      '-f',
      file('bad-netpol.yaml', policy('bad', '{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}')),
    );
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain(
      'spec.ingress[0].from[0]: Forbidden: may not specify both ipBlock and another peer',
    );
  });
});

describe('kubectl describe', () => {
  it("describes a Deployment and a Pod with gRPC and HTTP probes (the probes' defaults are set)", async () => {
    const containers = `[{name: app, image: "app:1", readinessProbe: {grpc: {port: 8080}},
  livenessProbe: {httpGet: {port: 8081}, periodSeconds: 20}}]`;
    const manifest = `apiVersion: apps/v1
kind: Deployment
metadata: {name: probed, namespace: default}
spec:
  selector: {matchLabels: {app: probed}}
  template:
    metadata: {labels: {app: probed}}
    spec: {containers: ${containers}}
---
apiVersion: v1
kind: Pod
metadata: {name: probed, namespace: default}
spec: {containers: ${containers}}
`;
    await ok('apply', '-f', file('probed.yaml', manifest));
    const pod = JSON.parse(await ok('get', 'pod', 'probed', '-o', 'json'));
    expect(pod.spec.containers[0].readinessProbe).toEqual({
      grpc: { port: 8080, service: '' },
      timeoutSeconds: 1,
      periodSeconds: 10,
      successThreshold: 1,
      failureThreshold: 3,
    });
    expect(pod.spec.containers[0].livenessProbe).toMatchObject({
      httpGet: { port: 8081, path: '/', scheme: 'HTTP' },
      periodSeconds: 20,
    });
    expect(await ok('describe', 'pod', 'probed')).toMatch(
      /Readiness:\s+grpc <pod>:8080 {2}delay=0s timeout=1s period=10s #success=1 #failure=3/,
    );
    expect(await ok('describe', 'deployment', 'probed')).toMatch(
      /Liveness:\s+http-get http:\/\/:8081\/ delay=0s timeout=1s period=20s #success=1 #failure=3/,
    );
  });
});
