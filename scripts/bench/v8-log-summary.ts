// Reads a V8 log written with --log-deopt --log-function-events (scripts/bench/tail-variants/deopt-log.json) and
// says whether scopegate's code settles under load: how many deoptimisations happened after the warm-up, which
// of them were in scopegate's own code (dist/), and when scopegate's functions were last compiled by Maglev and
// TurboFan. A deopt-and-recompile cycle under steady load would show as deopts and compilations late in the run.
//
//   npx tsx scripts/bench/v8-log-summary.ts /tmp/scopegate-bench-v8.log [--after <seconds>]
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { after: { type: "string", default: "30" } } });
const file = positionals[0];
if (!file) {
  process.stderr.write("usage: v8-log-summary.ts <v8 log> [--after <seconds>]\n");
  process.exit(2);
}
const afterUs = Number(values.after) * 1e6;
const OWN = /\/dist\//;

const scripts = new Map<string, string>();
const deopts: { atUs: number; where: string; reason: string }[] = [];
const compiled = new Map<string, { tier: string; atUs: number }[]>();
/** The latest deoptimisation (any code) or compilation of scopegate's code: about when the process stopped. */
let lastUs = 0;
for (const line of readFileSync(file, "utf8").split("\n")) {
  const f = line.split(",");
  if (f[0] === "script-details") scripts.set(f[1]!, f[2]!);
  else if (f[0] === "code-deopt") {
    // code-deopt,<time µs>,<size>,<code>,<inlining id>,<offset>,<bailout type>,<position>,<reason>
    const atUs = Number(f[1]);
    lastUs = Math.max(lastUs, atUs);
    deopts.push({ atUs, where: f[7]!, reason: `${f[6]}: ${f.slice(8).join(",")}` });
  } else if (f[0] === "function" && (f[1] === "maglev" || f[1] === "turbofan")) {
    // function,<tier>,<script id>,<start>,<end>,<ms>,<time µs>,<name>
    const url = scripts.get(f[2]!) ?? "";
    if (!OWN.test(url)) continue;
    const atUs = Number(f[6]);
    lastUs = Math.max(lastUs, atUs);
    const name = `${f.slice(7).join(",") || "(anonymous)"} ${url.slice(url.indexOf("/dist/") + 1)}:${f[3]}`;
    compiled.set(name, [...(compiled.get(name) ?? []), { tier: f[1], atUs }]);
  }
}

const late = deopts.filter((d) => d.atUs >= afterUs);
const s = (us: number): string => `${(us / 1e6).toFixed(0)} s`;
console.log(`last event read at ${s(lastUs)}; deoptimisations: ${deopts.length} in all, ${late.length} after ${s(afterUs)}, ${late.filter((d) => OWN.test(d.where)).length} of those in scopegate's code`);
for (const d of late) console.log(`  ${s(d.atUs)} ${d.where} ${d.reason}`);
const own = [...compiled.entries()];
const turbofan = own.filter(([, c]) => c.some((x) => x.tier === "turbofan"));
const lateCompiles = own.flatMap(([name, c]) => c.filter((x) => x.atUs >= afterUs).map((x) => ({ name, ...x })));
console.log(`scopegate's functions compiled: ${own.length} by Maglev or TurboFan, ${turbofan.length} by TurboFan; compilations after ${s(afterUs)}: ${lateCompiles.length}`);
for (const c of lateCompiles) console.log(`  ${s(c.atUs)} ${c.tier} ${c.name}`);
