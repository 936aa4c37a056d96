// The tail phase's --tail-variants files (scripts/bench/tail-variants/): every committed file is one the bench
// accepts, and a file that names something other than node flags stops the run with the reason instead of
// starting processes with it.
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readTailVariants } from "../../scripts/bench/tail-variants.js";
import { repoRoot } from "../support/tools.js";

const committed = join(repoRoot, "scripts/bench/tail-variants");
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "scopegate-tail-variants-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(name: string, content: unknown): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, typeof content === "string" ? content : JSON.stringify(content));
  return file;
}

describe("--tail-variants files", () => {
  it("accepts every committed variant file, each process with its own flags", async () => {
    const files = (await readdir(committed)).filter((f) => f.endsWith(".json"));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const variants = await readTailVariants(join(committed, f));
      expect(variants.length).toBeGreaterThan(0);
      for (const v of variants) for (const flag of v.nodeFlags) expect(flag).toMatch(/^--/);
    }
  });

  it("keeps renewStreamTableEvery where a variant sets it", async () => {
    const file = await write("renew.json", [
      { name: "never", nodeFlags: [], renewStreamTableEvery: 0 },
      { name: "shipped", nodeFlags: [] },
    ]);
    expect(await readTailVariants(file)).toEqual([
      { name: "never", nodeFlags: [], renewStreamTableEvery: 0 },
      { name: "shipped", nodeFlags: [] },
    ]);
  });

  it("keeps the names and flags as written", async () => {
    const file = await write("ok.json", [{ name: "shipped", nodeFlags: ["--max-old-space-size=128", "--no-incremental-marking"] }]);
    expect(await readTailVariants(file)).toEqual([{ name: "shipped", nodeFlags: ["--max-old-space-size=128", "--no-incremental-marking"] }]);
  });

  it.each([
    ["a flag with a space in it", [{ name: "x", nodeFlags: ["--max-old-space-size=128 --inspect"] }], "nodeFlags.0"],
    ["something that is not a flag", [{ name: "x", nodeFlags: ["dist/other.js"] }], "nodeFlags.0"],
    ["an unknown key", [{ name: "x", nodeFlags: [], env: { A: "1" } }], "env"],
    ["no variant at all", [], "too small"],
    ["a missing name", [{ nodeFlags: [] }], "name"],
    ["a file that is not JSON", "not json", "JSON"],
    ["a negative renewStreamTableEvery", [{ name: "x", nodeFlags: [], renewStreamTableEvery: -1 }], "renewStreamTableEvery"],
    [
      "two names that would share a process name",
      [
        { name: "as shipped, stream table renewed every 64 streams, one", nodeFlags: [] },
        { name: "as shipped, stream table renewed every 64 streams, two", nodeFlags: [] },
      ],
      "share a process name",
    ],
  ])("refuses %s, saying where", async (_what, content, where) => {
    const file = await write("bad.json", content);
    await expect(readTailVariants(file)).rejects.toThrow(new RegExp(`--tail-variants .*${where}`, "i"));
  });
});
