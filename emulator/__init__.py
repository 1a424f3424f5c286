"""A local stand-in for Azure Resource Manager and Azure Site Recovery (A2A reprotect), served over HTTP.

The unmodified Azure SDK drives it; see ``emulator/README.md``. Nothing here imports the service.
"""
