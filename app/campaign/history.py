"""A campaign's transitions: every change of its state, when, by whom and why, kept on the campaign."""

from __future__ import annotations

from datetime import datetime

from app.campaign.models import Campaign
from app.campaign.states import CampaignState


def move(campaign: Campaign, to: CampaignState, *, actor: str, reason: str, now: datetime) -> None:
    """Set the campaign's state and record the transition (nothing when it is already there)."""
    if campaign.state == to.value:
        return
    entry = {
        "at": now.isoformat().replace("+00:00", "Z"),
        "from_state": campaign.state,
        "to_state": to.value,
        "actor": actor,
        "reason": reason,
    }
    campaign.history = [*(campaign.history or []), entry]  # a new list: JSON columns see only reassignment
    campaign.state = to.value
