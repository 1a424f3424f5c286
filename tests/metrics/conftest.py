"""The API fixtures (``api``, ``bare_with``, ``demo``) for the metrics tests too."""

from tests.api.conftest import api, bare_with, demo  # noqa: F401
