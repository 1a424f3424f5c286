"""The operator console: a static single-page app (HTML, ES modules, CSS) served by the API at ``/console``."""
