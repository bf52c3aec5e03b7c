/**
 * The flags the install started the gateway with (its Deployment's container args, as
 * src/cli/install/workloads.ts renders them: `--flag=value`, a list flag once per value or
 * comma-separated): what the gateway admits (`--allow-cluster`) and which cluster it is.
 */

/** Every value of `flag` (e.g. `--allow-cluster`) in `args`, comma-separated lists split. */
export function flagValues(args: readonly string[], flag: string): string[] {
  return args
    .filter((a) => a.startsWith(`${flag}=`))
    .flatMap((a) => a.slice(flag.length + 1).split(','))
    .filter((v) => v !== '');
}
