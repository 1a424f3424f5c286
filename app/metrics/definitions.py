"""Every metric the service's processes record, defined once (the scrape-time fleet gauges are in ``fleet``).

In multiprocess mode (``PROMETHEUS_MULTIPROC_DIR`` set before the process starts) each process writes these
to its own files in that directory and ``/metrics`` sums them; otherwise they live in this process only.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

# A reprotect lasts minutes to hours; a state from seconds (validating) to hours (syncing).
LONG_BUCKETS = (
    1.0,
    5.0,
    15.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
    1200.0,
    1800.0,
    3600.0,
    7200.0,
    14400.0,
    28800.0,
    86400.0,
)
# One call or one step: milliseconds to a request timeout.
SHORT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

JOB_TRANSITIONS = Counter(
    "reprotect_job_transitions",
    "Job state changes, counted once their transaction commits.",
    ["from_state", "to_state"],
)
JOB_STATE_DURATION = Histogram(
    "reprotect_job_state_duration_seconds",
    "How long a job stayed in a state (a step of the pipeline) before it left it.",
    ["state"],
    buckets=LONG_BUCKETS,
)
JOB_TIME_TO_PROTECTED = Histogram(
    "reprotect_job_time_to_protected_seconds",
    "From a job's acceptance to its VM being protected.",
    buckets=LONG_BUCKETS,
)
JOB_STEP_DURATION = Histogram(
    "reprotect_job_step_duration_seconds",
    "Wall time of one worker step (its Azure calls included), by the state the job was in.",
    ["state"],
    buckets=SHORT_BUCKETS,
)
JOB_THROTTLED = Counter(
    "reprotect_job_throttled",
    "Job steps Azure throttled (429): the job comes back after Retry-After.",
)
JOB_THROTTLED_WAIT = Counter(
    "reprotect_job_throttled_wait_seconds",
    "Seconds throttled jobs were put off for (Azure's Retry-After, spread so a fleet does not return at once).",
)
AZURE_REQUESTS = Counter(
    "reprotect_azure_requests",
    "HTTP requests to Azure Resource Manager / Site Recovery (each retry counts), by operation and status.",
    ["operation", "status"],
)
AZURE_REQUEST_DURATION = Histogram(
    "reprotect_azure_request_duration_seconds",
    "Time of one HTTP request to Azure, by operation.",
    ["operation"],
    buckets=SHORT_BUCKETS,
)
AZURE_RETRY_AFTER = Counter(
    "reprotect_azure_retry_after_seconds",
    "Sum of the Retry-After seconds Azure asked for in its 429 answers.",
)
AZURE_READ_BUDGET_WAIT = Counter(
    "reprotect_azure_read_budget_wait_seconds",
    "Seconds reads waited for the service's share of the subscription's ARM read budget (app.cloud.budget).",
)
WEBHOOK_ATTEMPTS = Counter(
    "reprotect_webhook_delivery_attempts",
    "Webhook delivery attempts by outcome: delivered, retrying (will try again) or failed (gave up).",
    ["outcome"],
)
WEBHOOK_LATENCY = Histogram(
    "reprotect_webhook_delivery_latency_seconds",
    "From the event (a job or request completing) to its successful delivery.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0),
)
HTTP_REQUEST_DURATION = Histogram(
    "reprotect_http_request_duration_seconds",
    "API requests by method, route template and status, with their latency (its _count is the request count).",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
HTTP_READS_SHARED = Counter(
    "reprotect_http_reads_shared",
    "API reads answered by a run an identical request had begun (app.api.coalesce), by route template.",
    ["route"],
)
