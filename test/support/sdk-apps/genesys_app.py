"""A small, unmodified Genesys Cloud SDK app (PyPI PureCloudPlatformClientV2), pointed at the scopegate gateway.

It is configured the way the SDK documents a gateway (README "Setting the gateway"): ApiClient.set_gateway(host,
protocol, port, path_params_login, path_params_api). It either holds a placeholder access token and names its tenant
in a default header, or logs in with client credentials (--login CLIENT_ID): in gateway mode the SDK sends that
login to the gateway too, under the gateway's login path prefix (--login-prefix, the SDK's path_params_login). It then lists queues (with and without a division), lists scripts and reads users/me,
and prints JSON: what each call answered and which access token the SDK holds at the end.

    python3 genesys_app.py --port 8080 --tenant acme [--login acme --secret anything [--login-prefix login]] [--division d1]
"""
import argparse
import json
import sys

import PureCloudPlatformClientV2 as gc
from PureCloudPlatformClientV2.rest import ApiException


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--tenant")
    p.add_argument("--login")
    p.add_argument("--secret", default="not-a-genesys-secret")
    p.add_argument("--division")
    p.add_argument("--login-prefix")
    a = p.parse_args()

    api_client = gc.api_client.ApiClient()
    api_client.set_gateway(a.host, "http", a.port, a.login_prefix, None)
    out = {"calls": []}
    if a.login:
        try:
            api_client = api_client.get_client_credentials_token(a.login, a.secret)
            out["login"] = "ok"
        except ApiException as e:
            out["login"] = e.status
            print(json.dumps(out))
            return 0
    else:
        api_client.access_token = "placeholder"
    if a.tenant:
        api_client.set_default_header("x-tenant-id", a.tenant)

    def call(name, fn):
        try:
            fn()
            out["calls"].append({"name": name, "status": 200})
        except ApiException as e:
            out["calls"].append({"name": name, "status": e.status})

    routing = gc.RoutingApi(api_client)
    call("queues", lambda: routing.get_routing_queues(page_size=25))
    if a.division:
        call("queues-division", lambda: routing.get_routing_queues(division_id=[a.division]))
    call("scripts", lambda: gc.ScriptsApi(api_client).get_scripts())
    call("users-me", lambda: gc.UsersApi(api_client).get_users_me())
    out["heldToken"] = api_client.access_token
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
