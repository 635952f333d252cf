"""Every metric name the marketplace exports, in one place: the alert rules and dashboards use these.

One prefix (``marketplace_``), base units in the name (``_seconds``, ``_bytes``; money in
``_piconero``, Monero's atomic unit), ``_total`` on counters. No label carries a user, an order,
an address or a raw path: label values come from short closed sets (route templates, HTTP
methods, status classes, order states, job kinds, RPC methods, configured endpoints).

Who exports what:

- the web process (``/metrics``; prometheus-client's multiprocess mode across server workers):
  HTTP, database errors and lock waits, build info;
- the worker (its own port, ``MARKETPLACE_WORKER_METRICS_PORT``): jobs, wallet and daemon RPC,
  dependency probes (monerod height, signer sync lag), build info, and what is read from the
  database at scrape time (orders by state and their ages, transitions, payouts awaiting
  confirmation, piconero held in escrow, job queue depth, backup and restore-drill timestamps,
  TLS certificate expiry).
"""

from __future__ import annotations

PREFIX = "marketplace_"

# --- both processes ---------------------------------------------------------------------------
BUILD_INFO = "marketplace_build_info"  # gauge 1, labels: version, python_version, process (web|worker)

# --- web ----------------------------------------------------------------------------------------
HTTP_REQUESTS = "marketplace_http_requests_total"  # counter: route, method, status_class ("2xx")
HTTP_DURATION = "marketplace_http_request_duration_seconds"  # histogram: route, method
DB_ERRORS = "marketplace_db_errors_total"  # counter: process, error (exception class, closed set)
DB_LOCK_WAIT = "marketplace_db_lock_wait_seconds"  # histogram: process; time to take the write lock

# --- worker: jobs --------------------------------------------------------------------------------
JOB_RUNS = "marketplace_job_runs_total"  # counter: kind, result (done|rescheduled|retry|failed|released|lease_lost)
JOB_DURATION = "marketplace_job_run_duration_seconds"  # histogram: kind
JOBS = "marketplace_jobs"  # gauge (database): kind, state (queued|running|failed|done excluded)
JOB_OLDEST_DUE_AGE = "marketplace_job_oldest_due_age_seconds"  # gauge (database): kind; 0 when none due

# --- worker: Monero ------------------------------------------------------------------------------
RPC_DURATION = "marketplace_rpc_request_duration_seconds"  # histogram: service (daemon|wallet), method, endpoint
RPC_ERRORS = "marketplace_rpc_errors_total"  # counter: service, method, endpoint, error (transient|permanent)
DEPENDENCY_UP = "marketplace_dependency_up"  # gauge 1/0 from the last probe: dependency (as /ready names it)
MONEROD_HEIGHT = "marketplace_monerod_height"  # gauge, blocks
SIGNER_SYNC_LAG = "marketplace_signer_sync_lag_blocks"  # gauge: role, endpoint; daemon height - wallet height

# --- worker: escrow, read from the database at scrape time --------------------------------------
ORDERS = "marketplace_orders"  # gauge: state (every OrderState, 0 included)
ORDER_OLDEST_AGE = "marketplace_order_oldest_age_seconds"  # gauge: state (open states); time in state
ORDER_TRANSITIONS = "marketplace_order_transitions_total"  # counter: from_state, to_state (order_events)
PAYOUTS_AWAITING_CONFIRMATION = "marketplace_payouts_awaiting_confirmation"  # gauge
PAYOUT_OLDEST_UNCONFIRMED_AGE = "marketplace_payout_oldest_unconfirmed_age_seconds"  # gauge; 0 when none
ESCROW_HELD = "marketplace_escrow_held_piconero"  # gauge: received and not yet paid out

# --- worker: operations --------------------------------------------------------------------------
BACKUP_LAST_SUCCESS = "marketplace_backup_last_success_timestamp_seconds"  # gauge; 0 = never (set by backups)
RESTORE_DRILL_LAST_SUCCESS = "marketplace_restore_drill_last_success_timestamp_seconds"  # gauge; 0 = never
TLS_CERT_EXPIRY = "marketplace_tls_certificate_expiry_timestamp_seconds"  # gauge: certificate (file name)
