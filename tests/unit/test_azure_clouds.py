"""``REPROTECT_AZURE__CLOUD``: every management client calls that cloud's ARM endpoint with its token scope.

The requests go through the real SDK clients and pipelines; only the socket is replaced by a transport
that records what would have been sent and answers 404 (the "resource" does not exist).
"""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.pipeline.transport import HttpTransport

from app.cloud.azure_sdk import AzureCloud
from app.cloud.clients import ManagementClients
from app.cloud.ids import parse_item_id
from app.settings import AzureCloudName, AzureMode, AzureSettings

SUB = "8e7d4a1c-0000-4000-8000-000000000001"
VM = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"
ITEM = (
    f"/subscriptions/{SUB}/resourceGroups/dr/providers/Microsoft.RecoveryServices/vaults/v/replicationFabrics/f/"
    "replicationProtectionContainers/c/replicationProtectedItems/i"
)

# The endpoints and scopes Microsoft documents for each cloud (learn.microsoft.com: "Azure China 21Vianet
# developer guide", "Azure Government developer guide"; azure-mgmt-core's get_arm_endpoints).
EXPECTED = {
    AzureCloudName.PUBLIC: ("https://management.azure.com/", "https://management.azure.com/.default"),
    AzureCloudName.CHINA: ("https://management.chinacloudapi.cn/", "https://management.chinacloudapi.cn/.default"),
    AzureCloudName.US_GOVERNMENT: (
        "https://management.usgovcloudapi.net/",
        "https://management.core.usgovcloudapi.net/.default",
    ),
}


class RecordingCredential:
    def __init__(self) -> None:
        self.scopes: list[str] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.extend(scopes)
        return AccessToken("token", 2**31)


class RecordingTransport(HttpTransport):  # type: ignore[type-arg]
    def __init__(self) -> None:
        self.urls: list[str] = []

    def send(self, request: Any, **kwargs: Any) -> Any:
        from azure.core.pipeline.transport import HttpResponse as LegacyResponse

        self.urls.append(request.url)

        class Answer(LegacyResponse):  # type: ignore[misc]
            def body(self) -> bytes:
                return b'{"error": {"code": "ResourceNotFound", "message": "not found"}}'

        answer = Answer(request, None)
        answer.status_code = 404
        answer.headers = {"content-type": "application/json"}
        answer.reason = "Not Found"
        return answer

    def open(self) -> None: ...
    def close(self) -> None: ...
    def __enter__(self) -> RecordingTransport:
        return self

    def __exit__(self, *args: Any) -> None: ...


@pytest.mark.parametrize("cloud", list(AzureCloudName))
def test_each_cloud_reads_from_its_own_arm_endpoint_with_its_own_scope(cloud: AzureCloudName) -> None:
    settings = AzureSettings(mode=AzureMode.AZURE, cloud=cloud)
    credential, transport = RecordingCredential(), RecordingTransport()
    azure = AzureCloud(settings)
    azure.clients = ManagementClients(settings, credential, transport=transport)

    assert azure.get_vm(VM) is None  # Compute
    assert azure.get_resource(f"/subscriptions/{SUB}/resourceGroups/rg") is None  # Resources
    assert azure.availability(VM) is None  # Resource Health
    assert azure.get_item(parse_item_id(ITEM)) is None  # Site Recovery
    assert (
        azure.get_resource(f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a")
        is None
    )

    endpoint, scope = EXPECTED[cloud]
    assert transport.urls, "no request was sent"
    assert all(url.startswith(endpoint) for url in transport.urls), transport.urls
    assert set(credential.scopes) == {scope}


def test_the_emulator_mode_ignores_the_cloud_and_calls_the_emulator() -> None:
    settings = AzureSettings(mode=AzureMode.EMULATOR, endpoint="http://127.0.0.1:1", cloud=AzureCloudName.CHINA)
    transport = RecordingTransport()
    azure = AzureCloud(settings)
    azure.clients = ManagementClients(settings, RecordingCredential(), transport=transport)
    assert azure.get_vm(VM) is None
    assert transport.urls[0].startswith("http://127.0.0.1:1/subscriptions/")
