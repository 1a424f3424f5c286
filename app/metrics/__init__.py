"""Prometheus metrics: what the service counts (``definitions``), where each number is taken (``jobs``,
``transitions``, ``azure``, ``webhooks``, ``http``, ``fleet``) and which registry a scrape renders
(``registry``); the ``/metrics`` route itself is an HTTP edge (``app.api.routes.metrics``)."""
