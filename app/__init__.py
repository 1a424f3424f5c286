"""The reprotect service: Azure Site Recovery reprotect as an orchestration API."""
