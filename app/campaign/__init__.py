"""Campaigns: a set of VMs taken the whole way home, phase by phase and wave by wave, through gates."""
