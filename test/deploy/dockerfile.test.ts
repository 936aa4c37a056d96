/**
 * The Dockerfile without a Docker engine (issue 6): parse it and check what the image relies on.
 *   - build stage: node:24 bookworm-slim, `npm ci` + `npm run build`; deps stage: `npm ci --omit=dev`;
 *     runtime: distroless Node 24 (or node:24-slim), user 65532; every base image pinned by digest;
 *     the application's files owned by root (no --chown to the runtime user);
 *   - everything COPY takes from the build context exists and is not excluded by .dockerignore;
 *   - everything COPY takes from another stage exists here after `npm run build` (stage WORKDIR /app
 *     maps to the repository root), in particular dist/main.js;
 *   - the ENTRYPOINT's script is what the runtime stage copied, and starting it as the ENTRYPOINT does
 *     loads the CLI (it rejects a bad config from SCOPEGATE_CONFIG or --config with exit code 2);
 *   - dist/ imports only production dependencies (the runtime stage has no devDependencies).
 * Tests run after `npm run build` (npm test builds first).
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { join, posix, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../support/tools.js";

interface Instruction {
  op: string;
  args: string;
  line: number;
}

interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Splits a Dockerfile into stages of instructions: comments dropped, `\` continuations joined. */
function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i]!.trim();
    if (line === "" || line.startsWith("#")) continue;
    while (line.endsWith("\\") && i + 1 < lines.length) {
      i++;
      const next = lines[i]!.trim();
      line = line.slice(0, -1).trimEnd() + (next.startsWith("#") ? "" : ` ${next}`);
    }
    const match = /^(\S+)\s*(.*)$/.exec(line)!;
    const ins: Instruction = { op: match[1]!.toUpperCase(), args: match[2]!.trim(), line: start + 1 };
    if (ins.op === "FROM") {
      const [image, as, name] = ins.args.replace(/--platform=\S+\s+/, "").split(/\s+/);
      stages.push({ from: image!, name: as?.toUpperCase() === "AS" ? name : undefined, instructions: [] });
    } else {
      if (stages.length === 0) throw new Error(`line ${ins.line}: ${ins.op} before FROM`);
      stages.at(-1)!.instructions.push(ins);
    }
  }
  return stages;
}

interface Copy {
  from: string | undefined;
  sources: string[];
  dest: string;
  line: number;
}

function copiesOf(stage: Stage): Copy[] {
  return stage.instructions
    .filter((i) => i.op === "COPY" || i.op === "ADD")
    .map((i) => {
      const words = i.args.startsWith("[") ? (JSON.parse(i.args) as string[]) : i.args.split(/\s+/);
      const flags = words.filter((w) => w.startsWith("--"));
      const paths = words.filter((w) => !w.startsWith("--"));
      const from = flags.find((f) => f.startsWith("--from="))?.slice("--from=".length);
      return { from, sources: paths.slice(0, -1), dest: paths.at(-1)!, line: i.line };
    });
}

/** WORKDIR in effect at the end of a stage (absolute). */
function workdirOf(stage: Stage): string {
  return stage.instructions.filter((i) => i.op === "WORKDIR").reduce((dir, i) => posix.resolve(dir, i.args), "/");
}

/** .dockerignore semantics, simplified: last matching pattern wins, `!` re-includes, a match on a parent directory excludes its contents. */
function dockerignored(patterns: string[], path: string): boolean {
  const toRegex = (glob: string): RegExp =>
    new RegExp(
      `^${glob
        .replace(/^\/+|\/+$/g, "")
        .split("")
        .map((ch) => (ch === "*" ? "[^/]*" : ch === "?" ? "[^/]" : ch.replace(/[.+^${}()|[\]\\]/g, "\\$&")))
        .join("")
        .replace(/\[\^\/\]\*\[\^\/\]\*/g, ".*")}$`,
    );
  const parts = path.split("/");
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join("/"));
  let ignored = false;
  for (const raw of patterns) {
    const negate = raw.startsWith("!");
    const re = toRegex(negate ? raw.slice(1) : raw);
    if (prefixes.some((p) => re.test(p))) ignored = !negate;
  }
  return ignored;
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

const dockerfile = readFileSync(join(repoRoot, "Dockerfile"), "utf8");
const stages = parseDockerfile(dockerfile);
const runtime = stages.at(-1)!;
const ignorePatterns = readFileSync(join(repoRoot, ".dockerignore"), "utf8")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l !== "" && !l.startsWith("#"));

const stageNamed = (name: string): Stage => {
  const s = stages.find((x) => x.name === name);
  if (!s) throw new Error(`no stage named ${name}`);
  return s;
};
const runs = (stage: Stage): string[] => stage.instructions.filter((i) => i.op === "RUN").map((i) => i.args);

function entrypoint(): string[] {
  const ins = runtime.instructions.filter((i) => i.op === "ENTRYPOINT").at(-1);
  expect(ins, "ENTRYPOINT in the runtime stage").toBeDefined();
  expect(ins!.args.startsWith("["), "ENTRYPOINT in exec (JSON) form, so signals reach node").toBe(true);
  return JSON.parse(ins!.args) as string[];
}

let scratch = "";
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "scopegate-dockerfile-test-"));
});
afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe("Dockerfile stages", () => {
  it("builds on node:24 bookworm-slim with npm ci and npm run build", () => {
    const build = stageNamed("build");
    expect(build.from).toMatch(/^node:24(\.\d+){0,2}-bookworm-slim@sha256:[0-9a-f]{64}$/);
    expect(runs(build).some((r) => /^npm ci\b/.test(r) && !r.includes("--omit=dev"))).toBe(true);
    expect(runs(build)).toContain("npm run build");
  });

  it("installs production dependencies only for the runtime (npm ci --omit=dev)", () => {
    const sources = copiesOf(runtime).filter((c) => c.sources.some((s) => s.endsWith("node_modules")));
    expect(sources).toHaveLength(1);
    const deps = stageNamed(sources[0]!.from!);
    expect(runs(deps).some((r) => /^npm ci\b/.test(r) && r.includes("--omit=dev"))).toBe(true);
  });

  it("runs on Node 24 distroless (or node:24-slim) as uid 65532", () => {
    expect(runtime.from).toMatch(/^(gcr\.io\/distroless\/nodejs24-debian1[23]|node:24(\.\d+)*-(bookworm-)?slim)([:@]|$)/);
    const user = runtime.instructions.filter((i) => i.op === "USER").at(-1);
    expect(user?.args.split(":")[0]).toBe("65532");
    if (runtime.from.includes("distroless")) {
      // No shell in distroless: a RUN would fail at build time.
      expect(runs(runtime)).toEqual([]);
      expect(entrypoint()[0]).toBe("/nodejs/bin/node");
    }
  });

  it("pins every base image by digest (a tag alone can be moved to other content)", () => {
    const external = stages.filter((s) => !stages.some((o) => o.name === s.from));
    expect(external.length).toBeGreaterThan(0);
    for (const s of external) expect(s.from, `FROM ${s.from}`).toMatch(/^[^@\s]+:[\w.-]+@sha256:[0-9a-f]{64}$/);
  });

  it("leaves the application's files owned by root: the runtime user can read, not rewrite, its code", () => {
    const copies = copiesOf(runtime);
    expect(copies.length).toBeGreaterThan(0);
    for (const c of copies) {
      const ins = runtime.instructions.find((i) => i.line === c.line)!;
      const chown = /--chown=(\S+)/.exec(ins.args)?.[1];
      expect(chown === undefined || /^(0|root)(:(0|root))?$/.test(chown), `line ${c.line}: --chown=${chown}`).toBe(true);
      expect(ins.args, `line ${c.line}: --chmod`).not.toMatch(/--chmod=/);
    }
    // USER comes after the COPYs, so nothing was created as 65532 either.
    const userLine = runtime.instructions.filter((i) => i.op === "USER").at(-1)!.line;
    expect(Math.max(...copies.map((c) => c.line))).toBeLessThan(userLine);
  });

  it("copies from the build context only files that exist and are not in .dockerignore", () => {
    const fromContext = stages.flatMap((s) => copiesOf(s).filter((c) => c.from === undefined));
    expect(fromContext.length).toBeGreaterThan(0);
    for (const c of fromContext) {
      for (const src of c.sources) {
        expect(existsSync(join(repoRoot, src)), `line ${c.line}: ${src} exists`).toBe(true);
        expect(dockerignored(ignorePatterns, posix.normalize(src)), `line ${c.line}: ${src} not in .dockerignore`).toBe(false);
      }
    }
  });

  it("keeps local build output, dependencies, tools and VCS data out of the build context", () => {
    for (const path of ["node_modules", "dist/main.js", "src/gen/envoy", ".tools/py", ".git/HEAD"]) {
      expect(dockerignored(ignorePatterns, path), path).toBe(true);
    }
    for (const path of ["package.json", "package-lock.json", "src/main.ts", "proto/envoy", "scripts/gen-proto.mjs"]) {
      expect(dockerignored(ignorePatterns, path), path).toBe(false);
    }
  });

  it("copies from other stages only what exists after npm run build (stage /app = repository root)", () => {
    expect(existsSync(join(repoRoot, "dist/main.js")), "dist/main.js missing: run `npm run build` first").toBe(true);
    const fromStages = stages.flatMap((s) => copiesOf(s).filter((c) => c.from !== undefined));
    expect(fromStages.length).toBeGreaterThan(0);
    for (const c of fromStages) {
      const stage = stageNamed(c.from!);
      expect(workdirOf(stage)).toBe("/app");
      for (const src of c.sources) {
        const inRepo = posix.relative("/app", posix.resolve(workdirOf(stage), src));
        expect(inRepo.startsWith(".."), `line ${c.line}: ${src} is under /app`).toBe(false);
        expect(existsSync(join(repoRoot, inRepo)), `line ${c.line}: ${src} (${inRepo}) exists after the build`).toBe(true);
      }
    }
  });

  it("copies package.json into the runtime (its \"type\": \"module\" makes dist/*.js ES modules)", () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { type?: string };
    expect(pkg.type).toBe("module");
    expect(copiesOf(runtime).some((c) => c.sources.includes("package.json"))).toBe(true);
  });
});

describe("Dockerfile ENTRYPOINT", () => {
  it("runs `<node> dist/main.js serve`, a script the runtime stage copied from the build output", () => {
    const [, script, command] = entrypoint();
    expect(command).toBe("serve");
    const inImage = posix.resolve(workdirOf(runtime), script!);
    const provider = copiesOf(runtime).find((c) => inImage === posix.resolve(workdirOf(runtime), c.dest) || inImage.startsWith(`${posix.resolve(workdirOf(runtime), c.dest)}/`));
    expect(provider, `a COPY provides ${inImage}`).toBeDefined();
    expect(existsSync(join(repoRoot, posix.relative("/app", inImage))), `${inImage} exists after npm run build`).toBe(true);
  });

  it("sets SCOPEGATE_CONFIG to the path the Kubernetes manifests mount", () => {
    const env = runtime.instructions.filter((i) => i.op === "ENV").map((i) => i.args).join(" ");
    expect(env).toMatch(/SCOPEGATE_CONFIG=\/etc\/scopegate\/config\.yaml\b/);
  });

  /** Runs the ENTRYPOINT (with this Node for /nodejs/bin/node, the repository as /app) plus `extra` args. */
  function runEntrypoint(extra: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
    const [, ...args] = entrypoint();
    return new Promise((resolvePromise) => {
      execFile(
        process.execPath,
        [...args, ...extra],
        { cwd: repoRoot, timeout: 30_000, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", NODE_ENV: "production", ...env } },
        (err, stdout, stderr) => {
          const code = err ? ((err as { code?: number | string }).code as number | null) : 0;
          resolvePromise({ code: typeof code === "number" ? code : null, output: stdout + stderr });
        },
      );
    });
  }

  it("starts the CLI, which reads the config from SCOPEGATE_CONFIG and rejects a bad one (exit 2)", async () => {
    const bad = join(scratch, "bad-config.yaml");
    await writeFile(bad, "tenants: 5\nsecrets: {backend: vault}\n");
    const { code, output } = await runEntrypoint([], { SCOPEGATE_CONFIG: bad });
    expect(code, output).toBe(2);
    expect(output).toContain(bad);
  });

  it("takes --config appended as container args", async () => {
    const bad = join(scratch, "bad-config-arg.yaml");
    await writeFile(bad, "listen: {tcp: nope}\n");
    const { code, output } = await runEntrypoint(["--config", bad], { SCOPEGATE_CONFIG: join(scratch, "unused.yaml") });
    expect(code, output).toBe(2);
    expect(output).toContain(bad);
  });
});

describe("runtime dependencies", () => {
  it("dist/ imports only Node built-ins and production dependencies", () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    const allowed = new Set(Object.keys(pkg.dependencies));
    const builtins = new Set(builtinModules);
    const files = walk(join(repoRoot, "dist")).filter((f) => f.endsWith(".js"));
    expect(files.length).toBeGreaterThan(0);
    const offenders: string[] = [];
    const specifier = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)["']([^"']+)["']/g;
    for (const file of files) {
      for (const m of readFileSync(file, "utf8").matchAll(specifier)) {
        const spec = m[1]!;
        if (spec.startsWith(".") || spec.startsWith("/") || spec.startsWith("node:") || builtins.has(spec)) continue;
        const name = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!;
        if (!allowed.has(name)) offenders.push(`${relative(repoRoot, file)}: ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
