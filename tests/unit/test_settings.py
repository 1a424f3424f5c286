"""Settings that contradict each other are refused when the process starts, with the reason."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.settings import AzureSettings, JobSettings, Settings


def test_the_settle_wait_must_outlast_one_azure_call():
    with pytest.raises(ValidationError, match=r"switch_settle_seconds must be longer than azure\.request_timeout"):
        Settings(azure=AzureSettings(request_timeout_seconds=30), job=JobSettings(switch_settle_seconds=20))


def test_role_names_in_the_settings_are_the_roles_of_the_service():
    from typing import get_args

    from app.auth.principal import Role
    from app.settings import RoleName

    assert set(get_args(RoleName)) == {role.value for role in Role}
