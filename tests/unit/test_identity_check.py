"""The /readyz identity probe asks the credential for an ARM token at most once per TTL, reports what a
failing credential said, and never asks anything of the emulator's static token."""

from __future__ import annotations

from azure.core.credentials import AccessToken
from azure.identity import CredentialUnavailableError

from app.cloud.identity import IdentityCheck
from app.settings import AzureSettings


class _Counting:
    def __init__(self, fail: bool = False):
        self.asked: list[tuple[str, ...]] = []
        self.fail = fail

    def get_token(self, *scopes, **kwargs):
        self.asked.append(scopes)
        if self.fail:
            raise CredentialUnavailableError(message="ManagedIdentityCredential: no endpoint.")
        return AccessToken("t", 0)


def test_the_answer_is_cached_for_the_ttl_then_asked_again():
    now = [100.0]
    credential = _Counting()
    check = IdentityCheck(credential, ttl_seconds=30.0, clock=lambda: now[0])
    assert check.status().ok
    now[0] += 29.0
    assert check.status().ok
    assert credential.asked == [("https://management.azure.com/.default",)]
    now[0] += 2.0
    check.status()
    assert len(credential.asked) == 2


def test_a_credential_that_cannot_give_a_token_is_reported_failing_with_its_words():
    status = IdentityCheck(_Counting(fail=True)).status()
    assert not status.ok
    assert status.detail == "cannot sign in: ManagedIdentityCredential: no endpoint."


def test_emulator_mode_reports_the_static_token_without_asking():
    status = IdentityCheck.for_settings(AzureSettings()).status()
    assert (status.ok, status.detail) == (True, "static token (emulator)")
