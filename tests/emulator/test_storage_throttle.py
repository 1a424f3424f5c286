"""Throttling beyond ARM's per-principal buckets, through the unmodified SDK: the Storage resource provider's
own limit on storage-account lists (100 per 5 minutes; 429 ``TooManyRequests`` naming the operation type and
aka.ms/srpthrottlinglimits, with Retry-After) and ARM's global remaining-reads / -writes headers (15 times a
principal's bucket)."""

from __future__ import annotations

from tests.emulator.support import arm_get

# The documented sizes (other tests of the session may have shrunk them; the admin reset keeps the settings).
AZURE = {
    "reads": {"burst": 250, "per_second": 25},
    "writes": {"burst": 200, "per_second": 10},
    "storage_lists": {"burst": 100, "per_second": 100 / 300},
    "storage_reads": {"burst": 800, "per_second": 800 / 300},
}


def test_storage_account_lists_are_limited_by_the_storage_provider_not_arm(client, demo, admin):
    admin.put("/_emulator/throttle", json=AZURE).raise_for_status()
    path = f"{demo.group_id('contoso-db-rg-asr')}/providers/Microsoft.Storage/storageAccounts"
    answers = [arm_get(client, path) for _ in range(101)]
    assert [a.status_code for a in answers[:100]] == [200] * 100
    throttled = answers[100]
    assert throttled.status_code == 429
    error = throttled.json()["error"]
    assert error["code"] == "TooManyRequests"
    assert "operation type - List" in error["message"]
    assert "aka.ms/srpthrottlinglimits" in error["message"]
    assert int(throttled.headers["Retry-After"]) >= 1
    # ARM's own read bucket had tokens left: the storage provider, not ARM, refused.
    assert int(throttled.headers["x-ms-ratelimit-remaining-subscription-reads"]) > 100
    # Other reads still pass.
    assert arm_get(client, demo.group_id("contoso-db-rg-asr")).status_code == 200


def test_answers_carry_the_global_remaining_reads_and_writes(client, demo, admin):
    admin.put("/_emulator/throttle", json=AZURE).raise_for_status()
    first = arm_get(client, demo.group_id("contoso-web-rg"))
    assert first.headers["x-ms-ratelimit-remaining-subscription-reads"] == "249"
    assert first.headers["x-ms-ratelimit-remaining-subscription-global-reads"] == "3749"
