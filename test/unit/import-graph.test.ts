// Nothing imports upward. Every file under src/ (generated code in src/gen excepted) may import from its own layer
// and the layers below it, never from one above: a lower layer speaks its own error codes and the authorizer maps
// them to deny reasons (src/authz/layer-errors.ts), so no layer below authz needs anything from it.
// docs/architecture.md "Layers and their errors" draws the same order.
//
// Type-only imports count too: they are a dependency of the design even if the compiler erases them.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../support/tools.js";

/**
 * The layers, lowest first. An entry is a folder or a file under src/; the longest entry that contains a file
 * names its layer (so one file could sit apart from its folder, if ever it must). Entries on one line are one
 * layer and may import each other.
 */
const LAYERS: readonly (readonly string[])[] = [
  ["util"], //          abort, deadline and backoff helpers: imports nothing of ours
  ["runtime"], //       V8 settings the entry points apply before anything else runs: imports nothing of ours
  ["gen"], //           generated protobuf code only
  // What a secret is (credentials that cannot serialise, a tenant's record) and the SecretStore port: plain types
  // an identity-provider profile may name, below the config that the store adapters read.
  ["secrets/credentials.ts", "secrets/secret-store.ts"],
  ["profiles"], //      what an identity provider is (environments, its token exchange, its routes)
  ["config"], //        one schema, parsed once
  ["secrets"], //       the SecretStore adapters (Vault, file) and the cache in front of them
  ["tenants"], //       tenant id, caller binding, the registry
  ["tokens"], //        token endpoint and the token source (cache, provider)
  ["budget"], //        the per-tenant request budget: window arithmetic, leases, the BudgetStore port and adapters
  ["gateway"], //       gateway tokens scopegate issues itself
  ["authz"], //         the decision: maps every lower layer's codes to deny reasons
  ["egress"], //        renders the shipped Envoy egress config
  ["fleet"], //         what replicas share through Redis: the connection, the token store adapter
  ["observability"], // logger, metrics, the decision log line
  ["server"], //        grpc-js and HTTP listeners
  ["app", "app.ts", "probe.ts"], // wiring of one process
  ["cluster"], //       the primary and its workers, built on the app
  ["main.ts"], //       the command line
];

const SRC = join(repoRoot, "src");

export interface Edge {
  readonly from: string;
  readonly to: string;
}

/** Every relative specifier a TypeScript source imports or re-exports (static, side-effect and dynamic). */
export function relativeImports(source: string): string[] {
  const found: string[] = [];
  const patterns = [
    /\b(?:import|export)\s[^;'"]*?\sfrom\s*["']([^"']+)["']/g, // import x from "…", export { x } from "…"
    /\bimport\s*["']([^"']+)["']/g, // import "…"
    /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g, // import("…")
  ];
  for (const p of patterns) for (const m of source.matchAll(p)) if (m[1]!.startsWith(".")) found.push(m[1]!);
  return found;
}

/** The layer index of a path relative to src/ (posix separators), or undefined when no entry holds it. */
export function layerOf(path: string, layers: readonly (readonly string[])[] = LAYERS): number | undefined {
  let best: { index: number; length: number } | undefined;
  layers.forEach((entries, index) => {
    for (const entry of entries) {
      if ((path === entry || path.startsWith(`${entry}/`)) && (best === undefined || entry.length > best.length)) best = { index, length: entry.length };
    }
  });
  return best?.index;
}

/** The edges that point upward, as "from -> to (layer a -> layer b)" lines. */
export function upwardEdges(edges: readonly Edge[], layers: readonly (readonly string[])[] = LAYERS): string[] {
  const name = (i: number): string => layers[i]!.join(", ");
  const bad: string[] = [];
  for (const { from, to } of edges) {
    const a = layerOf(from, layers);
    const b = layerOf(to, layers);
    if (a !== undefined && b !== undefined && b > a) bad.push(`${from} -> ${to} (${name(a)} -> ${name(b)})`);
  }
  return bad;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [path] : [];
  });
}

function srcPath(abs: string): string {
  return relative(SRC, abs).split("\\").join("/");
}

/** src/ files with their imports resolved to src-relative .ts paths (the ESM ".js" suffix names the .ts file). */
function importGraph(): { files: string[]; edges: Edge[] } {
  const files = sourceFiles(SRC).filter((f) => !srcPath(f).startsWith("gen/"));
  const edges: Edge[] = [];
  for (const file of files) {
    for (const spec of relativeImports(readFileSync(file, "utf8"))) {
      const target = resolve(dirname(file), spec.replace(/\.js$/, ".ts"));
      edges.push({ from: srcPath(file), to: srcPath(target) });
    }
  }
  return { files: files.map(srcPath), edges };
}

describe("import graph", () => {
  const { files, edges } = importGraph();

  it("every source file and every import target has a layer", () => {
    const unplaced = [...new Set([...files, ...edges.map((e) => e.to)])].filter((p) => layerOf(p) === undefined);
    expect(unplaced, "add the folder or file to LAYERS in test/unit/import-graph.test.ts").toEqual([]);
    expect(edges.length).toBeGreaterThan(100); // the reader finds the imports at all
  });

  it("no file imports from a layer above its own", () => {
    expect(upwardEdges(edges)).toEqual([]);
  });

  it("relative imports of every form resolve to src files that exist", () => {
    const known = new Set([...files, ...sourceFiles(join(SRC, "gen")).map(srcPath)]);
    expect(edges.filter((e) => !known.has(e.to)).map((e) => `${e.from} -> ${e.to}`)).toEqual([]);
  });

  it("the checker reports an upward import and accepts a downward or same-layer one", () => {
    const layers = [["util"], ["tenants"], ["authz", "x.ts"]];
    const src = [
      'import { a } from "../authz/deny-reasons.js";',
      'import type { T } from "./tenant.js";',
      'export { b } from "../util/abort.js";',
      'const m = await import("../authz/late.js");',
      'import "../authz/side-effect.js";',
    ].join("\n");
    expect(relativeImports(src)).toEqual(["../authz/deny-reasons.js", "./tenant.js", "../util/abort.js", "../authz/side-effect.js", "../authz/late.js"]);
    const edge = (from: string, to: string): Edge => ({ from, to });
    expect(
      upwardEdges([edge("tenants/a.ts", "authz/deny-reasons.ts"), edge("tenants/a.ts", "util/abort.ts"), edge("authz/b.ts", "x.ts"), edge("tenants/a.ts", "tenants/b.ts")], layers),
    ).toEqual(["tenants/a.ts -> authz/deny-reasons.ts (tenants -> authz, x.ts)"]);
  });
});
