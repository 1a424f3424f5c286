"""The job event stream: the transition log read by one poller per process and fanned out to subscribers."""
