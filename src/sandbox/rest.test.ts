import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from './index.js';
import { call, closeAgent, svc } from './test-support.js';

let sb: Sandbox;
beforeAll(async () => {
  sb = await startSandbox({ name: 'rest', tls: false });
});
afterAll(async () => {
  await closeAgent(sb);
  await sb.close();
});

const SVC = '/api/v1/namespaces/default/services';

describe('create', () => {
  it('stamps uid, creationTimestamp and resourceVersion and allocates a ClusterIP in 10.96.0.0/12', async () => {
    const r = await call(sb, 'POST', SVC, svc('alloc'));
    expect(r.status).toBe(201);
    expect(r.body.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.body.metadata.creationTimestamp).toMatch(/Z$/);
    expect(Number(r.body.metadata.resourceVersion)).toBeGreaterThan(0);
    expect(r.body.metadata.generation).toBeUndefined();
    expect(r.body.spec.clusterIP).toMatch(/^10\.(9[6-9]|10[0-9]|11[01])\./);
    expect(r.body.spec.clusterIPs).toEqual([r.body.spec.clusterIP]);
    expect(r.body.spec.ports[0]).toMatchObject({ protocol: 'TCP', targetPort: 80 });
    expect(r.body.spec.type).toBe('ClusterIP');
  });

  it('keeps headless services headless', async () => {
    const r = await call(sb, 'POST', SVC, svc('headless', { spec: { clusterIP: 'None' } }));
    expect(r.status).toBe(201);
    expect(r.body.spec.clusterIPs).toEqual(['None']);
  });

  it('takes a requested clusterIP, refuses one already allocated or out of range (422), frees it on delete', async () => {
    const first = await call(sb, 'POST', SVC, svc('asked-ip', { spec: { clusterIP: '10.96.200.7' } }));
    expect(first.status).toBe(201);
    expect(first.body.spec).toMatchObject({ clusterIP: '10.96.200.7', clusterIPs: ['10.96.200.7'] });
    // kube-apiserver's words (pkg/registry/core/service/storage/alloc.go, ipallocator.ErrAllocated).
    const taken = await call(
      sb,
      'POST',
      SVC,
      svc('asked-again', { spec: { clusterIP: '10.96.200.7', clusterIPs: ['10.96.200.7'] } }),
    );
    expect(taken.status).toBe(422);
    expect(taken.body).toMatchObject({ reason: 'Invalid', code: 422 });
    expect(taken.body.message).toBe(
      'Service "asked-again" is invalid: spec.clusterIPs: Invalid value: ["10.96.200.7"]: failed to allocate IP 10.96.200.7: provided IP is already allocated',
    );
    expect(taken.body.details.causes).toEqual([
      expect.objectContaining({ field: 'spec.clusterIPs', reason: 'FieldValueInvalid' }),
    ]);
    const outside = await call(sb, 'POST', SVC, svc('asked-outside', { spec: { clusterIP: '192.168.0.7' } }));
    expect(outside.status).toBe(422);
    expect(outside.body.message).toMatch(/provided IP is not in the valid range/);
    expect((await call(sb, 'GET', `${SVC}/asked-again`)).status).toBe(404);
    // Released with the Service: the next one may ask for it.
    expect((await call(sb, 'DELETE', `${SVC}/asked-ip`)).status).toBe(200);
    const again = await call(sb, 'POST', SVC, svc('asked-again', { spec: { clusterIP: '10.96.200.7' } }));
    expect(again.status).toBe(201);
    expect(again.body.spec.clusterIP).toBe('10.96.200.7');
  });

  it('answers 409 AlreadyExists for a second create', async () => {
    await call(sb, 'POST', SVC, svc('twice'));
    const r = await call(sb, 'POST', SVC, svc('twice'));
    expect(r.status).toBe(409);
    expect(r.body).toMatchObject({
      kind: 'Status',
      reason: 'AlreadyExists',
      message: 'services "twice" already exists',
    });
  });

  it('generates names from generateName', async () => {
    const r = await call(sb, 'POST', '/api/v1/namespaces/default/configmaps', {
      metadata: { generateName: 'gen-' },
    });
    expect(r.status).toBe(201);
    expect(r.body.metadata.name).toMatch(/^gen-[a-z0-9]{5}$/);
  });

  it('rejects a bad name, a bad label value and a bad port with 422 and causes', async () => {
    const r = await call(sb, 'POST', SVC, {
      metadata: { name: 'Bad_Name', labels: { ok: 'not valid!' } },
      spec: { ports: [{ port: 70000 }] },
    });
    expect(r.status).toBe(422);
    expect(r.body.reason).toBe('Invalid');
    expect(r.body.message).toMatch(/^Service "Bad_Name" is invalid: \[/);
    const fields = (r.body.details.causes as Array<{ field: string }>).map((c) => c.field);
    expect(fields).toEqual(
      expect.arrayContaining(['metadata.name', 'metadata.labels', 'spec.ports[0].port']),
    );
    expect((await call(sb, 'GET', `${SVC}/Bad_Name`)).status).toBe(404);
  });

  it('rejects loopback endpoint addresses unless the sandbox relaxes it', async () => {
    const slice = {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'lo' },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['127.0.0.1'] }],
      ports: [{ port: 80 }],
    };
    const path = '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices';
    const r = await call(sb, 'POST', path, slice);
    expect(r.status).toBe(422);
    expect(r.body.details.causes[0].field).toBe('endpoints[0].addresses[0]');
    const lab = await startSandbox({
      name: 'lab',
      tls: false,
      allowLoopbackEndpoints: true,
      loadCrds: false,
    });
    try {
      expect((await call(lab, 'POST', path, slice)).status).toBe(201);
    } finally {
      await closeAgent(lab);
      await lab.close();
    }
  });

  it('answers 400 for malformed JSON, a kind that does not match the URL, and a foreign namespace', async () => {
    const bad = await call(sb, 'POST', SVC, undefined, { rawBody: '{"metadata": {' });
    expect(bad.status).toBe(400);
    expect(bad.body.reason).toBe('BadRequest');
    const kind = await call(sb, 'POST', SVC, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'x' },
    });
    expect(kind.status).toBe(400);
    const ns = await call(sb, 'POST', SVC, svc('x', { metadata: { namespace: 'kube-system' } }));
    expect(ns.status).toBe(400);
    expect(ns.body.message).toBe(
      'the namespace of the provided object does not match the namespace sent on the request',
    );
  });

  it('answers 413 for bodies over 3 MiB and keeps serving', async () => {
    const big = { metadata: { name: 'big' }, data: { k: 'x'.repeat(3 * 1024 * 1024 + 10) } };
    const r = await call(sb, 'POST', '/api/v1/namespaces/default/configmaps', big);
    expect(r.status).toBe(413);
    expect(r.body.reason).toBe('RequestEntityTooLarge');
    expect((await call(sb, 'GET', '/api/v1/namespaces/default/configmaps/big')).status).toBe(404);
  });

  it('refuses what etcd could not store (over 1.5 MiB) with its 500, on create and on a status that grows', async () => {
    const LINKS = '/apis/multicluster.isthmus.dev/v1alpha1/namespaces/default/links';
    const link = (name: string, excludedLabels: string[] = []) => ({
      apiVersion: 'multicluster.isthmus.dev/v1alpha1',
      kind: 'Link',
      metadata: { name },
      spec: { targetClusterName: 'west', clusterCredentialsSecret: 'creds', excludedLabels },
    });
    const tooBig = await call(sb, 'POST', LINKS, link('huge', ['x'.repeat(1600 * 1024)]));
    expect(tooBig.status).toBe(500);
    expect(tooBig.body.message).toBe('etcdserver: request is too large');
    expect((await call(sb, 'GET', `${LINKS}/huge`)).status).toBe(404);

    const ok = await call(sb, 'POST', LINKS, link('grows'));
    expect(ok.status).toBe(201);
    const services = Array.from({ length: 20_000 }, (_, i) => ({
      namespace: `team-${i}`,
      name: 'api',
      reason: 'MissingNamespace',
      message: `namespace team-${i} does not exist locally`,
    }));
    const grown = await call(
      sb,
      'PATCH',
      `${LINKS}/grows/status`,
      { status: { services } },
      { contentType: 'application/merge-patch+json' },
    );
    expect(grown.status).toBe(500);
    const after = await call(sb, 'GET', `${LINKS}/grows`);
    expect(after.body.metadata.resourceVersion).toBe(ok.body.metadata.resourceVersion);
  });

  it('answers 404 for a missing namespace and unknown resources', async () => {
    const r = await call(sb, 'POST', '/api/v1/namespaces/nope/services', svc('a'));
    expect(r.status).toBe(404);
    expect(r.body.message).toBe('namespaces "nope" not found');
    expect((await call(sb, 'GET', '/api/v1/namespaces/default/widgets')).status).toBe(404);
    expect((await call(sb, 'GET', '/apis/nope.io/v1/things')).status).toBe(404);
  });

  it('does not store anything on dryRun=All', async () => {
    const r = await call(sb, 'POST', `${SVC}?dryRun=All`, svc('dry'));
    expect(r.status).toBe(201);
    expect((await call(sb, 'GET', `${SVC}/dry`)).status).toBe(404);
  });
});

describe('update and patch', () => {
  it('answers 409 Conflict on a stale resourceVersion', async () => {
    const created = (await call(sb, 'POST', SVC, svc('stale'))).body;
    const first = await call(sb, 'PUT', `${SVC}/stale`, {
      ...created,
      metadata: { ...created.metadata, labels: { a: '1' } },
    });
    expect(first.status).toBe(200);
    const second = await call(sb, 'PUT', `${SVC}/stale`, {
      ...created,
      metadata: { ...created.metadata, labels: { a: '2' } },
    });
    expect(second.status).toBe(409);
    expect(second.body.message).toBe(
      'Operation cannot be fulfilled on services "stale": the object has been modified; please apply your changes to the latest version and try again',
    );
  });

  it('accepts an unconditional update of a built-in, keeps the ClusterIP and rejects changing it', async () => {
    const created = (await call(sb, 'POST', SVC, svc('uncond'))).body;
    const r = await call(sb, 'PUT', `${SVC}/uncond`, svc('uncond', { metadata: { labels: { x: 'y' } } }));
    expect(r.status).toBe(200);
    expect(r.body.spec.clusterIP).toBe(created.spec.clusterIP);
    const changed = await call(
      sb,
      'PUT',
      `${SVC}/uncond`,
      svc('uncond', { spec: { clusterIP: '10.96.99.99' } }),
    );
    expect(changed.status).toBe(422);
  });

  it('refuses an update without resourceVersion where the strategy forbids it (Lease, CRD, CR)', async () => {
    const LEASES = '/apis/coordination.k8s.io/v1/namespaces/default/leases';
    const lease = { metadata: { name: 'uncond-lease' }, spec: { holderIdentity: 'a' } };
    expect((await call(sb, 'POST', LEASES, lease)).status).toBe(201);
    const r = await call(sb, 'PUT', `${LEASES}/uncond-lease`, { ...lease, spec: { holderIdentity: 'b' } });
    expect(r.status).toBe(422);
    expect(r.body.message).toBe(
      'Lease.coordination.k8s.io "uncond-lease" is invalid: metadata.resourceVersion: Invalid value: "0x0": must be specified for an update',
    );
    // A PUT that creates (AllowCreateOnUpdate) needs none.
    expect(
      (await call(sb, 'PUT', `${LEASES}/put-created`, { metadata: { name: 'put-created' } })).status,
    ).toBe(201);
    const CRDS = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
    const crd = (await call(sb, 'GET', `${CRDS}/links.multicluster.isthmus.dev`)).body;
    const { resourceVersion: _rv, ...meta } = crd.metadata;
    const put = await call(sb, 'PUT', `${CRDS}/links.multicluster.isthmus.dev`, { ...crd, metadata: meta });
    expect(put.status).toBe(422);
    expect(put.body.details.causes).toEqual([
      expect.objectContaining({ field: 'metadata.resourceVersion', reason: 'FieldValueInvalid' }),
    ]);
  });

  it('checks requested node ports against the range and the ports other Services hold', async () => {
    const nodePort = (name: string, port: number, type = 'NodePort') =>
      svc(name, { spec: { type, ports: [{ name: 'http', port: 80, nodePort: port }] } });
    const low = await call(sb, 'POST', SVC, nodePort('np-low', 80));
    expect(low.status).toBe(422);
    expect(low.body.message).toBe(
      'Service "np-low" is invalid: spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767',
    );
    const first = await call(sb, 'POST', SVC, nodePort('np-a', 31080, 'LoadBalancer'));
    expect(first.status).toBe(201);
    expect(first.body.spec.ports[0].nodePort).toBe(31080);
    const taken = await call(sb, 'POST', SVC, nodePort('np-b', 31080));
    expect(taken.status).toBe(422);
    expect(taken.body.message).toMatch(
      /spec.ports\[0\].nodePort: Invalid value: 31080: provided port is already allocated/,
    );
    // An update keeps its own port; a port it gives up is free for others.
    const kept = await call(sb, 'PUT', `${SVC}/np-a`, nodePort('np-a', 31080, 'LoadBalancer'));
    expect(kept.status).toBe(200);
    const moved = await call(sb, 'PUT', `${SVC}/np-a`, nodePort('np-a', 31081, 'LoadBalancer'));
    expect(moved.status).toBe(200);
    expect((await call(sb, 'POST', SVC, nodePort('np-b', 31080))).status).toBe(201);
    await call(sb, 'DELETE', `${SVC}/np-a`);
    expect((await call(sb, 'POST', SVC, nodePort('np-c', 31081))).status).toBe(201);
  });

  it('does not write a no-op update (same resourceVersion)', async () => {
    const created = (await call(sb, 'POST', SVC, svc('noop'))).body;
    const r = await call(sb, 'PUT', `${SVC}/noop`, created);
    expect(r.status).toBe(200);
    expect(r.body.metadata.resourceVersion).toBe(created.metadata.resourceVersion);
  });

  it('applies merge, JSON and strategic merge patches', async () => {
    await call(sb, 'POST', SVC, svc('patched'));
    const merge = await call(
      sb,
      'PATCH',
      `${SVC}/patched`,
      { metadata: { labels: { m: '1' } } },
      {
        contentType: 'application/merge-patch+json',
      },
    );
    expect(merge.body.metadata.labels).toEqual({ m: '1' });
    const json = await call(
      sb,
      'PATCH',
      `${SVC}/patched`,
      [{ op: 'add', path: '/metadata/annotations', value: { j: '1' } }],
      {
        contentType: 'application/json-patch+json',
      },
    );
    expect(json.body.metadata.annotations).toEqual({ j: '1' });
    const smp = await call(
      sb,
      'PATCH',
      `${SVC}/patched`,
      { spec: { ports: [{ port: 81, name: 'extra' }] } },
      {
        contentType: 'application/strategic-merge-patch+json',
      },
    );
    expect(smp.status).toBe(200);
    expect((smp.body.spec.ports as unknown[]).length).toBe(2);
    const stale = await call(
      sb,
      'PATCH',
      `${SVC}/patched`,
      { metadata: { resourceVersion: '1' } },
      {
        contentType: 'application/merge-patch+json',
      },
    );
    expect(stale.status).toBe(409);
    expect((await call(sb, 'PATCH', `${SVC}/patched`, {}, { contentType: 'text/plain' })).status).toBe(415);
  });

  it('status subresource: main endpoint ignores status, /status changes only status', async () => {
    await call(sb, 'POST', SVC, svc('lb', { spec: { type: 'LoadBalancer' } }));
    const ingress = { loadBalancer: { ingress: [{ ip: '192.0.2.10' }] } };
    const main = await call(
      sb,
      'PATCH',
      `${SVC}/lb`,
      { status: ingress },
      { contentType: 'application/merge-patch+json' },
    );
    expect(main.body.status).toEqual({ loadBalancer: {} });
    const st = await call(
      sb,
      'PATCH',
      `${SVC}/lb/status`,
      { status: ingress, metadata: { labels: { no: 'pe' } } },
      {
        contentType: 'application/merge-patch+json',
      },
    );
    expect(st.status).toBe(200);
    // LoadBalancerIPMode (beta since 1.30) defaults an ingress IP's ipMode to VIP.
    expect(st.body.status).toEqual({ loadBalancer: { ingress: [{ ip: '192.0.2.10', ipMode: 'VIP' }] } });
    expect(st.body.metadata.labels).toBeUndefined();
  });

  it('a type switch wipes what the new type does not use, unless the client changed it (dropTypeDependentFields)', async () => {
    const lb = (
      await call(
        sb,
        'POST',
        SVC,
        svc('switch', {
          spec: { type: 'LoadBalancer', externalTrafficPolicy: 'Local', loadBalancerClass: 'x.io/lb' },
        }),
      )
    ).body;
    // LoadBalancer + externalTrafficPolicy Local: a health-check node port besides the node port.
    expect(lb.spec.healthCheckNodePort).toBeGreaterThanOrEqual(30000);
    expect(lb.spec.healthCheckNodePort).not.toBe(lb.spec.ports[0].nodePort);
    // The stored spec with only the type changed: node ports, traffic policy, class and
    // allocateLoadBalancerNodePorts all go, as kube-apiserver drops them.
    const toCip = await call(sb, 'PUT', `${SVC}/switch`, { ...lb, spec: { ...lb.spec, type: 'ClusterIP' } });
    expect(toCip.status).toBe(200);
    expect(toCip.body.spec.ports[0].nodePort).toBeUndefined();
    expect(toCip.body.spec).not.toHaveProperty('externalTrafficPolicy');
    expect(toCip.body.spec).not.toHaveProperty('loadBalancerClass');
    expect(toCip.body.spec).not.toHaveProperty('allocateLoadBalancerNodePorts');
    expect(toCip.body.spec.clusterIP).toBe(lb.spec.clusterIP);
    expect(toCip.body.spec).not.toHaveProperty('healthCheckNodePort');
    // Both of its ports went back to the pool.
    const reuse = await call(
      sb,
      'POST',
      SVC,
      svc('switch-reuse', {
        spec: {
          type: 'NodePort',
          ports: [
            { name: 'a', port: 80, nodePort: lb.spec.ports[0].nodePort },
            { name: 'b', port: 81, nodePort: lb.spec.healthCheckNodePort },
          ],
        },
      }),
    );
    expect(reuse.status).toBe(201);
    // To ExternalName with the allocated clusterIP left in: wiped and given back.
    const toName = await call(sb, 'PUT', `${SVC}/switch`, {
      ...toCip.body,
      spec: { ...toCip.body.spec, type: 'ExternalName', externalName: 'db.example.com' },
    });
    expect(toName.status).toBe(200);
    expect(toName.body.spec).not.toHaveProperty('clusterIP');
    expect(toName.body.spec).not.toHaveProperty('ipFamilies');
    // A node port the client adds while leaving NodePort is its own mistake: refused, not wiped.
    const np = (await call(sb, 'POST', SVC, svc('switch-np', { spec: { type: 'NodePort' } }))).body;
    const added = await call(sb, 'PUT', `${SVC}/switch-np`, {
      ...np,
      spec: {
        ...np.spec,
        type: 'ClusterIP',
        ports: [{ ...np.spec.ports[0], nodePort: np.spec.ports[0].nodePort + 1 }],
      },
    });
    expect(added.status).toBe(422);
  });

  it('load-balancer status: only on type LoadBalancer, valid entries, wiped when the type changes', async () => {
    const merge = { contentType: 'application/merge-patch+json' };
    const cip = (await call(sb, 'POST', SVC, svc('lbst-cip'))).body;
    const onClusterIP = await call(
      sb,
      'PATCH',
      `${SVC}/lbst-cip/status`,
      { status: { loadBalancer: { ingress: [{ ip: '192.0.2.20' }] } } },
      merge,
    );
    expect(onClusterIP.status).toBe(422);
    expect(onClusterIP.body.message).toBe(
      `Service "lbst-cip" is invalid: status.loadBalancer.ingress: Forbidden: may only be used when \`spec.type\` is 'LoadBalancer'`,
    );
    expect((await call(sb, 'GET', `${SVC}/lbst-cip`)).body.metadata.resourceVersion).toBe(
      cip.metadata.resourceVersion,
    );

    await call(sb, 'POST', SVC, svc('lbst', { spec: { type: 'LoadBalancer' } }));
    const bad = await call(
      sb,
      'PATCH',
      `${SVC}/lbst/status`,
      {
        status: {
          loadBalancer: {
            ingress: [
              { ip: 'not-an-ip' },
              { hostname: '192.0.2.1' },
              { hostname: 'lb.example', ipMode: 'VIP' },
            ],
          },
        },
      },
      merge,
    );
    expect(bad.status).toBe(422);
    expect(bad.body.details.causes).toEqual([
      {
        reason: 'FieldValueInvalid',
        field: 'status.loadBalancer.ingress[0].ip',
        message: 'Invalid value: "not-an-ip": must be a valid IP address',
      },
      {
        reason: 'FieldValueInvalid',
        field: 'status.loadBalancer.ingress[1].hostname',
        message: 'Invalid value: "192.0.2.1": must be a DNS name, not an IP address',
      },
      {
        reason: 'FieldValueForbidden',
        field: 'status.loadBalancer.ingress[2].ipMode',
        message: 'Forbidden: may not be specified when `ip` is not set',
      },
    ]);
    const ok = await call(
      sb,
      'PATCH',
      `${SVC}/lbst/status`,
      {
        status: {
          loadBalancer: { ingress: [{ ip: '192.0.2.21', ipMode: 'Proxy' }, { hostname: 'lb.example' }] },
        },
      },
      merge,
    );
    expect(ok.status).toBe(200);
    // Turning it into a ClusterIP Service clears the load-balancer status (dropTypeDependentFields).
    const spec = { ...ok.body.spec, type: 'ClusterIP', allocateLoadBalancerNodePorts: undefined };
    spec.ports = spec.ports.map(({ nodePort: _n, ...p }: Record<string, unknown>) => p);
    delete spec.externalTrafficPolicy;
    const turned = await call(sb, 'PUT', `${SVC}/lbst`, { ...ok.body, spec });
    expect(turned.status).toBe(200);
    expect(turned.body.status).toEqual({ loadBalancer: {} });
    // Its node port went back to the pool (patchAllocatedValues carries none to a ClusterIP type).
    const nodePort = ok.body.spec.ports[0].nodePort as number;
    const reuse = await call(
      sb,
      'POST',
      SVC,
      svc('lbst-reuse', { spec: { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort }] } }),
    );
    expect(reuse.status).toBe(201);
  });

  it('bumps generation on spec changes only (Deployment)', async () => {
    const path = '/apis/apps/v1/namespaces/default/deployments';
    const dep = {
      metadata: { name: 'web' },
      spec: {
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'c', image: 'nginx:1' }] },
        },
      },
    };
    const c = await call(sb, 'POST', path, dep);
    expect(c.status).toBe(201);
    expect(c.body.metadata.generation).toBe(1);
    const label = await call(
      sb,
      'PATCH',
      `${path}/web`,
      { metadata: { labels: { a: 'b' } } },
      {
        contentType: 'application/merge-patch+json',
      },
    );
    expect(label.body.metadata.generation).toBe(1);
    const scale = await call(
      sb,
      'PATCH',
      `${path}/web`,
      { spec: { replicas: 3 } },
      {
        contentType: 'application/merge-patch+json',
      },
    );
    expect(scale.body.metadata.generation).toBe(2);
    const status = await call(
      sb,
      'PATCH',
      `${path}/web/status`,
      { status: { replicas: 3 } },
      {
        contentType: 'application/merge-patch+json',
      },
    );
    expect(status.body.metadata.generation).toBe(2);
  });
});

describe('list', () => {
  it('filters by label and field selector and pages with limit/continue', async () => {
    await call(sb, 'POST', '/api/v1/namespaces', { metadata: { name: 'pages' } });
    for (const i of [1, 2, 3, 4, 5]) {
      await call(sb, 'POST', '/api/v1/namespaces/pages/configmaps', {
        metadata: { name: `cm${i}`, labels: { odd: String(i % 2 === 1) } },
      });
    }
    const odd = await call(sb, 'GET', '/api/v1/namespaces/pages/configmaps?labelSelector=odd%3Dtrue');
    expect(
      odd.body.items.map((i: { metadata: { name: string; namespace: string } }) => i.metadata.name),
    ).toEqual(['cm1', 'cm3', 'cm5']);
    expect(odd.body.kind).toBe('ConfigMapList');
    expect(odd.body.items[0].kind).toBeUndefined();
    const byName = await call(sb, 'GET', '/api/v1/configmaps?fieldSelector=metadata.name%3Dcm2');
    expect(
      byName.body.items.map((i: { metadata: { name: string; namespace: string } }) => i.metadata.namespace),
    ).toEqual(['pages']);
    const p1 = await call(sb, 'GET', '/api/v1/namespaces/pages/configmaps?limit=2&labelSelector=odd');
    expect(p1.body.items.length).toBe(2);
    // A write between pages does not leak into the continued (snapshot) list.
    await call(sb, 'POST', '/api/v1/namespaces/pages/configmaps', {
      metadata: { name: 'cm9', labels: { odd: 'true' } },
    });
    const p2 = await call(
      sb,
      'GET',
      `/api/v1/namespaces/pages/configmaps?limit=10&labelSelector=odd&continue=${p1.body.metadata.continue}`,
    );
    expect(
      p2.body.items.map((i: { metadata: { name: string; namespace: string } }) => i.metadata.name),
    ).toEqual(['cm3', 'cm4', 'cm5']);
    expect(p2.body.metadata.continue).toBeUndefined();
  });

  it('pages one namespace among neighbours with remainingItemCount, and sees writes between lists', async () => {
    const names = (r: { body: unknown }) =>
      (r.body as { items: { metadata: { name: string } }[] }).items.map((i) => i.metadata.name);
    // "pg-a/…" and "pg0/…" sort right before and after "pg/…": the namespace's run of keys.
    for (const ns of ['pg', 'pg-a', 'pg0']) {
      await call(sb, 'POST', '/api/v1/namespaces', { metadata: { name: ns } });
      for (const i of [1, 2, 3]) {
        await call(sb, 'POST', `/api/v1/namespaces/${ns}/configmaps`, { metadata: { name: `${ns}-${i}` } });
      }
    }
    // Each namespace also holds the kube-root-ca.crt ConfigMap the sandbox publishes, as kube does.
    const p1 = await call(sb, 'GET', '/api/v1/namespaces/pg/configmaps?limit=3');
    expect(names(p1)).toEqual(['kube-root-ca.crt', 'pg-1', 'pg-2']);
    expect(p1.body.metadata.remainingItemCount).toBe(1);
    const p2 = await call(
      sb,
      'GET',
      `/api/v1/namespaces/pg/configmaps?limit=3&continue=${p1.body.metadata.continue}`,
    );
    expect(names(p2)).toEqual(['pg-3']);
    expect(p2.body.metadata.continue).toBeUndefined();
    const exact = await call(sb, 'GET', '/api/v1/namespaces/pg/configmaps?limit=4');
    expect(exact.body.metadata.continue).toBeUndefined();
    // The sorted view a list reads is rebuilt after a write and a delete.
    await call(sb, 'POST', '/api/v1/namespaces/pg/configmaps', { metadata: { name: 'pg-0' } });
    await call(sb, 'DELETE', '/api/v1/namespaces/pg/configmaps/pg-2');
    expect(names(await call(sb, 'GET', '/api/v1/namespaces/pg/configmaps'))).toEqual([
      'kube-root-ca.crt',
      'pg-0',
      'pg-1',
      'pg-3',
    ]);
    const all = await call(sb, 'GET', '/api/v1/configmaps?limit=100');
    expect(names(all).filter((n) => n.startsWith('pg'))).toEqual([
      'pg-a-1',
      'pg-a-2',
      'pg-a-3',
      'pg-0',
      'pg-1',
      'pg-3',
      'pg0-1',
      'pg0-2',
      'pg0-3',
    ]);
  });

  it('answers 400 for bad selectors and unsupported field labels', async () => {
    const label = await call(sb, 'GET', '/api/v1/services?labelSelector=a%20in%20(');
    expect(label.status).toBe(400);
    const field = await call(sb, 'GET', '/api/v1/services?fieldSelector=spec.type%3DClusterIP');
    expect(field.status).toBe(400);
    expect(field.body.message).toContain('field label not supported: spec.type');
    // EndpointSlices select on metadata only (no AttrFunc, no field label conversion in discovery/v1).
    const slices = await call(
      sb,
      'GET',
      '/apis/discovery.k8s.io/v1/endpointslices?fieldSelector=addressType%3DIPv4',
    );
    expect(slices.status).toBe(400);
    expect(slices.body.message).toBe('field label not supported: addressType');
  });

  it('validates resourceVersionMatch as ValidateListOptions does (422 ListOptions)', async () => {
    const cases: [string, string][] = [
      [
        'resourceVersionMatch=NotOlderThan',
        'resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided',
      ],
      [
        'resourceVersionMatch=Bogus&resourceVersion=1',
        'resourceVersionMatch: Unsupported value: "Bogus": supported values: "Exact", "NotOlderThan", ""',
      ],
      [
        'resourceVersionMatch=Exact&resourceVersion=0',
        'resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"',
      ],
      [
        'resourceVersionMatch=NotOlderThan&watch=1',
        'resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided',
      ],
    ];
    for (const [query, cause] of cases) {
      const r = await call(sb, 'GET', `${SVC}?${query}`);
      expect(r.status, query).toBe(422);
      expect(r.body.message, query).toBe(`ListOptions.meta.k8s.io "" is invalid: ${cause}`);
    }
    const ok = await call(sb, 'GET', `${SVC}?resourceVersionMatch=NotOlderThan&resourceVersion=1`);
    expect(ok.status).toBe(200);
  });
});

describe('delete', () => {
  it('checks preconditions and returns the Status or object', async () => {
    const cm = (
      await call(sb, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'gone' } })
    ).body;
    const pre = await call(sb, 'DELETE', '/api/v1/namespaces/default/configmaps/gone', {
      preconditions: { uid: 'not-the-uid' },
    });
    expect(pre.status).toBe(409);
    const ok = await call(sb, 'DELETE', '/api/v1/namespaces/default/configmaps/gone', {
      preconditions: { uid: cm.metadata.uid },
    });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({
      kind: 'Status',
      status: 'Success',
      details: { name: 'gone', kind: 'configmaps' },
    });
    expect((await call(sb, 'DELETE', '/api/v1/namespaces/default/configmaps/gone')).status).toBe(404);
  });

  it('keeps an object with finalizers until the last one is removed, and refuses new ones meanwhile', async () => {
    const cm = { metadata: { name: 'held', finalizers: ['example.com/hold'] } };
    await call(sb, 'POST', '/api/v1/namespaces/default/configmaps', cm);
    const del = await call(sb, 'DELETE', '/api/v1/namespaces/default/configmaps/held');
    expect(del.status).toBe(200);
    expect(del.body.metadata.deletionTimestamp).toBeTruthy();
    const add = await call(
      sb,
      'PATCH',
      '/api/v1/namespaces/default/configmaps/held',
      { metadata: { finalizers: ['example.com/hold', 'x.io/more'] } },
      {
        contentType: 'application/merge-patch+json',
      },
    );
    expect(add.status).toBe(422);
    const release = await call(
      sb,
      'PATCH',
      '/api/v1/namespaces/default/configmaps/held',
      { metadata: { finalizers: null } },
      {
        contentType: 'application/merge-patch+json',
      },
    );
    expect(release.status).toBe(200);
    expect((await call(sb, 'GET', '/api/v1/namespaces/default/configmaps/held')).status).toBe(404);
  });

  it('bumps a tracked generation once when deletion starts (markAsDeleting)', async () => {
    const LINKS = '/apis/multicluster.isthmus.dev/v1alpha1/namespaces/default/links';
    const link = {
      apiVersion: 'multicluster.isthmus.dev/v1alpha1',
      kind: 'Link',
      metadata: { name: 'going', finalizers: ['isthmus.dev/test'] },
      spec: { targetClusterName: 'west', clusterCredentialsSecret: 'west-creds' },
    };
    expect((await call(sb, 'POST', LINKS, link)).body.metadata.generation).toBe(1);
    const del = await call(sb, 'DELETE', `${LINKS}/going`);
    expect(del.body.metadata.generation).toBe(2);
    // A second DELETE changes nothing.
    expect((await call(sb, 'DELETE', `${LINKS}/going`)).body.metadata.generation).toBe(2);
    await call(
      sb,
      'PATCH',
      `${LINKS}/going`,
      { metadata: { finalizers: null } },
      { contentType: 'application/merge-patch+json' },
    );
    expect((await call(sb, 'GET', `${LINKS}/going`)).status).toBe(404);
  });
});

describe('robustness', () => {
  it('answers every malformed request with a Status and keeps serving', async () => {
    const cases: Array<[string, string, unknown, Parameters<typeof call>[4]]> = [
      ['POST', '/api/v1/namespaces/default/configmaps', undefined, { rawBody: '\u0000\u0001garbage' }],
      [
        'POST',
        '/api/v1/namespaces/default/configmaps',
        undefined,
        { rawBody: 'k8s\u0000garbage', contentType: 'application/vnd.kubernetes.protobuf' },
      ],
      ['POST', '/api/v1/namespaces/default/configmaps', { metadata: 'str' }, {}],
      ['POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'x', labels: 'no' } }, {}],
      ['POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'x', finalizers: 'no' } }, {}],
      ['POST', '/api/v1/namespaces/default/services', { metadata: { name: 'x' }, spec: 'no' }, {}],
      ['POST', '/api/v1/namespaces/default/services', { metadata: { name: 'x' }, spec: { ports: 'no' } }, {}],
      [
        'PUT',
        '/api/v1/namespaces/default/services/kubernetes',
        { metadata: { name: 'kubernetes' }, spec: null },
        {},
      ],
      [
        'PATCH',
        '/api/v1/namespaces/default/services/kubernetes',
        'x',
        { contentType: 'application/merge-patch+json' },
      ],
      [
        'PATCH',
        '/api/v1/namespaces/default/services/kubernetes',
        { spec: { ports: 5 } },
        { contentType: 'application/strategic-merge-patch+json' },
      ],
      ['GET', '/api/v1/namespaces/%zz/services', undefined, {}],
      ['GET', '/apis', undefined, { accept: 'application/vnd.kubernetes.protobuf' }],
      ['DELETE', '/api/v1/namespaces/default/services', '[]', {}],
    ];
    for (const [method, path, body, opts] of cases) {
      const r = await call(sb, method as 'GET', path, body, opts);
      expect(r.status, `${method} ${path} ${JSON.stringify(body)}`).toBeLessThan(500);
      if (r.status >= 400) expect(r.body.kind).toBe('Status');
    }
    const svc = await call(sb, 'GET', '/api/v1/namespaces/default/services/kubernetes');
    expect(svc.body.spec.clusterIP).toBe('10.96.0.1');
  });
});

describe('server-side apply (approximation) and list versions', () => {
  it('needs a fieldManager, creates when missing, merges when present', async () => {
    const path = '/api/v1/namespaces/default/configmaps/ssa';
    const body = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  a: "1"\n';
    const opts = { rawBody: body, contentType: 'application/apply-patch+yaml' };
    expect((await call(sb, 'PATCH', path, undefined, opts)).status).toBe(422);
    const created = await call(sb, 'PATCH', `${path}?fieldManager=test`, undefined, opts);
    expect(created.status).toBe(201);
    const updated = await call(sb, 'PATCH', `${path}?fieldManager=test`, undefined, {
      ...opts,
      rawBody: body.replace('"1"', '"2"'),
    });
    expect(updated.status).toBe(200);
    expect(updated.body.data).toEqual({ a: '2' });
    // An applied configuration must name the group/version (the field manager checks it first).
    const bare = await call(sb, 'PATCH', `${path}?fieldManager=test`, undefined, {
      ...opts,
      rawBody: 'metadata:\n  name: ssa\ndata:\n  a: "3"\n',
    });
    expect(bare.status).toBe(400);
    expect(bare.body.message).toBe(
      'Incorrect version specified in apply patch. Specified patch version: /, expected: v1',
    );
  });

  it('answers 504 for a list at a future resourceVersion', async () => {
    const r = await call(sb, 'GET', '/api/v1/namespaces/default/configmaps?resourceVersion=999999999');
    expect(r.status).toBe(504);
    expect(r.body.details.causes[0].reason).toBe('ResourceVersionTooLarge');
  });
});

describe('custom resource field validation', () => {
  it('a null for a known non-nullable field is dropped silently, even under Strict (not an unknown field)', async () => {
    const LINKS = '/apis/multicluster.isthmus.dev/v1alpha1/namespaces/default/links';
    const link = (name: string, extra: Record<string, unknown>) => ({
      apiVersion: 'multicluster.isthmus.dev/v1alpha1',
      kind: 'Link',
      metadata: { name },
      spec: { targetClusterName: 'west', clusterCredentialsSecret: 'west-creds', ...extra },
    });
    const nulls = await call(
      sb,
      'POST',
      `${LINKS}?fieldValidation=Strict`,
      link('nulls', { gatewayIdentity: null, gatewayPort: null }),
    );
    expect(nulls.status).toBe(201);
    expect(nulls.headers.warning).toBeUndefined();
    expect(nulls.body.spec).not.toHaveProperty('gatewayIdentity');
    expect(nulls.body.spec.gatewayPort).toBe(4143);
    const unknown = await call(
      sb,
      'POST',
      `${LINKS}?fieldValidation=Strict`,
      link('unknown', { gatewayProt: null }),
    );
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toBe('strict decoding error: unknown field "spec.gatewayProt"');
  });
});

describe('decoding built-ins like Go structs', () => {
  it('drops unknown fields, refuses them with fieldValidation=Strict, and refuses wrong JSON types', async () => {
    const body = svc('typo', { spec: { prots: [1] } });
    const strict = await call(sb, 'POST', `${SVC}?fieldValidation=Strict`, body);
    expect(strict.status).toBe(400);
    expect(strict.body.message).toBe('strict decoding error: unknown field "spec.prots"');
    const lax = await call(sb, 'POST', SVC, body);
    expect(lax.status).toBe(201);
    expect(lax.body.spec.prots).toBeUndefined();
    expect(lax.headers.warning).toBe('299 - "unknown field \\"spec.prots\\""');
    const wrong = await call(sb, 'POST', SVC, {
      metadata: { name: 'wrong' },
      spec: { ports: [{ port: '80' }] },
    });
    expect(wrong.status).toBe(400);
    expect(wrong.body.message).toBe(
      'Service in version "v1" cannot be handled as a Service: json: cannot unmarshal string into Go struct field ServicePort.spec.ports.port of type int32',
    );
  });
});
