// The tail phase's --tail-variants file: the scopegate processes to run beside the trivial server, each a name for
// its row, the node flags it runs with and, optionally, listen.renewStreamTableEvery. Checked before anything starts.
import { readFile } from "node:fs/promises";
import { z } from "zod";

/** A scopegate process for the tail phase: a name for its row, the node flags it runs with (the shipped env) and the config's stream table renewal (as shipped when absent). */
export interface TailVariant {
  readonly name: string;
  readonly nodeFlags: readonly string[];
  readonly renewStreamTableEvery?: number | undefined;
}

/** One node or V8 flag, --name or --name=value (the A/B phase's +flags: take the same). */
export const NODE_FLAG = /^--[a-z0-9_-]+(=\S+)?$/;

const TailVariants = z
  .array(
    z
      .object({
        name: z.string().min(1).max(80),
        nodeFlags: z.array(z.string().regex(NODE_FLAG, "a node or V8 flag, --name or --name=value")),
        renewStreamTableEvery: z.number().int().nonnegative().optional(),
      })
      .strict(),
  )
  .min(1)
  .max(8)
  .refine((vs) => new Set(vs.map((v) => tailProcessName(v.name))).size === vs.length, "two names share a process name (their first 43 letters and digits): the processes would share a socket and config file");

/** The process (and file) name a tail subject runs under. */
export function tailProcessName(name: string): string {
  return `tail-${name.replace(/[^a-z0-9]+/gi, "-").toLowerCase()}`.slice(0, 48);
}

/** Reads a --tail-variants file; a file that cannot be read or does not say what it should fails with the reason. */
export async function readTailVariants(file: string): Promise<readonly TailVariant[]> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, "utf8"));
  } catch (err) {
    throw new Error(`--tail-variants ${file}: ${(err as Error).message}`);
  }
  const parsed = TailVariants.safeParse(json);
  if (!parsed.success) throw new Error(`--tail-variants ${file}: ${parsed.error.issues.map((i) => `${i.path.join(".") || "the list"}: ${i.message}`).join("; ")}`);
  return parsed.data;
}
