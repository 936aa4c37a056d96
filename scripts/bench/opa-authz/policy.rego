# scopegate's cached-path decision as a Rego policy, for the OPA peer of the Check benchmarks (main.go).
# data: {"local_identity": "spiffe://…/ns/<ns>/sa/<sa>", "upstream_header": "…",
#        "tenants": {"<id>": {"token": "…", "divisions": ["…"], "environment": "…", "allowed_namespaces": ["…"]}}}
package envoy.authz

http := input.attributes.request.http

tenant := http.headers["x-tenant-id"]

binding := data.tenants[tenant]

# The caller: the mesh principal when there is one, else the one local workload (scopegate's callers.localIdentity).
caller := object.get(input.attributes, ["source", "principal"], data.local_identity)

# spiffe://<trust domain>/ns/<namespace>/sa/<service account>
caller_namespace := parts[4] if {
	parts := split(caller, "/")
	parts[3] == "ns"
}

allowed if {
	caller_namespace in binding.allowed_namespaces
	every division in object.get(input.parsed_query, "divisionId", []) {
		division in binding.divisions
	}
}

default result := {"allowed": false, "http_status": 403, "body": "{\"error\":\"tenant_not_allowed\"}"}

result := {
	"allowed": true,
	"headers": {
		"authorization": concat(" ", ["Bearer", binding.token]),
		data.upstream_header: binding.environment,
	},
	"request_headers_to_remove": ["x-tenant-id"],
	"query_parameters_to_set": {"divisionId": binding.divisions[0]},
} if allowed
