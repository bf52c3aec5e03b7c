/**
 * For tests: a KubeClient whose requests matching `fails` are refused, as an unavailable API
 * server would refuse them, until `failuresLeft` runs out. Unlike the sandbox's own fault
 * injection (the next N requests of anyone), it fails only the controller's writes that a test
 * names, so a test can say which sync fails.
 */
import { IsthmusError } from '../errors.js';
import { KubeClient } from './client.js';

export type RequestMatcher = (method: string, path: string) => boolean;

export class FlakyClient extends KubeClient {
  constructor(
    kubeconfig: string,
    public failuresLeft: number,
    private readonly fails: RequestMatcher,
  ) {
    super(KubeClient.fromKubeconfigString(kubeconfig).config);
  }

  override request(...args: Parameters<KubeClient['request']>): ReturnType<KubeClient['request']> {
    const [, method, path] = args;
    if (this.failuresLeft > 0 && this.fails(method, path)) {
      this.failuresLeft--;
      return Promise.reject(new IsthmusError('KUBE_API_UNAVAILABLE', `injected: ${method} ${path} failed`));
    }
    return super.request(...args);
  }
}
