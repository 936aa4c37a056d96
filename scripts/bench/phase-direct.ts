// a/b. Direct Check load on the gRPC port (TCP and unix socket) at several concurrencies, scopegate and the
// trivial server interleaved round by round (the machine's noise drifts; alternating cancels most of it), the
// median of the rounds reported. Also scopegate with logging.level=warn, to show what the per-check log line costs.
import { join } from "node:path";
import { treeCpuMs } from "./child.js";
import { sleepMs, type Context } from "./context.js";
import { ghzCommand, runGhz, type GhzRun } from "./ghz.js";
import type { LoadResult } from "./load-result.js";
import { cpuTicks, stealShare } from "./machine.js";
import { judged, medianLoad, type Row } from "./report.js";

export interface LoadTarget {
  readonly name: string;
  readonly tcpTarget: string;
  readonly udsTarget: string;
  /** Process whose CPU time (with its children) is charged to the requests. */
  readonly pid: number;
}

/**
 * `stealPct`: the share of the machine's CPU time the hypervisor stole during the run (/proc/stat), a measure of
 * how much of the run's noise came from outside this VM.
 */
export type Measured = LoadResult & { readonly cpuUsPerReq?: number; readonly stealPct?: number };

export function ghzRun(ctx: Context, target: string, concurrency: number, durationS: number, extra: Partial<GhzRun> = {}): GhzRun {
  return {
    target,
    protoset: ctx.protoset,
    dataFile: ctx.hotDataFile,
    concurrency,
    connections: Math.min(concurrency, 4),
    durationS,
    outFile: join(ctx.dir, "ghz-report.json"),
    ...extra,
  };
}

/** One load run, with the CPU time `pid` (and its children) spent per successful request, and the steal during it. */
export async function withCpu(pid: number, load: () => Promise<LoadResult>): Promise<Measured> {
  const before = treeCpuMs(pid);
  const r = await withSteal(load);
  const cpuMs = treeCpuMs(pid) - before;
  return { ...r, cpuUsPerReq: r.requests > 0 ? (cpuMs * 1000) / r.requests : Number.NaN };
}

/** One load run with the hypervisor's steal during it (no process to charge CPU to, e.g. Envoy alone). */
export async function withSteal(load: () => Promise<LoadResult>): Promise<Measured> {
  const ticks = cpuTicks();
  const r = await load();
  const steal = stealShare(ticks, cpuTicks());
  return steal === undefined ? r : { ...r, stealPct: steal * 100 };
}

export const measure = (run: GhzRun, pid: number): Promise<Measured> => withCpu(pid, () => runGhz(run));

/**
 * Rotates the subjects round by round (A B C D, then B C D A, C D A B, …; with two, A B then B A) and returns
 * each one's runs: every subject takes every place in the order, so a drift of the machine's speed during the
 * rounds falls on all of them alike.
 */
export async function interleave<T, M extends Measured = Measured>(subjects: readonly T[], rounds: number, runOne: (s: T) => Promise<M>): Promise<Map<T, M[]>> {
  const results = new Map(subjects.map((s) => [s, [] as M[]]));
  for (let round = 0; round < rounds; round++) {
    const shift = round % subjects.length;
    const order = [...subjects.slice(shift), ...subjects.slice(0, shift)];
    for (const s of order) {
      results.get(s)!.push(await runOne(s));
      await sleepMs(200);
    }
  }
  return results;
}

/** "; hypervisor steal per repetition, scopegate/trivial: 0.2/5.0, … %" when /proc/stat was readable. */
export function stealPerRepetition(sgRuns: readonly Measured[], tvRuns: readonly Measured[]): string {
  const pairs = sgRuns.map((r, i) => [r.stealPct, tvRuns[i]?.stealPct] as const);
  if (pairs.some(([a, b]) => a === undefined || b === undefined)) return "";
  return `; hypervisor steal per repetition, scopegate/trivial: ${pairs.map(([a, b]) => `${a!.toFixed(1)}/${b!.toFixed(1)}`).join(", ")} %`;
}

export function ratioText(value: number, base: number, what: string): string {
  return `${(value / base).toFixed(2)}× ${what}`;
}

/**
 * The rows beside scopegate and the trivial server. `decodeFloor`: the trivial server decoding every request with the
 * generated code (trivial-server.ts --decode). `native`: the grpc-go floor (scripts/bench/native-authz), when built.
 * `opa`: the policy-engine peer (scripts/bench/opa-authz), when built. Their rows are compared with the trivial
 * grpc-js server; scopegate's one-in-flight ratios are shown against each of them too.
 */
export interface DirectPeers {
  readonly decodeFloor?: LoadTarget | undefined;
  readonly native?: LoadTarget | undefined;
  readonly opa?: LoadTarget | undefined;
}

export async function directPhase(ctx: Context, scopegate: LoadTarget, trivial: LoadTarget, quiet: LoadTarget | undefined, others: DirectPeers): Promise<void> {
  const { plan } = ctx;
  const { decodeFloor, native, opa } = others;
  /** The peers that run, each with the name scopegate's comparisons give it (in its rows and the one-in-flight targets). */
  const compared = [
    { target: decodeFloor, short: "decode floor", long: "the grpc-js decode floor" },
    { target: native, short: "native", long: "the native grpc-go floor" },
    { target: opa, short: "OPA peer", long: "the OPA peer" },
  ].filter((p): p is { target: LoadTarget; short: string; long: string } => p.target !== undefined);
  const peers = compared.map((p) => p.target);
  for (const s of [trivial, ...peers, scopegate, ...(quiet ? [quiet] : [])]) await measure(ghzRun(ctx, s.tcpTarget, 16, plan.warmS), s.pid);
  const cells: { transport: "tcp" | "uds"; c: number }[] = [];
  for (const transport of ["tcp", "uds"] as const) for (const c of plan.concurrencies) cells.push({ transport, c });
  const ratios: { cell: string; rps: number; p99: number; nativeRps?: number; nativeP99?: number }[] = [];
  /** Issue 15: one in flight, scopegate ÷ trivial req/s per rotation round (paired), per transport. */
  const oneInFlight: { transport: string; values: number[]; ofPeers: string; steal: string }[] = [];
  for (const { transport, c } of cells) {
    const servers = [trivial, ...peers, scopegate, ...(transport === "tcp" && c === 16 && quiet ? [quiet] : [])];
    const addr = (s: LoadTarget): string => (transport === "tcp" ? s.tcpTarget : s.udsTarget);
    const runs = await interleave(servers, plan.rounds, (s) => measure(ghzRun(ctx, addr(s), c, plan.loadS), s.pid));
    const base = medianLoad(runs.get(trivial)!);
    const floor = native ? medianLoad(runs.get(native)!) : undefined;
    const peerLoads = compared.map((p) => ({ ...p, load: medianLoad(runs.get(p.target)!) }));
    if (c === 1) {
      const sgRuns = runs.get(scopegate)!;
      const tvRuns = runs.get(trivial)!;
      const sgRps = medianLoad(sgRuns).rps;
      oneInFlight.push({
        transport,
        values: sgRuns.map((r, i) => r.rps / tvRuns[i]!.rps),
        ofPeers: peerLoads.map((p) => `; of ${p.long} ${(sgRps / p.load.rps).toFixed(2)}×`).join(""),
        steal: stealPerRepetition(sgRuns, tvRuns),
      });
    }
    for (const s of servers) {
      const load = medianLoad(runs.get(s)!);
      const vs = (b: typeof base, what: string): string => `${ratioText(load.rps, b.rps, "req/s")}, ${ratioText(load.p99, b.p99, "p99")}${what}`;
      const versus =
        s === trivial
          ? "ceiling (grpc-js)"
          : peers.includes(s)
            ? vs(base, " of grpc-js")
            : `${vs(base, "")}${s === scopegate ? peerLoads.map((p) => `; ${p.short}: ${vs(p.load, "")}`).join("") : ""}`;
      const row: Row = { section: "direct", label: `${s.name} ${transport} c=${c}`, load, versus, command: ghzCommand(ghzRun(ctx, addr(s), c, plan.loadS)) };
      ctx.rows.push(row);
      if (s === scopegate) {
        ratios.push({
          cell: `${transport} c=${c}`,
          rps: load.rps / base.rps,
          p99: load.p99 / base.p99,
          ...(floor ? { nativeRps: load.rps / floor.rps, nativeP99: load.p99 / floor.p99 } : {}),
        });
      }
    }
  }
  const worstRps = ratios.reduce((a, b) => (b.rps < a.rps ? b : a));
  const worstP99 = ratios.reduce((a, b) => (b.p99 > a.p99 ? b : a));
  const list = (f: (r: (typeof ratios)[number]) => number | undefined): string => ratios.map((r) => `${r.cell} ${(f(r) ?? Number.NaN).toFixed(2)}×`).join(", ");
  // The targets are judged against the grpc-js server (same runtime, same library); the native floor is shown beside.
  const nativeText = (f: (r: (typeof ratios)[number]) => number | undefined): string => (native ? `; of the native grpc-go floor: ${list(f)}` : "");
  for (const o of oneInFlight) {
    ctx.targets.push(
      judged({
        name: `cached Check at one in flight over ${o.transport === "tcp" ? "TCP" : "the unix socket"} (issue 15)`,
        goal: "≥ 0.9× the trivial grpc-js server's throughput",
        measured: `scopegate ÷ trivial req/s${o.ofPeers}${o.steal}`,
        values: o.values,
        limit: 0.9,
        unit: "×",
        atLeast: true,
      }),
    );
  }
  ctx.targets.push(
    {
      name: "cached Check throughput",
      goal: "≥ 0.9× the trivial server's, every cell",
      measured: `${list((r) => r.rps)}${nativeText((r) => r.nativeRps)}`,
      met: worstRps.rps >= 0.9,
      verdict: worstRps.rps >= 0.9 ? "met" : `missed: worst ${worstRps.cell} at ${worstRps.rps.toFixed(2)}×, ${((0.9 - worstRps.rps) * 100).toFixed(0)} points short`,
    },
    {
      name: "cached Check p99",
      goal: "≤ 1.2× the trivial server's p99, every cell",
      measured: `${list((r) => r.p99)}${nativeText((r) => r.nativeP99)}`,
      met: worstP99.p99 <= 1.2,
      verdict: worstP99.p99 <= 1.2 ? "met" : `missed: worst ${worstP99.cell} at ${worstP99.p99.toFixed(2)}×, ${((worstP99.p99 / 1.2 - 1) * 100).toFixed(0)} % over`,
    },
  );
}
