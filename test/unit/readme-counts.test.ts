// README's bad-input counts are generated (npm run count:bad-input -- --write): this fails when a test was
// added or removed and README was not regenerated.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { block, countLines, listTests } from "../../scripts/count-bad-input.js";
import { repoRoot } from "../support/tools.js";

describe("README bad-input counts", () => {
  it("are what npm run count:bad-input prints", async () => {
    const readme = await readFile(join(repoRoot, "README.md"), "utf8");
    expect(readme).toContain(block(countLines(listTests())));
  });
});
