// Runs the small SDK apps in test/support/sdk-apps/ (official Genesys Cloud SDKs, unmodified) and reads their JSON.
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { pythonSdkDir, repoRoot } from "./tools.js";

const run = promisify(execFile);

export interface SdkAppResult {
  /** "ok", or the HTTP status the login failed with (only when --login was given). */
  login?: "ok" | number | string;
  calls: { name: string; status: number | string }[];
  /** The access token the SDK holds after the run. */
  heldToken?: string;
}

export interface SdkAppOptions {
  port: number;
  tenant?: string;
  login?: string;
  secret?: string;
  division?: string;
  /** The SDK's gateway login path prefix (path_params_login). */
  loginPrefix?: string;
  /** Host the app calls (default 127.0.0.1). */
  host?: string;
}

export type SdkLanguage = "python" | "javascript";

export async function runSdkApp(language: SdkLanguage, o: SdkAppOptions): Promise<SdkAppResult> {
  const args = ["--port", String(o.port)];
  if (o.tenant) args.push("--tenant", o.tenant);
  if (o.login) args.push("--login", o.login);
  if (o.secret) args.push("--secret", o.secret);
  if (o.division) args.push("--division", o.division);
  if (o.loginPrefix) args.push("--login-prefix", o.loginPrefix);
  if (o.host) args.push("--host", o.host);
  // Both SDKs read (and live-reload) a config file under $HOME that could override the gateway: give them an empty home.
  const home = await mkdtemp(join(tmpdir(), "scopegate-sdk-home-"));
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home };
  const app = join(repoRoot, "test/support/sdk-apps");
  try {
    const { stdout } =
      language === "python"
        ? await run("python3", [join(app, "genesys_app.py"), ...args], { env: { ...env, PYTHONPATH: pythonSdkDir() }, timeout: 60_000 })
        : await run(process.execPath, [join(app, "genesys-app.cjs"), ...args], { env, cwd: repoRoot, timeout: 60_000 });
    return JSON.parse(stdout.trim().split("\n").pop()!) as SdkAppResult;
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

/** What a run of the sample app with --division answers when every call goes through. */
export const ALL_CALLS_OK: SdkAppResult["calls"] = [
  { name: "queues", status: 200 },
  { name: "queues-division", status: 200 },
  { name: "scripts", status: 200 },
  { name: "users-me", status: 200 },
];

/** The Platform API paths those calls reach, in order. */
export const SDK_APP_PATHS = ["/api/v2/routing/queues", "/api/v2/routing/queues", "/api/v2/scripts", "/api/v2/users/me"];
