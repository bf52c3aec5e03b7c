/** Public API of the failover part, for `isthmus controller` and the CLI's status view. */
export {
  type FailoverController,
  type FailoverControllerOptions,
  reconcileErrorChannel,
  runFailoverController,
} from './controller.js';
export {
  decideWeights,
  type FailoverMemory,
  type FailoverState,
  type WeightDecision,
} from './decide-weights.js';
export { type ParsedSplit, type ParseSplitResult, parseSplit } from './parse-split.js';
export { type ApexPlan, type ApexPlanInput, planApexSlices } from './plan-apex-slices.js';
export { type SplitMode, STEER_LABEL, splitMode } from './split-selection.js';
export { type FailoverStatusRow, failoverStatusRows, renderStatusTable, statusRow } from './status-view.js';
