/**
 * npm run soak [-- --minutes 5 --rate 200 --tenants 50 --token-lifetime 20]
 * Steady traffic through Envoy to a scopegate process for minutes; prints errors, latency and RSS over time.
 * Not part of CI (a few seconds of it run in test/e2e/soak-smoke.test.ts).
 */
import { parseArgs } from "node:util";
import { runSoak } from "../test/support/soak.js";

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "5" },
    rate: { type: "string", default: "200" },
    tenants: { type: "string", default: "50" },
    "token-lifetime": { type: "string", default: "20" },
  },
});
const minutes = Number(values.minutes);
process.stdout.write(`soak: ${minutes} min at ${values.rate} req/s over ${values.tenants} tenants, tokens live ${values["token-lifetime"]} s\n`);
process.stdout.write("   t(s)  requests  non200  errors  p50(ms)  p99(ms)  scopegate RSS(MB)\n");
const result = await runSoak({
  durationMs: minutes * 60_000,
  rate: Number(values.rate),
  tenants: Number(values.tenants),
  tokenLifetimeSeconds: Number(values["token-lifetime"]),
  sampleEveryMs: 10_000,
  onSample: (s) =>
    process.stdout.write(
      `${s.atSeconds.toFixed(0).padStart(7)} ${String(s.requests).padStart(9)} ${String(s.non200).padStart(7)} ${String(s.errors).padStart(7)} ${s.p50Ms.toFixed(2).padStart(8)} ${s.p99Ms.toFixed(2).padStart(8)} ${s.rssMb.toFixed(1).padStart(18)}\n`,
    ),
});
const rss = result.samples.map((s) => s.rssMb);
process.stdout.write(
  `\nrequests ${result.requests}, non-200 ${result.non200}, errors ${result.errors}, upstream mismatches ${result.mismatches}, ` +
    `upstream rejected ${result.upstreamRejected}, token requests ${result.tokenRequests}\n` +
    (result.non200 > 0 ? `non-200 by status and reason: ${JSON.stringify(result.failures)}\n` : "") +
    `scopegate warnings: ${JSON.stringify(result.scopegateWarnings)}\n` +
    `scopegate RSS: first ${rss[0]} MB, last ${rss.at(-1)} MB, max ${Math.max(...rss)} MB\n${result.command}\n`,
);
process.exit(result.non200 + result.errors + result.mismatches === 0 ? 0 : 1);
