"""HTTP request metrics for the API and pages, with prometheus-fastapi-instrumentator.

`install_http_metrics(app)` adds the instrumentator's middleware; what it counts goes to the
default prometheus_client registry, which `hub serve --metrics-port` already serves (with the
hub's own metrics) on the monitoring port. Nothing is exposed on the app's own port.

- `http_requests_total{method, handler, status}`: requests, by exact status code;
- `http_request_duration_seconds{method, handler}`: a latency histogram;
- `http_request_duration_highr_seconds`: the same without labels, in finer buckets;
- `http_request_size_bytes` / `http_response_size_bytes` by handler.

`handler` is the route template (`/api/v1/sar/{case_id}`), or `none` for a path that matched
no route: never the concrete path, so no NHS number, case or practitioner id reaches a label.
"""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_fastapi_instrumentator import Instrumentator

# Probes and scrapes every few seconds would drown the requests people make.
NOT_COUNTED = ["/healthz", "/readyz"]


def install_http_metrics(app: FastAPI) -> None:
    """Count the app's requests by route template; call before the app starts serving."""
    Instrumentator(
        should_group_status_codes=False,  # 401, 403, 404 and 409 each say something different
        should_group_untemplated=True,  # every unmatched path is one `none` handler
        excluded_handlers=NOT_COUNTED,
    ).instrument(app)
