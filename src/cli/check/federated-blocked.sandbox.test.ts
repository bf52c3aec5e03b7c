/**
 * Federations whose `<name>-federated` cannot exist, against a sandbox API server: the name would
 * be longer than a Service name may be (NameTooLong), or a Service that is not Isthmus's holds it
 * (NotOwned). The controller only says so in Warning events; `isthmus federated` shows a row and
 * `isthmus check` warns, from the controller's own plan (planFederation).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isthmusCli } from '../../../test/cli-run.js';
import { KubeClient } from '../../kube/client.js';
import {
  CLUSTER_NAME_LABEL,
  FEDERATED_LABEL,
  FEDERATED_MEMBER,
  FEDERATION_LABEL,
  INSTALL_CLUSTER_NAME_LABEL,
  ISTHMUS_MIRROR_LABEL,
  MIRRORED_SERVICE_LABEL,
  SYSTEM_NAMESPACE,
} from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { V1Service } from '../../kube/types.js';
import { type Sandbox, startSandbox } from '../../sandbox/index.js';
import { checkFederated } from './checks/index.js';
import { readFederatedRows } from './federated-view.js';
import { gatherFacts } from './gather.js';

let sandbox: Sandbox;
let client: KubeClient;
let kubeconfig: string;

/** 54 characters: `<it>-federated` is 64, one too many for a Service name. */
const LONG = 'recommendations-for-the-checkout-page-and-the-cart-abc';

beforeAll(async () => {
  sandbox = await startSandbox({ name: 'east' });
  client = KubeClient.fromKubeconfigString(sandbox.kubeconfig(), undefined, {
    rateLimit: { qps: 0, burst: 0 },
  });
  await client.create(R.namespaces, {
    metadata: { name: SYSTEM_NAMESPACE, labels: { [INSTALL_CLUSTER_NAME_LABEL]: 'east' } },
  });
  await client.create(R.namespaces, { metadata: { name: 'shop' } });
  kubeconfig = join(mkdtempSync(join(tmpdir(), 'isthmus-federated-')), 'kubeconfig');
  writeFileSync(kubeconfig, sandbox.kubeconfig());
  const service = (name: string, labels: Record<string, string>): V1Service => ({
    metadata: { name, namespace: 'shop', labels },
    spec: { ports: [{ name: 'http', port: 80 }] },
  });
  // A member here and its mirror from north, of a federation whose name is too long.
  await client.create(R.services, service(LONG, { [FEDERATED_LABEL]: FEDERATED_MEMBER }));
  await client.create(
    R.services,
    service(`${LONG.slice(0, 57)}-north`.slice(0, 63), {
      [MIRRORED_SERVICE_LABEL]: 'true',
      [CLUSTER_NAME_LABEL]: 'north',
      [ISTHMUS_MIRROR_LABEL]: 'north',
      [FEDERATION_LABEL]: LONG,
    }),
  );
  // A member whose federated name a Service that is not Isthmus's (a hand-made one) holds.
  await client.create(R.services, service('cart', { [FEDERATED_LABEL]: FEDERATED_MEMBER }));
  await client.create(R.services, service('cart-federated', {}));
});

afterAll(async () => {
  client?.close();
  await sandbox?.close();
});

const tooLong = `${LONG}-federated would be longer than 63 characters; rename the member Services`;
const notOwned = "Service shop/cart-federated exists and is not Isthmus's; it is left alone";

describe('federations whose federated Service cannot exist', () => {
  it('are rows of isthmus federated, saying why in SERVING', async () => {
    expect(await readFederatedRows(client)).toEqual([
      expect.objectContaining({
        service: 'cart-federated',
        members: ['east'],
        blocked: { reason: 'NotOwned', message: notOwned },
      }),
      expect.objectContaining({
        service: `${LONG}-federated`,
        members: ['east', 'north'],
        blocked: { reason: 'NameTooLong', message: tooLong },
      }),
    ]);
    const out = await isthmusCli(['federated', '--kubeconfig', kubeconfig]);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain(`not created: NotOwned: ${notOwned}`);
    expect(out.stdout).toContain(`not created: NameTooLong: ${tooLong}`);
  });

  it('are warnings of isthmus check, from the controller’s own plan', async () => {
    const result = checkFederated(await gatherFacts(client, { remoteTimeoutMs: 2000 }));
    expect(result).toEqual({
      description: 'every federated service is served',
      status: 'warn',
      hints: [
        `shop/cart-federated cannot be created (NotOwned), so members east serve nothing through it: ${notOwned}`,
        `shop/${LONG}-federated cannot be created (NameTooLong), so members east, north serve nothing through it: ${tooLong}`,
      ],
    });
  });
});
