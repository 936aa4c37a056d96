/**
 * Our proto subset against the official Envoy API files (shipped by @grpc/grpc-js-xds under deps/),
 * both directions, through @grpc/proto-loader + protobufjs.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as protoLoader from "@grpc/proto-loader";
import { describe, expect, it } from "vitest";
import { encode } from "../../src/authz/response.js";
import { buildOkResponse } from "../../src/authz/response.js";
import { CheckRequest, CheckResponse } from "../../src/gen/envoy/service/auth/v3/external_auth.js";
import { checkRequest } from "../support/check-requests.js";

const require = createRequire(import.meta.url);
const deps = join(dirname(require.resolve("@grpc/grpc-js-xds/package.json")), "deps");

function official() {
  const def = protoLoader.loadSync("envoy/service/auth/v3/external_auth.proto", {
    includeDirs: [
      join(deps, "envoy-api"),
      join(deps, "xds"),
      join(deps, "googleapis"),
      join(deps, "protoc-gen-validate"),
    ],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
  });
  const method = (def["envoy.service.auth.v3.Authorization"] as Record<string, protoLoader.MethodDefinition<object, object>>)["Check"]!;
  return method;
}

describe("proto subset is wire-compatible with the official Envoy API", () => {
  const check = official();

  it("official-encoded CheckRequest decodes with ours", () => {
    const bytes = check.requestSerialize({
      attributes: {
        source: { principal: "spiffe://cluster.local/ns/acme/sa/etl", address: { socket_address: { address: "10.0.0.1", port_value: 5555 } } },
        request: {
          http: {
            id: "abc",
            method: "GET",
            path: "/api/v2/flows?divisionId=x",
            headers: { "x-tenant-id": "acme" },
            header_map: { headers: [{ key: "x-raw", raw_value: Buffer.from("v") }] },
          },
        },
        context_extensions: { division_param: "divisionId" },
      },
    });
    const ours = CheckRequest.decode(bytes);
    const http = ours.attributes?.request?.http;
    expect(ours.attributes?.source?.principal).toBe("spiffe://cluster.local/ns/acme/sa/etl");
    expect(ours.attributes?.source?.address?.address).toEqual({
      $case: "socketAddress",
      value: expect.objectContaining({ address: "10.0.0.1", portSpecifier: { $case: "portValue", value: 5555 } }),
    });
    expect(http?.path).toBe("/api/v2/flows?divisionId=x");
    expect(http?.headers).toEqual({ "x-tenant-id": "acme" });
    expect(Buffer.from(http!.headerMap!.headers[0]!.rawValue).toString()).toBe("v");
    expect(ours.attributes?.contextExtensions).toEqual({ division_param: "divisionId" });
  });

  it("our CheckResponse decodes with the official definitions, append as a present BoolValue", () => {
    const bytes = encode(
      buildOkResponse({
        authorization: "Bearer t",
        query: { set: [{ key: "divisionId", value: "d" }], remove: ["DIVISIONID"] },
        headersToRemove: ["x-tenant-id"],
        upstream: { header: "x-scopegate-upstream", environment: "mypurecloud.de" },
        tenant: "acme",
      }),
    );
    const theirs = check.responseDeserialize(bytes) as {
      status: { code?: number };
      dynamic_metadata: { fields: Record<string, { stringValue?: string }> };
      ok_response: {
        headers: { header: { key: string; value: string }; append?: { value?: boolean }; append_action: string }[];
        headers_to_remove: string[];
        query_parameters_to_set: { key: string; value: string }[];
        query_parameters_to_remove: string[];
      };
      http_response: string;
    };
    expect(theirs.http_response).toBe("ok_response");
    const h = theirs.ok_response.headers[0]!;
    expect(h.header).toMatchObject({ key: "authorization", value: "Bearer t" });
    // Present (an object), with value false: Envoy's has_append() is true and append.value() is false.
    expect(h.append).toBeDefined();
    expect(h.append?.value ?? false).toBe(false);
    expect(h.append_action).toBe("OVERWRITE_IF_EXISTS_OR_ADD");
    expect(theirs.ok_response.headers_to_remove).toEqual(["x-tenant-id"]);
    expect(theirs.ok_response.query_parameters_to_set).toEqual([{ key: "divisionId", value: "d" }]);
    expect(theirs.ok_response.query_parameters_to_remove).toEqual(["DIVISIONID"]);
    // The audit record Envoy keeps as dynamic metadata (CheckResponse field 4, a google.protobuf.Struct; protobufjs's bundled google types keep their camelCase names).
    const fields = Object.fromEntries(Object.entries(theirs.dynamic_metadata.fields).map(([k, v]) => [k, v.stringValue]));
    expect(fields).toEqual({ decision: "allow", tenant: "acme", divisions: "d" });
  });

  it("round-trips a full request through official -> ours -> official", () => {
    const ourBytes = Buffer.from(CheckRequest.encode(checkRequest({ path: "/a?b=c", headers: { "x-tenant-id": "t" } })).finish());
    const theirs = check.requestDeserialize(ourBytes) as { attributes: { request: { http: { path: string; headers: Record<string, string> } } } };
    expect(theirs.attributes.request.http.path).toBe("/a?b=c");
    expect(theirs.attributes.request.http.headers["x-tenant-id"]).toBe("t");
    const back = CheckRequest.decode(check.requestSerialize(theirs));
    expect(back.attributes?.request?.http?.path).toBe("/a?b=c");
  });

  it("official-encoded CheckResponse decodes with ours", () => {
    const bytes = check.responseSerialize({
      status: { code: 7 },
      denied_response: { status: { code: "Forbidden" }, body: "{}", headers: [{ header: { key: "a", value: "b" }, append: { value: false } }] },
    });
    const ours = CheckResponse.decode(bytes);
    expect(ours.status?.code).toBe(7);
    if (ours.httpResponse?.$case !== "deniedResponse") throw new Error("not denied");
    expect(ours.httpResponse.value.status?.code).toBe(403);
    expect(ours.httpResponse.value.headers[0]?.append).toBe(false);
  });
});
