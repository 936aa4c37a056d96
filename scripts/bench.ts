// npm run bench [-- --smoke] [-- --only direct,envoy,tail,onset,cold,cluster,memory,stages,profile,budget,fleet] [-- --out <file.md>] [-- --json <file>]
//   [-- --tail-variants <file.json>] [-- --only ab --baseline <subject> [--candidate <subject>] [--rate <req/s per side>]]
//
// Measures scopegate as issue 5 asks, everything on 127.0.0.1 and every process separate: the Genesys stand-in
// and OpenBao (the world), scopegate (`node dist/main.js serve`), the trivial grpc-js server (the ceiling),
// Envoys, and the load generators ghz and wrk. Prints a table; a full run rewrites docs/benchmarks.md.
// --smoke: seconds instead of minutes, for test/bench/bench-smoke.test.ts; writes a document only with --out.
// --only: just the named phases (for working on one of them); like --smoke, writes a document only with --out.
// --tail-variants: the tail phase runs these scopegate processes (a JSON array of { "name", "nodeFlags" }) beside the
// trivial server instead of its built-in variants, for experiments with V8 flags; like --only, no document without --out.
// --only ab --baseline <subject> [--candidate <subject>]: A/B of two subjects through Envoy in the same window (this
// checkout's dist/ by default against another build, or the trivial server with or without HTTP clients warmed up
// first; a subject may end in +flags:<node flags>; scripts/bench/phase-ab.ts); only when asked for, never in a full run.
// --rate: with --only ab, the requests per second to each side (the fixed rate, 1,000, by default).
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { repoRoot } from "../test/support/tools.js";
import { FULL, SMOKE, writeRequests, type Context } from "./bench/context.js";
import { GHZ_CPUS, ghzInstalled } from "./bench/ghz.js";
import { CheckClient, expectAllAllowed } from "./bench/grpc-client.js";
import { describeMachine } from "./bench/machine.js";
import { coldPhase, type BurstResult } from "./bench/phase-cold.js";
import { clusterPhase } from "./bench/phase-cluster.js";
import { directPhase, type LoadTarget } from "./bench/phase-direct.js";
import { fleetPhase } from "./bench/phase-fleet.js";
import { envoyPhase } from "./bench/phase-envoy.js";
import { abPhase, parseSubject, THIS_BUILD } from "./bench/phase-ab.js";
import { BOUNDED_HEAP, memoryPhase, SHIPPED_ENV } from "./bench/phase-memory.js";
import { oneInFlightProfiles, profilePhase } from "./bench/phase-profile.js";
import { budgetPhase } from "./bench/phase-budget.js";
import { stagesPhase } from "./bench/phase-stages.js";
import { tailPhase } from "./bench/phase-tail.js";
import { onsetPhase } from "./bench/phase-onset.js";
import { readTailVariants } from "./bench/tail-variants.js";
import { consoleTable, writeMarkdown, type Report } from "./bench/report.js";
import { startScopegate, type Scopegate } from "./bench/scopegate-process.js";
import { nativeUnavailable, startNative } from "./bench/native-process.js";
import { expectPeerAnswers, opaUnavailable, startOpa } from "./bench/opa-process.js";
import { expectDecoding, startTrivial } from "./bench/trivial-process.js";
import { startWorld, tenantIds } from "./bench/world.js";

const { values } = parseArgs({
  options: {
    smoke: { type: "boolean", default: false },
    only: { type: "string" },
    out: { type: "string" },
    json: { type: "string" },
    "tail-variants": { type: "string" },
    baseline: { type: "string" },
    candidate: { type: "string" },
    rate: { type: "string" },
  },
});
const PHASES = ["direct", "envoy", "tail", "onset", "cold", "cluster", "memory", "stages", "profile", "budget", "fleet", "ab"] as const;
const only = values.only?.split(",").map((p) => p.trim()).filter((p) => p !== "");
const unknown = only?.filter((p) => !(PHASES as readonly string[]).includes(p)) ?? [];
if (unknown.length > 0) {
  process.stderr.write(`bench: unknown phase(s) ${unknown.join(", ")}; known: ${PHASES.join(", ")}\n`);
  process.exit(2);
}
// The A/B phase runs only when named, and only with a baseline build to compare with.
const wanted = (p: (typeof PHASES)[number]): boolean => (p === "ab" ? only?.includes(p) === true : only === undefined || only.includes(p));
if (wanted("ab") !== (values.baseline !== undefined) || (values.candidate !== undefined && values.baseline === undefined)) {
  process.stderr.write("bench: --only ab and --baseline <subject> go together (--candidate <subject> only with them)\n");
  process.exit(2);
}
const abRate = values.rate === undefined ? undefined : Number(values.rate);
if (abRate !== undefined && (!wanted("ab") || !Number.isInteger(abRate) || abRate < 1 || abRate > 100_000)) {
  process.stderr.write(`bench: --rate takes whole requests per second from 1 to 100000, with --only ab (got ${values.rate})\n`);
  process.exit(2);
}
for (const subject of [values.candidate, values.baseline]) {
  try {
    if (subject !== undefined) parseSubject(subject);
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    process.exit(2);
  }
}
const plan = values.smoke ? SMOKE : FULL;
const tailVariants =
  values["tail-variants"] === undefined
    ? undefined
    : await readTailVariants(values["tail-variants"]).catch((err: Error) => {
        process.stderr.write(`bench: ${err.message}\n`);
        process.exit(2);
      });
const outFile = values.out ?? (values.smoke || only || tailVariants ? undefined : join(repoRoot, "docs/benchmarks.md"));
// Every wait below is bounded; this is the bound on the whole run.
const watchdog = setTimeout(() => {
  process.stderr.write("bench: watchdog expired, giving up\n");
  process.exit(3);
}, (values.smoke ? 10 : 60) * 60_000); // the full run took 31 minutes on 2026-12-03 (2 cores)
watchdog.unref();

const started = performance.now();
const dir = await mkdtemp(join(tmpdir(), "scopegate-bench-"));
const failures: string[] = [];
const stops: (() => Promise<void>)[] = [async () => rm(dir, { recursive: true, force: true })];
let burst: BurstResult | undefined;
let profile: Report["profile"];
let ctx: Context | undefined;

/** Runs one phase; a failure is reported (and fails the run) without losing the other phases' rows. */
async function phase(name: string, body: () => Promise<void>): Promise<void> {
  const t0 = performance.now();
  process.stderr.write(`bench: ${name}…\n`);
  try {
    await body();
    process.stderr.write(`bench: ${name} done in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
  } catch (err) {
    failures.push(`${name}: ${(err as Error).message}`);
    process.stderr.write(`bench: ${name} FAILED: ${(err as Error).stack ?? String(err)}\n`);
  }
}

try {
  const protoset = join(dir, "authz.binpb");
  execFileSync(join(repoRoot, "node_modules/.bin/buf"), ["build", "-o", protoset], { cwd: repoRoot, stdio: "inherit" });
  const world = await startWorld();
  stops.push(() => world.stop());
  const hot = tenantIds("hot", 100);
  await world.addTenants(hot, "config");
  const { requests, file } = await writeRequests(dir, "hot", hot, 500);
  const context: Context = { plan, dir, world, protoset, hot, hotRequests: requests, hotDataFile: file, rows: [], targets: [], notes: [], hotPathTokenRequests: 0 };
  ctx = context;
  const withGhz = ghzInstalled();

  // As the image runs it: the heap flags and environment of the Dockerfile (scripts/bench/phase-memory.ts).
  const sg = await startScopegate({ world, dir, name: "scopegate", configuredTenants: hot, logLevel: "info", nodeFlags: BOUNDED_HEAP, env: SHIPPED_ENV });
  stops.push(() => sg.stop());
  await expectAllAllowed(sg.tcpTarget, requests, "scopegate"); // one token per hot tenant, every route's response encoded
  const probe = new CheckClient(sg.tcpTarget);
  const response = (await probe.check(requests[0]!)).raw;
  probe.close();
  const trivial = await startTrivial(dir, response);
  stops.push(() => trivial.stop());
  // The grpc-js decode floor: the trivial server decoding every request with the generated code (the grpc-js
  // counterpart of the native floor, which decodes as any Go ext_authz does).
  const decoding = await startTrivial(dir, response, { name: "trivial-decode", reader: "generated" });
  stops.push(() => decoding.stop());
  await expectDecoding(decoding.tcpTarget, requests);
  // The wire-reader floor: the trivial server reading every request with scopegate's own reader (through Envoy only).
  const wireReading = await startTrivial(dir, response, { name: "trivial-wire", reader: "wire" });
  stops.push(() => wireReading.stop());
  await expectDecoding(wireReading.tcpTarget, requests, "wire-reader floor");
  const decodeTarget: LoadTarget = { name: "grpc-js decode floor", tcpTarget: decoding.tcpTarget, udsTarget: decoding.udsTarget, pid: decoding.child.pid };
  context.notes.push(
    "The grpc-js decode floor rows: the trivial grpc-js server started with `--decode`, which decodes every CheckRequest into a message with the ts-proto code scopegate is built with (dist/gen) and answers the same fixed bytes — what a JavaScript ext_authz server pays to read its requests the usual way, and nothing else; the grpc-js counterpart of the native grpc-go floor. scopegate itself reads only the fields it needs from the bytes (src/authz/check-request-wire.ts).",
    "The wire-reader floor rows (through Envoy): the trivial grpc-js server started with `--read-wire x-tenant-id`, which reads every CheckRequest with scopegate's own reader and header picker from the same build (dist/authz: the source principal, method, path, host and the tenant, x-request-id and authorization headers, straight from the bytes) and answers the same fixed bytes — what reading costs scopegate's way, so that what scopegate costs above it is its decision, count and log line. Checked like the decode floor before it is measured.",
  );
  const sgTarget = asTarget("scopegate", sg);
  // The native floor (grpc-go): its rows join the direct and through-Envoy phases when it is built.
  const nativeMissing = nativeUnavailable();
  const native = nativeMissing === undefined ? await startNative(dir, response) : undefined;
  if (native) {
    stops.push(() => native.stop());
    context.notes.push(
      "The native rows: scripts/bench/native-authz, a grpc-go server typed with the go-control-plane envoy.service.auth.v3 messages (built by `SCOPEGATE_BENCH_TOOLS=1 npm run tools`), answering every Check with the CheckResponse scopegate answered, like the trivial grpc-js server; unlike it, it decodes each request (grpc-go's proto codec), as any Go ext_authz does. It runs with Go's default GOMAXPROCS (both cores). It is the transport floor of this machine; the targets stay judged against the grpc-js server, the native ratios are shown beside them.",
    );
    if (!native.sameBytes) context.notes.push("The native server's re-encoding of the CheckResponse differs from the bytes scopegate sent (same message, other byte order); it answers with its re-encoding.");
  } else {
    process.stderr.write(`bench: native rows skipped: ${nativeMissing}\n`);
    context.notes.push(`Native rows skipped: ${nativeMissing}.`);
  }
  const nativeTarget: LoadTarget | undefined = native && { name: "native (grpc-go)", tcpTarget: native.tcpTarget, udsTarget: native.udsTarget, pid: native.child.pid };
  // The policy-engine peer (OPA's Rego engine in grpc-go), doing scopegate's cached job as a policy, when built.
  const opaMissing = opaUnavailable();
  const opa = opaMissing === undefined ? await startOpa(dir, hot, response) : undefined;
  if (opa) {
    stops.push(() => opa.stop());
    await expectPeerAnswers(opa.tcpTarget, requests, opa.data);
    context.notes.push(
      "The OPA peer rows: scripts/bench/opa-authz (built by `SCOPEGATE_BENCH_TOOLS=1 npm run tools`), OPA's Rego engine (Go module github.com/open-policy-agent/opa v1.22.4) behind a grpc-go ext_authz server, evaluating scripts/bench/opa-authz/policy.rego per Check: the same decision as scopegate's cached path (tenant header, the caller's namespace bound to the tenant, a divisionId the caller sent must be the tenant's; allow overwriting Authorization with the tenant's bearer from its data document, setting the routing header and divisionId, removing the tenant header). It wires OPA the way the OPA-Envoy plugin's envoyauth package does (the request as input under the fields' JSON names plus parsed_path and parsed_query, one prepared query, the result object as the CheckResponse); the plugin itself is not served by the Go module proxy here (403), so this is not the plugin: no decision logs, bundles or status. Its tokens never expire and come from no Vault: the cost of fetching and renewing them is not in its rows.",
    );
  } else {
    process.stderr.write(`bench: OPA peer rows skipped: ${opaMissing}\n`);
    context.notes.push(`OPA peer rows skipped: ${opaMissing}.`);
  }
  const opaTarget: LoadTarget | undefined = opa && { name: "OPA peer (Rego, grpc-go)", tcpTarget: opa.tcpTarget, udsTarget: opa.udsTarget, pid: opa.child.pid };

  if (withGhz && wanted("direct")) {
    await phase("direct Check load", async () => {
      const quiet = await startScopegate({ world, dir, name: "scopegate-warn", configuredTenants: hot, logLevel: "warn", nodeFlags: BOUNDED_HEAP, env: SHIPPED_ENV });
      try {
        await expectAllAllowed(quiet.tcpTarget, requests, "scopegate (warn)");
        const quietBefore = world.standin.tokenRequests;
        await directPhase(context, sgTarget, { name: "trivial", tcpTarget: trivial.tcpTarget, udsTarget: trivial.udsTarget, pid: trivial.child.pid }, asTarget("scopegate (logging warn)", quiet), {
          decodeFloor: decodeTarget,
          native: nativeTarget,
          opa: opaTarget,
        });
        context.hotPathTokenRequests += world.standin.tokenRequests - quietBefore;
      } finally {
        await quiet.stop();
      }
    });
  } else if (!withGhz) {
    context.notes.push("ghz is not installed (SCOPEGATE_BENCH_TOOLS=1 npm run tools): direct gRPC rows, the steady memory run, the cluster rows and the profile were skipped.");
  }
  if (wanted("envoy")) await phase("through Envoy", async () => {
    // scopegate as shipped but for its decision lines: one per check, allows too (config logging.decisions: all;
    // shipped: denials only, allows recorded in Envoy's access log) — the share of a line per allow.
    // Stopped with the phase, like the direct phase's logging-warn scopegate: the later phases do not run beside it.
    const allLines = await startScopegate({ world, dir, name: "scopegate-all-decisions", configuredTenants: hot, logLevel: "info", logDecisions: "all", nodeFlags: BOUNDED_HEAP, env: SHIPPED_ENV });
    try {
      await expectAllAllowed(allLines.tcpTarget, requests, "scopegate (logging.decisions: all)");
      const before = world.standin.tokenRequests;
      await envoyPhase(context, { pid: sg.child.pid, unixSocket: sg.udsTarget.slice("unix://".length) }, { pid: trivial.child.pid, unixSocket: trivial.unixSocket }, {
        decodeFloor: { pid: decoding.child.pid, unixSocket: decoding.unixSocket },
        wireFloor: { pid: wireReading.child.pid, unixSocket: wireReading.unixSocket },
        allDecisions: { pid: allLines.child.pid, unixSocket: allLines.udsTarget.slice("unix://".length) },
        native: native && { pid: native.child.pid, unixSocket: native.unixSocket },
        opa: opa && { pid: opa.child.pid, unixSocket: opa.unixSocket },
        equalCpu: async (burnUs) => {
          const t = await startTrivial(dir, response, { name: "trivial-equal-cpu", burnUs });
          return { pid: t.child.pid, unixSocket: t.unixSocket, stop: () => t.stop() };
        },
      });
      context.hotPathTokenRequests += world.standin.tokenRequests - before;
    } finally {
      await allLines.stop();
    }
  });
  if (wanted("ab") && values.baseline !== undefined) {
    const subjects = { candidate: values.candidate ?? THIS_BUILD, baseline: values.baseline };
    await phase("A/B in the same window", () => abPhase(context, subjects, response, abRate));
  }
  if (wanted("tail")) await phase("tail evidence", () => tailPhase(context, response, tailVariants));
  if (wanted("onset")) await phase("promoting state from a cold start", () => onsetPhase(context));
  if (wanted("cold")) await phase("cold paths", async () => {
    burst = await coldPhase(context, sg.tcpTarget);
  });
  if (withGhz && wanted("cluster")) await phase("multi-worker mode", () => clusterPhase(context, sgTarget));
  if (wanted("memory")) await phase("memory", () => memoryPhase(context, withGhz));
  if (wanted("fleet")) await phase("fleet token store", () => fleetPhase(context, sgTarget, withGhz));
  if (wanted("stages")) await phase("stage costs", () => stagesPhase(context));
  if (wanted("budget")) await phase("request budget", () => budgetPhase(context, sg));
  if (withGhz && wanted("profile")) {
    await phase("CPU profile", async () => {
      const p = await profilePhase(context);
      profile = { summary: p.summary, command: p.command };
      if (plan.mode === "full") await oneInFlightProfiles(context, response);
    });
  }
  context.targets.push({
    name: "token requests on the hot path",
    goal: "0 while only cached tenants are under load",
    measured: `${context.hotPathTokenRequests} during the direct, through-Envoy and steady runs`,
    met: context.hotPathTokenRequests === 0,
    verdict: context.hotPathTokenRequests === 0 ? "met" : `missed: ${context.hotPathTokenRequests} token requests`,
  });
  context.notes.push(
    "Every server is its own process on 127.0.0.1: scopegate runs as `node dist/main.js serve --config <generated yaml>` (Vault token from an environment variable, tenants configured or discovered from OpenBao, tokens from the Genesys stand-in, which runs in the harness process and is only called on cold paths). Its stdout (one JSON line per check at the default `info` level) goes to /dev/null so no pipe is drained during a measurement.",
    `ghz runs with --cpus=${GHZ_CPUS} (GOMAXPROCS): on 2 cores, a load generator allowed both cores takes CPU from the server it measures by a varying amount. Consequence: the trivial server is limited by ghz rather than by its own CPU (see its CPU µs/req and req/s), so the ceiling is this machine's ceiling, which is what scopegate is compared with.`,
    `Direct and unlimited-rate load rows are the median of ${plan.rounds} interleaved ${plan.loadS}-second rounds, rotated (A B C, then B C A, …): the machine is shared and its speed drifts, so rows measured side by side are compared, never rows from different runs. p99.9 comes from ghz's per-request details; CPU µs/req is the server process's user+system time (/proc/<pid>/stat, all workers in cluster mode) divided by the requests it answered.`,
    "Requests: 100 cached tenants × 5 Genesys routes (catalogued ones get the division filter set, one gets a caller-supplied divisionId checked), 19 headers, about 1 KB per CheckRequest, sent round-robin from a count-delimited file (ghz -B). Every distinct request is checked to be an allow before any load, so no row measures fast denials.",
  );
} catch (err) {
  failures.push(`setup: ${(err as Error).message}`);
  process.stderr.write(`bench: setup FAILED: ${(err as Error).stack ?? String(err)}\n`);
} finally {
  for (const stop of stops.reverse()) await stop().catch((e: unknown) => process.stderr.write(`bench: cleanup: ${String(e)}\n`));
}

const report: Report = {
  mode: plan.mode,
  machine: describeMachine(),
  rows: ctx?.rows ?? [],
  targets: ctx?.targets ?? [],
  ...(profile ? { profile } : {}),
  notes: [...(ctx?.notes ?? []), ...failures.map((f) => `FAILED ${f}`)],
  durationS: (performance.now() - started) / 1000,
};
process.stdout.write(`${consoleTable(report)}\n`);
if (outFile) {
  await writeMarkdown(outFile, report);
  process.stdout.write(`wrote ${outFile}\n`);
}
if (values.json) await writeFile(values.json, JSON.stringify({ ...report, burst, failures }, null, 2));
process.exit(failures.length === 0 ? 0 : 1);

function asTarget(name: string, s: Scopegate): LoadTarget {
  return { name, tcpTarget: s.tcpTarget, udsTarget: s.udsTarget, pid: s.child.pid };
}
