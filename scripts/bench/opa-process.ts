// Starts the policy-engine peer (scripts/bench/opa-authz: OPA's Rego engine behind a grpc-go ext_authz server),
// built by scripts/install-tools.sh into .tools/bin only when SCOPEGATE_BENCH_TOOLS=1. Its data document is
// written from the hot tenants and from the CheckResponse scopegate answered for a hot request (the routing header
// and environment it set, a bearer of the same length), so the peer's allow carries the same mutations.
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CheckRequest, CheckResponse } from "../../src/gen/envoy/service/auth/v3/external_auth.js";
import { repoRoot } from "../../test/support/tools.js";
import { startChild, waitForLine } from "./child.js";
import { CheckClient } from "./grpc-client.js";
import { goProgramPath, goProgramUnavailable } from "./native-process.js";
import type { TrivialServer } from "./trivial-process.js";
import { BENCH_CALLER, divisionOf } from "./world.js";

export const OPA_PROGRAM = "opa-authz";
export const OPA_POLICY = join(repoRoot, "scripts/bench/opa-authz/policy.rego");

export function opaUnavailable(): string | undefined {
  const why = goProgramUnavailable(OPA_PROGRAM);
  return why && `the OPA peer: ${why}`;
}

export interface OpaData {
  readonly local_identity: string;
  readonly upstream_header: string;
  readonly tenants: Record<string, { token: string; divisions: string[]; environment: string; allowed_namespaces: string[] }>;
}

/** The data document policy.rego reads, shaped after scopegate's answer `response` for one of `tenants`. */
export function opaData(tenants: readonly string[], response: Buffer): OpaData {
  const ok = CheckResponse.decode(response).httpResponse;
  if (ok?.$case !== "okResponse") throw new Error("opa peer: scopegate's probe answer is not an allow");
  const headers = ok.value.headers.map((h) => h.header!);
  const authorization = headers.find((h) => h.key === "authorization")?.value ?? "";
  const upstream = headers.find((h) => h.key !== "authorization");
  if (!authorization.startsWith("Bearer ") || !upstream) throw new Error("opa peer: scopegate's allow lacks the bearer or the routing header");
  const tokenLength = authorization.length - "Bearer ".length;
  return {
    local_identity: BENCH_CALLER.identity,
    upstream_header: upstream.key,
    tenants: Object.fromEntries(
      tenants.map((id) => [
        id,
        {
          token: randomBytes(tokenLength).toString("base64url").slice(0, tokenLength),
          divisions: [divisionOf(id)],
          environment: upstream.value,
          allowed_namespaces: [BENCH_CALLER.namespace],
        },
      ]),
    ),
  };
}

export async function startOpa(dir: string, tenants: readonly string[], response: Buffer): Promise<TrivialServer & { readonly data: OpaData }> {
  const unixSocket = join(dir, "opa.sock");
  const dataFile = join(dir, "opa-data.json");
  const data = opaData(tenants, response);
  await writeFile(dataFile, JSON.stringify(data));
  const args = ["--policy", OPA_POLICY, "--data", dataFile, "--tcp", "127.0.0.1:0", "--uds", unixSocket];
  const child = startChild(OPA_PROGRAM, goProgramPath(OPA_PROGRAM), args, { cwd: repoRoot, stdout: "tail" });
  const port = (await waitForLine(child, /ready tcp=(\d+)/, 30_000))[1];
  return {
    data,
    child,
    tcpTarget: `127.0.0.1:${port}`,
    udsTarget: `unix://${unixSocket}`,
    unixSocket,
    command: `.tools/bin/${OPA_PROGRAM} --policy scripts/bench/opa-authz/policy.rego --data $BENCH_DIR/opa-data.json --tcp 127.0.0.1:0 --uds $BENCH_DIR/opa.sock`,
    stop: () => child.stop(5_000),
  };
}

/**
 * Sends each request once and checks the peer did the job: every allow carries the request's tenant's bearer,
 * routing header and division and removes the tenant header; a request for a tenant it does not know is denied.
 */
export async function expectPeerAnswers(target: string, requests: readonly Buffer[], data: OpaData): Promise<void> {
  const client = new CheckClient(target);
  try {
    for (const raw of requests) {
      const request = CheckRequest.decode(raw);
      const tenant = request.attributes?.request?.http?.headers["x-tenant-id"] ?? "";
      const want = data.tenants[tenant];
      const answer = CheckResponse.decode((await client.check(raw)).raw).httpResponse;
      if (!want || answer?.$case !== "okResponse") throw new Error(`OPA peer: request for ${tenant} not allowed`);
      const headers = new Map(answer.value.headers.map((h) => [h.header!.key, h.header!.value]));
      const division = answer.value.queryParametersToSet.find((q) => q.key === "divisionId")?.value;
      if (
        headers.get("authorization") !== `Bearer ${want.token}` ||
        headers.get(data.upstream_header) !== want.environment ||
        division !== want.divisions[0] ||
        !answer.value.headersToRemove.includes("x-tenant-id")
      ) {
        throw new Error(`OPA peer: the allow for ${tenant} lacks its bearer, routing header, division or header removal`);
      }
    }
    const stranger = CheckRequest.decode(requests[0]!);
    stranger.attributes!.request!.http!.headers["x-tenant-id"] = "no-such-tenant";
    const denied = await client.check(Buffer.from(CheckRequest.encode(stranger).finish()));
    if (denied.allowed) throw new Error("OPA peer: a request for an unknown tenant was allowed");
  } finally {
    client.close();
  }
}
