"""How a Python application reaches Strongroom with Debian's official Azure SDK (python3-azure).

The admin credentials file (admin.json) names the tenant, the client, the authority and the vault;
the server's CA reaches requests through REQUESTS_CA_BUNDLE, set by the caller. Nothing here turns
TLS verification off.
"""
import json
import sys

from azure.identity import ClientSecretCredential


def admin():
    with open(sys.argv[1], encoding="utf8") as f:
        return json.load(f)


def credential(creds):
    # instance_discovery=False: MSAL would otherwise ask login.microsoftonline.com about the authority.
    return ClientSecretCredential(
        creds["tenantId"],
        creds["clientId"],
        creds["clientSecret"],
        authority=creds["authorityHost"],
        instance_discovery=False,
    )


def client(cls, creds=None):
    creds = creds or admin()
    # localhost is not a subdomain of the token resource, hence no challenge resource check.
    return cls(creds["vaultUrl"], credential(creds), verify_challenge_resource=False)


def scenario():
    return sys.argv[2]


def report(result):
    """The facts a scenario observed, for the test to assert on."""
    print(json.dumps(result, default=str))
