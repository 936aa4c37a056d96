// What every phase of a run shares: the plan (full or smoke), the temp folder, the world (stand-in + OpenBao),
// the hot tenants and their requests, and where rows, targets and notes are collected.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { checkRequestFor, countDelimited, encodeCheckRequest, requestSpecs } from "./check-requests.js";
import type { Row, Target } from "./report.js";
import type { World } from "./world.js";

export interface Plan {
  readonly mode: "full" | "smoke";
  /** Seconds per measured load run, and interleaved rounds per row (the median is reported). */
  readonly loadS: number;
  readonly rounds: number;
  readonly warmS: number;
  readonly concurrencies: readonly number[];
  readonly envoyS: number;
  readonly fixedS: number;
  readonly fixedRate: number;
  /** Rotated repetitions of each through-Envoy fixed-rate row (medians and spread reported), and of the tail rows. */
  readonly fixedReps: number;
  readonly tailS: number;
  /**
   * Seconds of load at the fixed rate before a tail process's first window. With a 3 s warm-up V8 compiled
   * scopegate's hot functions with TurboFan 30–38 s into the process's life, partway through its first 15 s window
   * (the V8 log of tail-variants/deopt-log.json, 2026-12-03): that window partly ran Maglev's code.
   */
  readonly tailWarmS: number;
  readonly tailReps: number;
  readonly coldFirst: number;
  readonly burstTenants: number;
  readonly burstRequests: number;
  readonly memTenants: number;
  readonly steadyS: number;
  readonly steadyRate: number;
  readonly clusterWorkers: number;
  readonly profileS: number;
  /** The onset phase: seconds of load per fresh process, and pairs of processes (as shipped, pretenuring on). */
  readonly onsetS: number;
  readonly onsetPairs: number;
}

export const FULL: Plan = {
  mode: "full",
  loadS: 5,
  rounds: 3,
  warmS: 3,
  concurrencies: [1, 16, 64],
  envoyS: 5,
  fixedS: 10,
  fixedRate: 1000,
  fixedReps: 5,
  tailS: 15,
  tailWarmS: 20,
  tailReps: 3,
  coldFirst: 20,
  burstTenants: 100,
  burstRequests: 1000,
  memTenants: 10_000,
  steadyS: 120,
  steadyRate: 2000,
  clusterWorkers: 2,
  profileS: 10,
  onsetS: 30,
  onsetPairs: 4,
};

/** Seconds, not minutes: proves the harness works; the burst keeps its real size (its count is asserted). */
export const SMOKE: Plan = {
  mode: "smoke",
  loadS: 1,
  rounds: 1,
  warmS: 1,
  concurrencies: [16],
  envoyS: 1,
  fixedS: 2,
  fixedRate: 1000,
  fixedReps: 1,
  tailS: 2,
  tailWarmS: 1,
  tailReps: 1,
  coldFirst: 3,
  burstTenants: 100,
  burstRequests: 1000,
  memTenants: 200,
  steadyS: 3,
  steadyRate: 1000,
  clusterWorkers: 2,
  profileS: 1,
  onsetS: 2,
  onsetPairs: 1,
};

export interface Context {
  readonly plan: Plan;
  readonly dir: string;
  readonly world: World;
  /** ghz needs the Check method's descriptors: `buf build -o` of proto/ (imports included). */
  readonly protoset: string;
  readonly hot: readonly string[];
  /** Encoded CheckRequests over the hot tenants, and the same as a ghz --binary-file. */
  readonly hotRequests: readonly Buffer[];
  readonly hotDataFile: string;
  readonly rows: Row[];
  readonly targets: Target[];
  readonly notes: string[];
  /** Stand-in token requests while only cached tenants were under load (must stay 0). */
  hotPathTokenRequests: number;
}

/** Requests rotating over `tenants` and the routes; ghz sends them round-robin. */
export async function writeRequests(dir: string, name: string, tenants: readonly string[], count: number): Promise<{ requests: Buffer[]; file: string }> {
  const requests = requestSpecs(tenants, count).map((s, i) => encodeCheckRequest(checkRequestFor(s, i)));
  const file = join(dir, `${name}.bin`);
  await writeFile(file, countDelimited(requests));
  return { requests, file };
}

export const sleepMs = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
