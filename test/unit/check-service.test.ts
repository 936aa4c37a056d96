import type { ServerUnaryCall } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import type { Authorizer, CheckOutcome } from "../../src/authz/authorizer.js";
import { CheckRequest, CheckResponse } from "../../src/gen/envoy/service/auth/v3/external_auth.js";
import { answerBudget, checkHandler } from "../../src/server/check-service.js";
import { harness } from "../support/authorizer-harness.js";
import { checkRequest } from "../support/check-requests.js";

function call(deadline: Date | number): ServerUnaryCall<Buffer, Buffer> {
  const request = Buffer.from(CheckRequest.encode(checkRequest({ headers: { "x-tenant-id": "acme" } })).finish());
  return { request, getDeadline: () => deadline } as unknown as ServerUnaryCall<Buffer, Buffer>;
}

function run(authorizer: Authorizer, observe = (_o: CheckOutcome) => {}, deadline: Date | number = Infinity) {
  const inFlight = { count: 0 };
  return new Promise<{ bytes: Buffer; inFlight: number }>((resolve, reject) => {
    checkHandler({ authorizer, observe, defaultBudgetMs: 1000, isAccepting: () => true, inFlight })(call(deadline), (err, bytes) =>
      err ? reject(err) : resolve({ bytes: bytes!, inFlight: inFlight.count }),
    );
  });
}

describe("checkHandler is total", () => {
  it("answers with a denial when the authorizer throws or rejects", async () => {
    const { authorizer } = harness();
    const denial = authorizer.denial.bind(authorizer);
    const throwing = {
      check: () => {
        throw new Error("boom");
      },
      denial,
    } as unknown as Authorizer;
    const rejecting = { check: () => Promise.reject(new Error("boom")), denial } as unknown as Authorizer;
    for (const a of [throwing, rejecting]) {
      const { bytes, inFlight } = await run(a);
      const res = CheckResponse.decode(bytes);
      expect(res.status?.code).not.toBe(0);
      if (res.httpResponse?.$case !== "deniedResponse") throw new Error("not denied");
      expect(JSON.parse(res.httpResponse.value.body).error).toBe("internal_error");
      expect(inFlight).toBe(0);
    }
  });

  it("still answers when observing (logging, metrics) throws", async () => {
    const { authorizer } = harness();
    const { bytes } = await run(authorizer, () => {
      throw new Error("logger down");
    });
    expect(CheckResponse.decode(bytes).status?.code).toBe(0);
  });

  it("accepts fractional and past deadlines", async () => {
    const { authorizer } = harness();
    expect(CheckResponse.decode((await run(authorizer, undefined, new Date(Date.now() + 300.7))).bytes).status?.code).toBe(0);
    const past = CheckResponse.decode((await run(authorizer, undefined, new Date(Date.now() - 10))).bytes);
    expect(past.status?.code).not.toBe(0); // no time left: deadline_exceeded, never an allow
  });

  it("keeps a little of the deadline to answer, in whole milliseconds", () => {
    expect(answerBudget(1000)).toBe(950);
    expect(answerBudget(300.7)).toBe(270);
    expect(answerBudget(0)).toBe(0);
    expect(answerBudget(-5)).toBe(0);
  });
});
