"""The framework floor: the smallest Django app there is, served by gunicorn exactly like the
project (same gunicorn.conf.py, workers and threads), on a port of its own.

One function view returning a fixed JsonResponse, `CommonMiddleware` only, no apps, no
database. Every throughput figure of the bench is divided by this app's req/s, measured with
the same tool and connections, interleaved with the scenario. The project's own
`GET /health/live` (the same view inside the project's settings and middleware) is a row of its
own (1f), so the cost of the project's stack around a view shows too.
"""
