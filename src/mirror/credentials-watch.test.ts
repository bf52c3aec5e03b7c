import { describe, expect, it } from 'vitest';
import { REMOTE_KUBECONFIG_KEY } from '../kube/keys.js';
import { credentialsFingerprint } from './credentials-watch.js';

describe('credentialsFingerprint', () => {
  const kubeconfig = 'apiVersion: v1\nkind: Config\n';

  it('is the same for the kubeconfig as written (stringData) and as stored (data)', () => {
    const stored = { data: { [REMOTE_KUBECONFIG_KEY]: Buffer.from(kubeconfig).toString('base64') } };
    expect(credentialsFingerprint(stored)).toBe(
      credentialsFingerprint({ stringData: { [REMOTE_KUBECONFIG_KEY]: kubeconfig } }),
    );
  });

  it('changes with the kubeconfig, not with other keys', () => {
    const secret = (text: string, other = '') => ({
      stringData: { [REMOTE_KUBECONFIG_KEY]: text, note: other },
    });
    expect(credentialsFingerprint(secret(kubeconfig, 'a'))).toBe(
      credentialsFingerprint(secret(kubeconfig, 'b')),
    );
    expect(credentialsFingerprint(secret(`${kubeconfig}# rotated\n`))).not.toBe(
      credentialsFingerprint(secret(kubeconfig)),
    );
  });
});
