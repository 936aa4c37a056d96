/**
 * V8 settings scopegate's processes need, applied when this module is evaluated: main.ts and the cluster worker's
 * entry import it first, so they hold before any other module runs — however the process was started (the
 * image's entrypoint, `node dist/main.js`, a cluster fork). Node does not accept these flags in NODE_OPTIONS.
 *
 * --no-allocation-site-pretenuring. V8 allocates the objects of an object or array literal directly in the old
 * generation once most of them survived a scavenge that found the young generation at its maximum size
 * (src/heap/pretenuring-handler.cc: a survival ratio ≥ 0.85 over ≥ 100 sampled objects). V8's trace names the
 * sites scopegate gets tenured by address only; most likely they are per-check literals, tenured at a moment
 * when many checks were alive at once (a cold start: the first checks of each tenant wait for Vault and the
 * token endpoint). From then on every check allocates garbage in the old generation that points at its young
 * objects; a scavenge cannot tell the old garbage is dead, so those young objects are promoted too: ~3 KB per
 * check and a mark-compact every second or two, in 5 of 8 cold-started processes with pretenuring and 0 of 8
 * without (docs/benchmarks.md, "Run F"). Nothing scopegate keeps for long is allocated fast enough for
 * pretenuring to save anything measurable.
 *
 * A flag given on node's own command line (`node --allocation-site-pretenuring dist/main.js`) wins: that is how
 * the benchmark runs the previous behaviour beside this one.
 */
import { setFlagsFromString } from "node:v8";

export const V8_FLAGS = ["--no-allocation-site-pretenuring"] as const;

/** The flags of `wanted` that `execArgv` (node's own command-line options) does not already set either way. */
export function flagsToApply(wanted: readonly string[], execArgv: readonly string[]): string[] {
  const name = (flag: string): string => flag.replace(/^--(no-)?/, "").replace(/=.*$/, "").replaceAll("_", "-");
  const given = new Set(execArgv.filter((a) => a.startsWith("--")).map(name));
  return wanted.filter((f) => !given.has(name(f)));
}

for (const flag of flagsToApply(V8_FLAGS, process.execArgv)) setFlagsFromString(flag);
