"""Requests to the deployed WSGI application (the edge in front of Django), and /metrics read back."""

import io
from wsgiref.util import setup_testing_defaults

from prometheus_client.parser import text_string_to_metric_families

# Imported here, at collection: get_wsgi_application() runs django.setup(), which configures
# logging anew and would drop the handlers a test has added, were it imported during the test.
from concert_booking.wsgi import application as deployed_application

METRICS_TOKEN = "test-metrics-token"


def wsgi_call(
    app, *, path: str, method: str = "GET", headers: dict | None = None, body: bytes = b"", remote_addr="127.0.0.1"
) -> dict:
    """{status, headers, body} of one request; `headers` as HTTP names ("X-Queue-Token": ...)."""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "HTTP_HOST": "localhost",
        "REMOTE_ADDR": remote_addr,
        "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)),
    }
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        environ[key if key == "CONTENT_TYPE" else f"HTTP_{key}"] = value
    setup_testing_defaults(environ)
    answer = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"], answer["headers"] = int(status.split()[0]), dict(response_headers)

    chunks = app(environ, start_response)
    try:
        answer["body"] = b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()  # Django's request_finished, as a server would
    return answer


def application():
    return deployed_application


def parse_samples(text: str) -> dict[tuple, float]:
    """(sample name, ((label, value), ...) sorted) -> value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(token: str = METRICS_TOKEN) -> dict[tuple, float]:
    """GET /metrics through the deployed application; the settings must let `token` in."""
    answer = wsgi_call(application(), path="/metrics", headers={"Authorization": f"Bearer {token}"})
    assert answer["status"] == 200, answer
    return parse_samples(answer["body"].decode())


def value(samples: dict[tuple, float], name: str, **labels) -> float:
    """A sample's value; 0 for a series not (yet) there."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)
