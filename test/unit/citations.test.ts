// Every source the project cites must be one a reader of the project can open: a public URL, an Envoy or
// Istio issue, an SDK or proto file, an RFC section, or a page under docs/ (docs/genesys-facts.md collects
// the Genesys Cloud facts with their sources). This fails when a file points at team-internal notes instead:
// a shared notes folder, "reference <section>" or "reference <name>.md", or a bare section sign that is not
// the section of a named public standard.
//
// The patterns are assembled from pieces (and the section sign written as an escape) so that this file does
// not match them itself.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../support/tools.js";

const SECTION = "\u00a7";

/** Where the project's own text lives. */
const ROOTS = ["src", "docs", "test", "scripts", "deploy", "README.md"];

const SKIP_DIRS = new Set(["node_modules", "dist", "coverage"]);

/** Named public standards whose own sections may be cited with the section sign (next to a link to them). */
const SECTION_SOURCES = [/RFC \d+,? $/, /SPIFFE-ID standard $/, /HTML 4\.01 $/];

const FORBIDDEN: ReadonlyArray<readonly [what: string, pattern: RegExp]> = [
  ["a shared notes folder", new RegExp(["\\.\\.", "shared"].join("/"))],
  ["a shared notes folder", new RegExp(["", "work", "shared"].join("/"))],
  ["a team-note section", new RegExp(`\\breference ${SECTION}`, "i")],
  ["a team-note file", new RegExp(`\\breference [a-z0-9-]+\\.${"md"}\\b`, "i")],
  ["a team-note file", new RegExp(["envoy-ext-authz", "genesys-cloud", "egress"].map((n) => `\\b${n}\\.md\\b`).join("|"))],
];

interface Finding {
  readonly line: number;
  readonly what: string;
  readonly text: string;
}

/** Citations in `text` a reader of the project cannot open. */
function uncitable(text: string): Finding[] {
  const findings: Finding[] = [];
  text.split("\n").forEach((line, i) => {
    const whats = new Set(FORBIDDEN.filter(([, pattern]) => pattern.test(line)).map(([what]) => what));
    for (let at = line.indexOf(SECTION); at !== -1; at = line.indexOf(SECTION, at + 1)) {
      if (!SECTION_SOURCES.some((source) => source.test(line.slice(0, at)))) {
        whats.add("a section sign not preceded by a named public standard");
      }
    }
    for (const what of whats) findings.push({ line: i + 1, what, text: line.trim() });
  });
  return findings;
}

function projectFiles(): string[] {
  const files: string[] = [];
  const visit = (path: string): void => {
    const rel = relative(repoRoot, path).split("\\").join("/");
    if (statSync(path).isDirectory()) {
      for (const name of readdirSync(path)) if (!SKIP_DIRS.has(name)) visit(join(path, name));
    } else {
      files.push(rel);
    }
  };
  for (const root of ROOTS) visit(join(repoRoot, root));
  return files;
}

describe("citations", () => {
  it("flags team-note citations and accepts sections of named standards", () => {
    const flagged = [
      `see ${["..", "shared", "reference"].join("/")}`,
      `notes in ${["", "work", "shared", "x"].join("/")}`,
      `(reference ${SECTION}3.1)`,
      `(Reference genesys-cloud.${"md"} 1.5)`,
      `(envoy-ext-authz.${"md"})`,
      `filter on list operations (${SECTION}3.2)`,
      `pitfall 1, ${SECTION}6`,
    ];
    for (const text of flagged) expect(uncitable(text), text).not.toEqual([]);
    const accepted = [
      `RFC 6749 ${SECTION}2.3.1: client_id and client_secret`,
      `([RFC 3986 ${SECTION}3.3](https://www.rfc-editor.org/rfc/rfc3986#section-3.3))`,
      `[SPIFFE-ID standard ${SECTION}2.1](https://github.com/spiffe/spiffe/blob/main/standards/SPIFFE-ID.md)`,
      "an API reference in docs/genesys-facts.md",
    ];
    for (const text of accepted) expect(uncitable(text), text).toEqual([]);
  });

  it("finds none in src/, docs/, test/, scripts/, deploy/ and README.md", () => {
    const files = projectFiles();
    expect(files).toContain("README.md");
    expect(files).toContain("docs/genesys-facts.md");
    expect(files).toContain("test/unit/citations.test.ts");
    const findings = files.flatMap((file) =>
      uncitable(readFileSync(join(repoRoot, file), "utf8")).map((f) => `${file}:${f.line}: ${f.what}: ${f.text}`),
    );
    expect(findings).toEqual([]);
  });
});
