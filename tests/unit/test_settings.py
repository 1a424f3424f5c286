"""Settings that contradict each other are refused when the process starts, with the reason."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.settings import AzureSettings, JobSettings, Settings


def test_the_settle_wait_must_outlast_one_azure_call():
    with pytest.raises(ValidationError, match=r"switch_settle_seconds must be longer than azure\.request_timeout"):
        Settings(azure=AzureSettings(request_timeout_seconds=30), job=JobSettings(switch_settle_seconds=20))
