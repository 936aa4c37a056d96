/**
 * The V8 heap limits are set in three places: the Dockerfile's NODE_OPTIONS, the Kubernetes manifests'
 * NODE_OPTIONS (which replaces the image's), and the benchmark's bounded-heap memory row. The bench must
 * measure what ships, so all three carry the same flags. The manifests are read as kustomize renders them.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BOUNDED_HEAP, K8S_MEMORY, SHIPPED_ENV } from "../../scripts/bench/phase-memory.js";
import { kustomizeBuild } from "../support/kustomize.js";
import { repoRoot } from "../support/tools.js";

const heapFlags = (nodeOptions: string): string[] => nodeOptions.split(/\s+/).filter((f) => /^--max-(old|semi)-space-size=/.test(f)).sort();

type Container = { name: string; env?: { name: string; value?: string }[]; resources?: { requests?: { memory?: string }; limits?: { memory?: string } } };

/** Every scopegate container (init or regular) in a rendered layout. */
function scopegateContainers(layout: string): Container[] {
  const found: Container[] = [];
  for (const doc of kustomizeBuild(join(repoRoot, layout))) {
    const pod = (doc as { spec?: { template?: { spec?: { containers?: Container[]; initContainers?: Container[] } } } })?.spec?.template?.spec;
    for (const c of [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])]) if (c.name === "scopegate") found.push(c);
  }
  return found;
}

/** NODE_OPTIONS of every scopegate container (init or regular) in a rendered layout. */
function manifestNodeOptions(layout: string): string[] {
  const values: string[] = [];
  for (const doc of kustomizeBuild(join(repoRoot, layout))) {
    const pod = (doc as { spec?: { template?: { spec?: { containers?: Container[]; initContainers?: Container[] } } } })?.spec?.template?.spec;
    for (const c of [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])]) {
      for (const e of c.env ?? []) if (c.name === "scopegate" && e.name === "NODE_OPTIONS") values.push(e.value ?? "");
    }
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

  it.each(["deploy/kubernetes/base", "deploy/kubernetes/overlays/shared-gateway", "deploy/istio/egress-gateway"])(
    "%s sets the same flags",
    (layout) => {
      const values = manifestNodeOptions(layout);
      expect(values.length).toBeGreaterThan(0);
      for (const v of values) expect(heapFlags(v)).toEqual(bench);
    },
  );

  // The bench's "RSS under load, as shipped" row prints these next to the RSS it measured.
  it.each(["deploy/kubernetes/base", "deploy/kubernetes/overlays/shared-gateway"])("%s requests and limits the memory the bench row names", (layout) => {
    const containers = scopegateContainers(layout);
    expect(containers.length).toBeGreaterThan(0);
    for (const c of containers) {
      expect(c.resources?.requests?.memory).toBe(K8S_MEMORY.request);
      expect(c.resources?.limits?.memory).toBe(K8S_MEMORY.limit);
    }
  });
});
