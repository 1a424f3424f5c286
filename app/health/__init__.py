"""The pipeline's health: heartbeats of workers and the scheduler, and the status report built from them."""
