"""Tests of what ships the service: the dependency lock, the images and compose file, the Kubernetes manifests."""
