/**
 * faults.restore (an etcd restore and the API server restart): what the API server keeps beside
 * etcd follows the restored store, as a restarted kube-apiserver rebuilds it from etcd. The
 * admission policies enforced are the restored ones; the Service IPs and node ports held are those
 * of the restored Services (kube's allocator repair loop).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from './index.js';
import { type ApiResponse, call, closeAgent, svc } from './test-support.js';

const VAP = '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies';
const VAPB = '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings';
const CM = '/api/v1/namespaces/default/configmaps';
const SVC = '/api/v1/namespaces/default/services';

let sb: Sandbox;
beforeEach(async () => {
  sb = await startSandbox({ name: 'restore', tls: false, loadCrds: false });
});
afterEach(async () => {
  await closeAgent(sb);
  await sb.close();
});

const ok = (r: ApiResponse) => {
  if (r.status !== 200 && r.status !== 201) throw new Error(`${r.status}: ${JSON.stringify(r.body)}`);
  return r;
};

/** A bound policy refusing every ConfigMap create. */
async function refuseConfigMaps(): Promise<void> {
  ok(
    await call(sb, 'POST', VAP, {
      metadata: { name: 'no-configmaps' },
      spec: {
        matchConstraints: {
          resourceRules: [
            { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['configmaps'] },
          ],
        },
        validations: [{ expression: 'false', message: 'no ConfigMaps' }],
      },
    }),
  );
  ok(
    await call(sb, 'POST', VAPB, {
      metadata: { name: 'no-configmaps' },
      spec: { policyName: 'no-configmaps', validationActions: ['Deny'] },
    }),
  );
}

const createConfigMap = (name: string) => call(sb, 'POST', CM, { metadata: { name } });
const refused = (r: ApiResponse) => r.status === 422 && /no ConfigMaps/.test(JSON.stringify(r.body));

describe('faults.restore', () => {
  it('enforces the admission policies of the restored store: not one created after the snapshot', async () => {
    const snap = sb.faults.snapshot();
    await refuseConfigMaps();
    expect(refused(await createConfigMap('refused'))).toBe(true);
    sb.faults.restore(snap);
    ok(await createConfigMap('admitted'));
  });

  it('enforces the admission policies of the restored store: one deleted after the snapshot again', async () => {
    await refuseConfigMaps();
    const snap = sb.faults.snapshot();
    ok(await call(sb, 'DELETE', `${VAPB}/no-configmaps`));
    ok(await createConfigMap('admitted'));
    sb.faults.restore(snap);
    expect(refused(await createConfigMap('refused'))).toBe(true);
  });

  it("holds the restored Services' cluster IPs and node ports, and frees those of Services the restore removed", async () => {
    const kept = ok(await call(sb, 'POST', SVC, svc('kept', { spec: { type: 'NodePort' } }))).body;
    const snap = sb.faults.snapshot();
    ok(await call(sb, 'DELETE', `${SVC}/kept`));
    const lost = ok(await call(sb, 'POST', SVC, svc('lost', { spec: { type: 'NodePort' } }))).body;
    sb.faults.restore(snap);

    // `kept` is back with its address and port: nobody else may take them.
    const taking = (name: string, from: typeof kept) =>
      svc(name, {
        spec: {
          type: 'NodePort',
          clusterIP: from.spec.clusterIP,
          ports: [{ port: 80, nodePort: from.spec.ports[0].nodePort }],
        },
      });
    const clash = await call(sb, 'POST', SVC, taking('clash', kept));
    expect(clash.status).toBe(422);
    expect(JSON.stringify(clash.body)).toMatch(/already allocated/);
    // `lost` never happened: its address and port are free.
    ok(await call(sb, 'POST', SVC, taking('reuse', lost)));
  });
});
