/**
 * What the lab starts for a pod of an isthmus-system Deployment, as the kubelet would create its
 * container: the container's command and args with `$(VAR)` expanded, run as `isthmus <part>` with
 * the flags the lab owns replaced (system-argv.ts), and the container's environment
 * (container-env.ts) over the lab's defaults. Or why the lab cannot start it (the kubelet's
 * CreateContainerConfigError): the pod shows it, and nothing starts with other arguments.
 */
import type { V1Pod } from '../../kube/types.js';
import { containerEnv, expandVars } from './container-env.js';
import { type LabPart, labArgv, labEnv, type SystemPart } from './system-argv.js';

/** The image's ENTRYPOINT (Dockerfile): a container `command`, where it sets one, must run it. */
export const IMAGE_ENTRYPOINT: readonly string[] = ['node', '/opt/isthmus/bin/isthmus.mjs'];

/**
 * The lab's own environment per part, beneath the container's (which overrides it): its gateways
 * log a line per tunnel, what crosses is there to see in `kubectl logs`; the install does not turn
 * the access log on, and `kubectl set env deploy/isthmus-gateway ISTHMUS_ACCESS_LOG=false` turns
 * it off in the lab.
 */
const LAB_ENV: Readonly<Record<SystemPart, Readonly<Record<string, string>>>> = {
  identity: {},
  gateway: { ISTHMUS_ACCESS_LOG: 'true' },
  controller: {},
};

export interface Launch {
  /** The isthmus CLI's argv: the part's verb and its flags. */
  args: string[];
  env: Record<string, string>;
}

export function podLaunch(pod: V1Pod, lab: LabPart): Launch | { problem: string } {
  const container = pod.spec?.containers?.[0];
  if (!container) return { problem: 'the pod has no container' };
  const env = containerEnv(pod);
  if ('problem' in env) return env;
  const command = (container.command ?? IMAGE_ENTRYPOINT).map((a) => expandVars(a, env.value));
  const argv = [...command, ...(container.args ?? []).map((a) => expandVars(a, env.value))];
  if (IMAGE_ENTRYPOINT.some((a, i) => argv[i] !== a))
    return {
      problem: `command ${JSON.stringify(command)}: the lab runs the image's entrypoint (${IMAGE_ENTRYPOINT.join(' ')}) only; node flags go in NODE_OPTIONS`,
    };
  const [verb, ...flags] = argv.slice(IMAGE_ENTRYPOINT.length);
  if (verb !== lab.part)
    return {
      problem: `args run "isthmus ${verb ?? ''}": the lab runs isthmus-${lab.part} as "isthmus ${lab.part}"`,
    };
  const volumes = pod.spec?.volumes ?? [];
  const mounts = container.volumeMounts ?? [];
  const args = labArgv(flags, volumes, mounts, lab);
  if ('problem' in args) return args;
  const mapped = labEnv(env.value, volumes, mounts, lab);
  if ('problem' in mapped) return mapped;
  return { args: [lab.part, ...args.value], env: { ...LAB_ENV[lab.part], ...mapped.value } };
}
