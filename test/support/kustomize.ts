// `kustomize build` with the pinned kustomize that scripts/install-tools.sh puts in .tools/bin.
import { execFileSync } from "node:child_process";
import { relative } from "node:path";
import { parseAllDocuments } from "yaml";
import { repoRoot, toolPath } from "./tools.js";

const cache = new Map<string, unknown[]>();

/** The documents `kustomize build <dir>` prints, parsed (a fresh copy per call; the build runs once per dir). */
export function kustomizeBuild(dir: string): unknown[] {
  let docs = cache.get(dir);
  if (!docs) {
    const where = relative(repoRoot, dir);
    let out: string;
    try {
      out = execFileSync(toolPath("kustomize"), ["build", dir], { encoding: "utf8", timeout: 60_000, stdio: ["ignore", "pipe", "pipe"] });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`kustomize build ${where} failed:\n${e.stderr || e.message}`);
    }
    docs = parseAllDocuments(out).map((doc, i) => {
      if (doc.errors.length > 0) throw new Error(`kustomize build ${where} document ${i + 1}: ${doc.errors[0]!.message}`);
      return doc.toJS() as unknown;
    });
    cache.set(dir, docs);
  }
  return structuredClone(docs);
}
