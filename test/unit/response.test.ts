import { describe, expect, it } from "vitest";
import { encode } from "../../src/authz/response.js";
import { buildDeniedResponse, buildLoginResponse, buildOkResponse, overwriteHeader } from "../../src/authz/response.js";
import { deny } from "../../src/authz/deny-reasons.js";
import { HeaderValueOption } from "../../src/gen/envoy/config/core/v3/base.js";
import { CheckResponse } from "../../src/gen/envoy/service/auth/v3/external_auth.js";

describe("overwriteHeader", () => {
  it("puts append on the wire as an empty BoolValue message (field 2, wire type 2, length 0)", () => {
    const bytes = Buffer.from(HeaderValueOption.encode(overwriteHeader("authorization", "Bearer t")).finish());
    // field 1 (header) is a nested message; after it comes 0x12 0x00 = field 2, length-delimited, length 0,
    // then 0x18 0x02 = field 3 (append_action) varint OVERWRITE_IF_EXISTS_OR_ADD.
    const headerLen = bytes[1]!;
    expect(bytes[0]).toBe(0x0a);
    expect([...bytes.subarray(2 + headerLen)]).toEqual([0x12, 0x00, 0x18, 0x02]);
  });
});

describe("buildOkResponse", () => {
  it("sets Authorization, the division, removes the tenant header but never authorization", () => {
    const res = CheckResponse.decode(
      encode(
        buildOkResponse({
          authorization: "Bearer tok",
          query: { set: [{ key: "divisionId", value: "d-1" }], remove: ["DivisionID"] },
          headersToRemove: ["x-tenant-id", "authorization", "x-scopegate-upstream"],
          upstream: { header: "x-scopegate-upstream", environment: "mypurecloud.de" },
          tenant: "acme",
        }),
      ),
    );
    expect(res.status?.code).toBe(0);
    if (res.httpResponse?.$case !== "okResponse") throw new Error("not ok");
    const ok = res.httpResponse.value;
    expect(ok.headers).toHaveLength(2);
    expect(ok.headers[0]?.header?.key).toBe("authorization");
    expect(ok.headers[0]?.header?.value).toBe("Bearer tok");
    // The routing header Envoy re-matches on: overwritten like Authorization, never removed.
    expect(ok.headers[1]?.header).toMatchObject({ key: "x-scopegate-upstream", value: "mypurecloud.de" });
    expect(ok.headers[1]?.append).toBe(false);
    expect(ok.headers[0]?.append).toBe(false);
    expect(ok.headersToRemove).toEqual(["x-tenant-id"]);
    expect(ok.queryParametersToSet).toEqual([{ key: "divisionId", value: "d-1" }]);
    expect(ok.queryParametersToRemove).toEqual(["DivisionID"]);
    // The audit record for Envoy's access log: ids and codes, never the token.
    expect(res.dynamicMetadata).toEqual({ decision: "allow", tenant: "acme", divisions: "d-1" });
    expect(JSON.stringify(res.dynamicMetadata)).not.toContain("tok");
  });

  it("records no divisions when the query is left alone", () => {
    const res = CheckResponse.decode(
      encode(
        buildOkResponse({
          authorization: "Bearer tok",
          query: { set: [], remove: [] },
          headersToRemove: [],
          upstream: { header: "x-scopegate-upstream", environment: "mypurecloud.com" },
          tenant: "globex",
        }),
      ),
    );
    expect(res.dynamicMetadata).toEqual({ decision: "allow", tenant: "globex" });
  });
});

describe("buildLoginResponse", () => {
  it("records the login and its tenant for Envoy's access log, never the gateway token", () => {
    const res = CheckResponse.decode(encode(buildLoginResponse("sgw1.k1.secret-token", 60, "acme")));
    expect(res.dynamicMetadata).toEqual({ decision: "login", tenant: "acme" });
    if (res.httpResponse?.$case !== "deniedResponse") throw new Error("not a local reply");
    expect(res.httpResponse.value.status?.code).toBe(200);
  });
});

describe("buildDeniedResponse", () => {
  it.each([
    ["tenant_missing", 400, 3, false],
    ["tenant_unknown", 403, 7, false],
    ["division_forbidden", 403, 7, false],
    ["secrets_unavailable", 503, 14, true],
  ] as const)("%s -> HTTP %i, rpc %i", (reason, http, rpc, retry) => {
    const res = CheckResponse.decode(encode(buildDeniedResponse(deny(reason))));
    expect(res.status?.code).toBe(rpc);
    if (res.httpResponse?.$case !== "deniedResponse") throw new Error("not denied");
    const d = res.httpResponse.value;
    expect(d.status?.code).toBe(http);
    expect(JSON.parse(d.body)).toEqual({ error: reason, message: expect.any(String) });
    const headers = Object.fromEntries(d.headers.map((h) => [h.header?.key, h.header?.value]));
    expect(headers["x-scopegate-reason"]).toBe(reason);
    expect(headers["content-type"]).toBe("application/json");
    expect(headers["retry-after"] !== undefined).toBe(retry);
  });

  it("carries an upstream Retry-After", () => {
    const res = CheckResponse.decode(encode(buildDeniedResponse(deny("token_rate_limited", 42))));
    if (res.httpResponse?.$case !== "deniedResponse") throw new Error("not denied");
    expect(res.httpResponse.value.headers.find((h) => h.header?.key === "retry-after")?.header?.value).toBe("42");
  });
});
