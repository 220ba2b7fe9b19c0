"""CertificateClient: create with Self and with a PrivateCA issuer, import PEM and PFX, list,
policy get/update, delete. Each run does one scenario (argv[2]) with its JSON arguments (argv[3])."""
import base64
import json
import sys

from azure.core.exceptions import ResourceNotFoundError
from azure.keyvault.certificates import (
    CertificateClient,
    CertificateContentType,
    CertificatePolicy,
    WellKnownIssuerNames,
)
from cryptography import x509

import strongroom

client = strongroom.client(CertificateClient)
args = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
POLL = 0.2


def described(certificate):
    """What the SDK handed back: the X.509 (parsed), its ids and its policy."""
    if certificate is None:
        return None
    leaf = x509.load_der_x509_certificate(bytes(certificate.cer))
    return {
        "name": certificate.name,
        "version": certificate.properties.version,
        "subject": leaf.subject.rfc4514_string(),
        "issuer": leaf.issuer.rfc4514_string(),
        "keyId": certificate.key_id,
        "secretId": certificate.secret_id,
        "policyIssuer": certificate.policy.issuer_name if certificate.policy else None,
        "contentType": certificate.policy.content_type if certificate.policy else None,
    }


def create():
    policy = CertificatePolicy(
        issuer_name=args["issuer"],
        subject=args["subject"],
        san_dns_names=args.get("dnsNames"),
        validity_in_months=args.get("validityMonths", 12),
    )
    poller = client.begin_create_certificate(args["name"], policy, _polling_interval=POLL)
    first_status = poller.status()
    certificate = poller.result()
    return {"firstStatus": first_status, "certificate": described(certificate)}


def import_():
    with open(args["file"], "rb") as f:
        data = f.read()
    pem = args.get("pem", False)
    policy = CertificatePolicy(
        issuer_name=WellKnownIssuerNames.unknown,
        content_type=CertificateContentType.pem if pem else CertificateContentType.pkcs12,
    )
    imported = client.import_certificate(
        args["name"], data, password=args.get("password"), policy=policy if pem else None
    )
    return {"certificate": described(imported)}


def listing():
    return {"names": sorted(p.name for p in client.list_properties_of_certificates())}


def policy():
    name = args["name"]
    before = client.get_certificate_policy(name)
    changed = CertificatePolicy(
        issuer_name=before.issuer_name,
        subject=before.subject,
        validity_in_months=args["validityMonths"],
    )
    client.update_certificate_policy(name, changed)
    after = client.get_certificate_policy(name)
    return {
        "before": {"subject": before.subject, "validityMonths": before.validity_in_months},
        "after": {
            "subject": after.subject,
            "validityMonths": after.validity_in_months,
            "issuer": after.issuer_name,
        },
    }


def delete():
    name = args["name"]
    deleted = client.begin_delete_certificate(name, _polling_interval=POLL).result()
    try:
        client.get_certificate(name)
        after = "found"
    except ResourceNotFoundError as error:
        after = error.status_code
    return {
        "recoveryId": deleted.recovery_id,
        "afterDelete": after,
        "deleted": client.get_deleted_certificate(name).name,
    }


def operation_error():
    """An import the service refuses, as the SDK raises it."""
    try:
        import_()
        return {"refused": False}
    except Exception as error:  # noqa: BLE001 - the SDK's HttpResponseError, reported as seen
        return {
            "refused": True,
            "status": getattr(error, "status_code", None),
            "code": getattr(getattr(error, "error", None), "code", None),
            "message": str(getattr(getattr(error, "error", None), "message", error)),
        }


def issuer():
    made = client.create_issuer(args["issuer"], args["provider"], account_id=args["accountId"])
    return {"name": made.name, "provider": made.provider, "accountId": made.account_id}


SCENARIOS = {
    "issuer": issuer,
    "create": create,
    "import": import_,
    "import-refused": operation_error,
    "list": listing,
    "policy": policy,
    "delete": delete,
}
strongroom.report(SCENARIOS[strongroom.scenario()]())
