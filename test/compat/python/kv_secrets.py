"""SecretClient: set, get, list, delete and recover, as an application does them."""

from azure.core.exceptions import ResourceNotFoundError
from azure.keyvault.secrets import SecretClient

import strongroom

client = strongroom.client(SecretClient)
name = strongroom.scenario()

first = client.set_secret(name, "first value", content_type="text/plain", tags={"team": "py"})
second = client.set_secret(name, "second value")
latest = client.get_secret(name)
by_version = client.get_secret(name, first.properties.version)
listed = [p.name for p in client.list_properties_of_secrets()]
versions = sorted(p.version for p in client.list_properties_of_secret_versions(name))
deleted = client.begin_delete_secret(name, _polling_interval=0.1).result()
try:
    client.get_secret(name)
    after_delete = "found"
except ResourceNotFoundError as error:
    after_delete = error.status_code
deleted_names = [d.name for d in client.list_deleted_secrets()]
recovered = client.begin_recover_deleted_secret(name, _polling_interval=0.1).result()

strongroom.report(
    {
        "latest": latest.value,
        "firstByVersion": by_version.value,
        "firstContentType": by_version.properties.content_type,
        "firstTags": by_version.properties.tags,
        "listed": name in listed,
        "versions": versions,
        "expectedVersions": sorted([first.properties.version, second.properties.version]),
        "deletedRecoveryId": deleted.recovery_id,
        "afterDelete": after_delete,
        "inDeletedList": name in deleted_names,
        "recovered": recovered.name,
        "afterRecover": client.get_secret(name).value,
    }
)
