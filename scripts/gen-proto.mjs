// Generates src/gen/ from proto/ with buf + ts-proto. Idempotent; src/gen is git-ignored.
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
rmSync(join(root, "src/gen"), { recursive: true, force: true });
execFileSync(join(root, "node_modules/.bin/buf"), ["generate"], { cwd: root, stdio: "inherit" });
