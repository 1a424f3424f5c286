"""Prometheus metrics: what the service counts (``definitions``), where each number is taken (``jobs``,
``azure``, ``webhooks``, ``http``, ``fleet``) and how ``/metrics`` renders them (``registry``, ``route``)."""
