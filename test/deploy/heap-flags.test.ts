/**
 * The V8 heap limits are set in three places: the Dockerfile's NODE_OPTIONS, the Kubernetes manifests'
 * NODE_OPTIONS (which replaces the image's), and the benchmark's bounded-heap memory row. The bench must
 * measure what ships, so all three carry the same flags.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { BOUNDED_HEAP, SHIPPED_ENV } from "../../scripts/bench/phase-memory.js";
import { repoRoot } from "../support/tools.js";

const heapFlags = (nodeOptions: string): string[] => nodeOptions.split(/\s+/).filter((f) => /^--max-(old|semi)-space-size=/.test(f)).sort();

function manifestNodeOptions(file: string): string[] {
  const values: string[] = [];
  for (const doc of YAML.parseAllDocuments(readFileSync(join(repoRoot, file), "utf8"))) {
    const containers = (doc.toJS() as { spec?: { template?: { spec?: { containers?: { name: string; env?: { name: string; value?: string }[] }[] } } } })
      ?.spec?.template?.spec?.containers ?? [];
    for (const c of containers) for (const e of c.env ?? []) if (c.name === "scopegate" && e.name === "NODE_OPTIONS") values.push(e.value ?? "");
  }
  return values;
}

describe("heap flags", () => {
  const bench = [...BOUNDED_HEAP].sort();

  it("the Dockerfile ships the flags the bench measures", () => {
    const m = /NODE_OPTIONS="([^"]*)"/.exec(readFileSync(join(repoRoot, "Dockerfile"), "utf8"));
    expect(m).not.toBeNull();
    expect(heapFlags(m![1]!)).toEqual(bench);
  });

  it("the Dockerfile sets the environment the bench's memory row runs with", () => {
    const dockerfile = readFileSync(join(repoRoot, "Dockerfile"), "utf8");
    for (const [k, v] of Object.entries(SHIPPED_ENV)) expect(dockerfile).toMatch(new RegExp(`^\\s*${k}=${v} \\\\$`, "m"));
  });

  it.each(["deploy/kubernetes/base/deployment.yaml", "deploy/kubernetes/overlays/shared-service/scopegate-deployment.yaml"])(
    "%s sets the same flags",
    (file) => {
      const values = manifestNodeOptions(file);
      expect(values.length).toBeGreaterThan(0);
      for (const v of values) expect(heapFlags(v)).toEqual(bench);
    },
  );
});
