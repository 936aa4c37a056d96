// Direct gRPC clients for tests: Check (our service definition, which passes bytes; requests are encoded
// here with the generated encoder) and grpc.health.v1.
import * as grpc from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import { CheckRequest, CheckResponse } from "../../src/gen/envoy/service/auth/v3/external_auth.js";
import { authorizationServiceDefinition } from "../../src/server/check-service.js";

type Unary<Req, Res> = (req: Req, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Res) => void) => void;

export interface CheckClient {
  check(req: CheckRequest, deadlineMs?: number): Promise<CheckResponse>;
  health(service?: string): Promise<string>;
  close(): void;
}

/** target: "127.0.0.1:PORT" or "unix:/path" */
export function checkClient(target: string): CheckClient {
  const Ctor = grpc.makeGenericClientConstructor(authorizationServiceDefinition, "Authorization");
  const client = new Ctor(target, grpc.credentials.createInsecure()) as unknown as grpc.Client & { Check: Unary<Buffer, Buffer> };
  const HealthCtor = grpc.makeGenericClientConstructor(healthService, "Health");
  const health = new HealthCtor(target, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    check: Unary<{ service: string }, { status: string }>;
  };
  return {
    check(req, deadlineMs = 5000) {
      return new Promise((resolve, reject) =>
        client.Check(Buffer.from(CheckRequest.encode(req).finish()), new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) =>
          err ? reject(err) : resolve(CheckResponse.decode(res!)),
        ),
      );
    },
    health(service = "") {
      return new Promise((resolve, reject) =>
        health.check({ service }, new grpc.Metadata(), { deadline: Date.now() + 3000 }, (err, res) =>
          err ? reject(err) : resolve(String(res!.status)),
        ),
      );
    },
    close() {
      client.close();
      health.close();
    },
  };
}
