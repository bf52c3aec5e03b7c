/** The public API of src/kube: the one place in Isthmus that talks to an API server. */
export {
  type ApplyOutcome,
  CONFLICT_RETRIES,
  type CreateOrUpdateOptions,
  createOrUpdate,
  updateWithRetry,
} from './apply.js';
export { Backoff, type BackoffPolicy, DEFAULT_BACKOFF } from './backoff.js';
export {
  type ClientStats,
  type DeleteOptions,
  KubeClient,
  type KubeClientOptions,
  type KubeRequestEvent,
  type ListOptions,
  type PatchType,
  requestChannel,
  type WatchOptions,
} from './client.js';
export {
  isAlreadyExists,
  isConflict,
  isGone,
  isNotFound,
  isRetryable,
  KubeApiError,
  retryAfterMs,
  type StatusCause,
} from './errors.js';
export { EventRecorder, type EventRecorderOptions, type EventType, eventErrorChannel } from './events.js';
export {
  createInformer,
  handlerErrorChannel,
  healthChannel,
  type Informer,
  type InformerEvent,
  type InformerHealth,
  type InformerOptions,
} from './informer.js';
export { cacheKey, objectKey } from './informer-store.js';
export * from './keys.js';
export { labelSelectorToString, linkSelectorToString, matchesLabelSelector } from './label-selector.js';
export { canAcquire, type LeaderElectionConfig, LeaderElector } from './leader-election.js';
export { isSubsetOf, type OwnedFields, ownedFieldsEqual, ownedFieldsPatch } from './owned-fields.js';
export { DEFAULT_RATE_LIMIT, type RateLimit } from './rate-limiter.js';
export { apiVersionOf, R, type ResourceRef, resourceName, resourcePath } from './resources.js';
export { createTokenReviewer, type TokenReviewResult } from './token-review.js';
export * from './types.js';
