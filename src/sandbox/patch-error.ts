/**
 * Why a patch could not be applied, with the HTTP status kube-apiserver answers
 * (`staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go`): 400 for a body that is not a
 * patch, 422 for a patch that does not apply to this object, 415 for strategic merge on a kind
 * without Go struct tags (custom resources).
 */
export class PatchError extends Error {
  readonly status: 400 | 415 | 422;

  constructor(status: 400 | 415 | 422, message: string) {
    super(message);
    this.name = 'PatchError';
    this.status = status;
  }
}
