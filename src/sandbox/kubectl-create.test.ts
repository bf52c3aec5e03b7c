/**
 * `kubectl create <kind>` from flags against a sandbox: kubectl's typed clients send protobuf
 * bodies, which the sandbox must decode for every kind it serves that kubectl creates this way,
 * and refuse (never drop) what it cannot decode.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeProtobufObject } from './protobuf.js';
import { type KubectlSandbox, startKubectlSandbox } from './test-support.js';

let ks: KubectlSandbox;

beforeAll(async () => {
  ks = await startKubectlSandbox('kubectl-create');
  const r = await ks.kubectl('create', 'namespace', 'shop');
  if (r.code !== 0) throw new Error(r.stderr);
}, 60_000);
afterAll(async () => {
  await ks?.close();
});

async function ok(...args: string[]): Promise<string> {
  const r = await ks.kubectl(...args);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

async function getJson(...args: string[]) {
  return JSON.parse(await ok('get', ...args, '-o', 'json'));
}

describe('kubectl create (protobuf bodies)', () => {
  it('create deployment: replicas, selector, template labels, container and port as sent', async () => {
    await ok(
      '-n',
      'shop',
      'create',
      'deployment',
      'cart',
      '--image=ghcr.io/stefanprodan/podinfo:6.7.0',
      '--port=9898',
      '--replicas=2',
    );
    const d = await getJson('-n', 'shop', 'deployment', 'cart');
    expect(d.metadata.labels).toEqual({ app: 'cart' });
    expect(d.spec.replicas).toBe(2);
    expect(d.spec.selector).toEqual({ matchLabels: { app: 'cart' } });
    expect(d.spec.template.metadata.labels).toEqual({ app: 'cart' });
    expect(d.spec.template.spec.containers).toHaveLength(1);
    expect(d.spec.template.spec.containers[0]).toMatchObject({
      name: 'podinfo',
      image: 'ghcr.io/stefanprodan/podinfo:6.7.0',
      ports: [{ containerPort: 9898, protocol: 'TCP' }],
    });
  }, 60_000);

  it('create deployment --replicas=0 keeps the explicit zero (a pointer field), and a command', async () => {
    await ok(
      '-n',
      'shop',
      'create',
      'deployment',
      'idle',
      '--image=busybox',
      '--replicas=0',
      '--',
      'sleep',
      '3600',
    );
    const d = await getJson('-n', 'shop', 'deployment', 'idle');
    expect(d.spec.replicas).toBe(0);
    expect(d.spec.template.spec.containers[0].command).toEqual(['sleep', '3600']);
  }, 60_000);

  it('create poddisruptionbudget: intstr and label-selector expressions', async () => {
    await ok(
      '-n',
      'shop',
      'create',
      'pdb',
      'cart',
      '--selector=app=cart,tier in (web)',
      '--min-available=50%',
    );
    await ok('-n', 'shop', 'create', 'pdb', 'zero', '--selector=app=cart', '--max-unavailable=0');
    const p = await getJson('-n', 'shop', 'pdb', 'cart');
    expect(p.spec.minAvailable).toBe('50%');
    expect(p.spec.selector).toEqual({
      matchLabels: { app: 'cart' },
      matchExpressions: [{ key: 'tier', operator: 'In', values: ['web'] }],
    });
    expect((await getJson('-n', 'shop', 'pdb', 'zero')).spec.maxUnavailable).toBe(0);
  }, 60_000);

  it('create clusterrole --aggregation-rule', async () => {
    await ok('create', 'clusterrole', 'agg', '--aggregation-rule=example.com/aggregate=true');
    const cr = await getJson('clusterrole', 'agg');
    expect(cr.aggregationRule).toEqual({
      clusterRoleSelectors: [{ matchLabels: { 'example.com/aggregate': 'true' } }],
    });
  }, 60_000);

  it('the other kinds kubectl create sends from flags', async () => {
    const cmds = [
      ['service', 'clusterip', 'a', '--tcp=80:8080'],
      ['service', 'clusterip', 'headless', '--clusterip=None'],
      ['service', 'nodeport', 'np', '--tcp=80:8080'],
      ['service', 'loadbalancer', 'lb', '--tcp=80:8080'],
      ['service', 'externalname', 'ext', '--external-name=example.com'],
      ['configmap', 'cm', '--from-literal=a=b'],
      ['secret', 'generic', 'generic', '--from-literal=a=b'],
      [
        'secret',
        'docker-registry',
        'pull',
        '--docker-server=x.io',
        '--docker-username=u',
        '--docker-password=p',
      ],
      ['serviceaccount', 'sa'],
      ['role', 'reader', '--verb=get,list', '--resource=pods,deployments.apps', '--resource-name=x'],
      ['rolebinding', 'rb', '--role=reader', '--user=alice', '--serviceaccount=shop:sa', '--group=g'],
    ];
    for (const c of cmds) await ok('-n', 'shop', 'create', ...c);
    expect((await getJson('-n', 'shop', 'service', 'np')).spec.type).toBe('NodePort');
    expect((await getJson('-n', 'shop', 'service', 'ext')).spec.externalName).toBe('example.com');
    expect((await getJson('-n', 'shop', 'rolebinding', 'rb')).subjects).toHaveLength(3);
  }, 120_000);

  it('create job: the sandbox serves no batch/v1, so the answer is 404 as from such a cluster, not a decoding error', async () => {
    const r = await ks.kubectl('-n', 'shop', 'create', 'job', 'once', '--image=busybox');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('the server could not find the requested resource');
    expect(r.stderr).not.toContain('protobuf');
  }, 60_000);
});

describe('protobuf decoding stays strict', () => {
  const len = (n: number, b: Buffer) => {
    const head: number[] = [(n << 3) | 2];
    let l = b.length;
    while (l >= 0x80) {
      head.push((l & 0x7f) | 0x80);
      l >>>= 7;
    }
    head.push(l);
    return Buffer.concat([Buffer.from(head), b]);
  };
  const str = (n: number, v: string) => len(n, Buffer.from(v));
  const envelope = (apiVersion: string, kind: string, raw: Buffer) =>
    Buffer.concat([
      Buffer.from('k8s\0', 'binary'),
      len(1, Buffer.concat([str(1, apiVersion), str(2, kind)])),
      len(2, raw),
    ]);
  const deployment = (container: Buffer, status = Buffer.alloc(0)) =>
    envelope(
      'apps/v1',
      'Deployment',
      Buffer.concat([len(1, str(1, 'cart')), len(2, len(3, len(2, len(2, container)))), len(3, status)]),
    );

  it('decodes zero-valued non-pointer fields as kubectl sends them', () => {
    const obj = decodeProtobufObject(
      deployment(Buffer.concat([str(1, 'c'), str(2, 'img'), str(5, ''), len(8, Buffer.alloc(0))])),
    );
    expect(obj).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'cart' },
      spec: { template: { spec: { containers: [{ name: 'c', image: 'img', resources: {} }] } } },
    });
  });

  it('refuses a set field it does not decode (resource limits), naming where it is', () => {
    const limits = len(1, Buffer.concat([str(1, 'cpu'), len(2, str(1, '1'))]));
    expect(() => decodeProtobufObject(deployment(Buffer.concat([str(1, 'c'), len(8, limits)])))).toThrow(
      'the sandbox cannot decode field 1 of Deployment.spec.template.spec.containers.resources from protobuf',
    );
  });

  it('refuses a status with a value set rather than dropping it', () => {
    const status = Buffer.from([(2 << 3) | 0, 3]); // replicas: 3
    expect(() => decodeProtobufObject(deployment(str(1, 'c'), status))).toThrow(
      'the sandbox cannot decode field 2 of Deployment.status from protobuf',
    );
  });
});
