// Reads a V8 .cpuprofile (node --cpu-prof) and says where the time went: self time per function and per
// package/module, the share spent in scopegate's own code, GC and idle.
import { readFile } from "node:fs/promises";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileLine {
  readonly name: string;
  readonly percent: number;
  /** Self time in microseconds (CPU profiles) or bytes (heap profiles). */
  readonly amount: number;
}

export interface ProfileSummary {
  /** Share of non-idle samples per function (self time), largest first. */
  readonly functions: readonly ProfileLine[];
  /** Share of non-idle samples per module group (src/<folder>, node_modules/<pkg>, node:internal, gc, …). */
  readonly groups: readonly ProfileLine[];
  /** Share of all samples spent idle (the event loop waiting): how far from CPU-bound the process was. */
  readonly idlePercent: number;
  /** Non-idle time in the profile, microseconds. */
  readonly busyUs: number;
  /** Self time of scopegate's own functions (dist/), largest first. */
  readonly ownFunctions: readonly ProfileLine[];
}

export async function summariseProfile(file: string, top = 15): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));

  let idle = 0;
  let busy = 0;
  const fn = new Map<string, number>();
  const own = new Map<string, number>();
  const group = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === "(idle)") {
      idle += us;
      continue;
    }
    busy += us;
    const where = shortUrl(frame.url);
    const name = `${frame.functionName || "(anonymous)"} ${where ? `${where}:${frame.lineNumber + 1}` : ""}`.trim();
    fn.set(name, (fn.get(name) ?? 0) + us);
    if (frame.url.includes("/dist/")) own.set(name, (own.get(name) ?? 0) + us);
    const g = groupOf(frame.functionName, frame.url);
    group.set(g, (group.get(g) ?? 0) + us);
  }
  const lines = (m: Map<string, number>, n: number): ProfileLine[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, percent: (100 * us) / Math.max(1, busy), amount: us }));
  return { functions: lines(fn, top), groups: lines(group, 40), idlePercent: (100 * idle) / Math.max(1, idle + busy), busyUs: busy, ownFunctions: lines(own, top) };
}

function shortUrl(url: string): string {
  if (url === "") return "";
  const nm = url.lastIndexOf("node_modules/");
  if (nm !== -1) return url.slice(nm + "node_modules/".length);
  const dist = url.lastIndexOf("/dist/");
  if (dist !== -1) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, "");
}

function groupOf(functionName: string, url: string): string {
  if (functionName === "(garbage collector)") return "gc";
  if (functionName === "(program)") return "(program: native, not attributed)";
  if (url === "") return "native/builtin";
  if (url.startsWith("node:")) return `node:${url.slice(5).split("/")[0] === "internal" ? url.slice(5).split("/").slice(0, 2).join("/") : url.slice(5)}`;
  const nm = url.lastIndexOf("node_modules/");
  if (nm !== -1) {
    const rest = url.slice(nm + "node_modules/".length).split("/");
    return rest[0]!.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const dist = url.lastIndexOf("/dist/");
  if (dist !== -1) {
    const parts = url.slice(dist + 6).split("/");
    return `scopegate ${parts.length > 1 ? parts[0] : parts[0]!.replace(/\.js$/, "")}`;
  }
  return url;
}

interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapNode[];
}

export interface HeapSummary {
  /** Sampled bytes in the profile (V8 scales samples to an estimate of all bytes allocated by each stack). */
  readonly bytes: number;
  /** Share of the bytes per allocating function (the stack's leaf), largest first. */
  readonly functions: readonly ProfileLine[];
  /** Share per the innermost frame of scopegate's own code on the allocating stack ("(no scopegate frame)" when none). */
  readonly scopegateFrames: readonly ProfileLine[];
}

/** A sampling heap profile (HeapProfiler.stopSampling, scripts/bench/survivor-probe.mjs): who allocated the bytes. */
export async function summariseHeapProfile(file: string, top = 10): Promise<HeapSummary> {
  const { profile } = JSON.parse(await readFile(file, "utf8")) as { profile: { head: HeapNode } };
  const leaf = new Map<string, number>();
  const own = new Map<string, number>();
  let bytes = 0;
  const nameOf = (f: HeapNode["callFrame"]): string => {
    const where = shortUrl(f.url);
    return `${f.functionName || "(anonymous)"} ${where ? `${where}:${f.lineNumber + 1}` : ""}`.trim();
  };
  const walk = (n: HeapNode, ownFrame: string | undefined): void => {
    const mine = n.callFrame.url.includes("/dist/") ? nameOf(n.callFrame) : ownFrame;
    if (n.selfSize > 0) {
      bytes += n.selfSize;
      const name = nameOf(n.callFrame);
      leaf.set(name, (leaf.get(name) ?? 0) + n.selfSize);
      const o = mine ?? "(no scopegate frame)";
      own.set(o, (own.get(o) ?? 0) + n.selfSize);
    }
    for (const c of n.children) walk(c, mine);
  };
  walk(profile.head, undefined);
  const lines = (m: Map<string, number>): ProfileLine[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, b]) => ({ name, percent: (100 * b) / Math.max(1, bytes), amount: b }));
  return { bytes, functions: lines(leaf), scopegateFrames: lines(own) };
}
