"""Exit 0 once the PostgreSQL server in DATABASE_URL accepts connections, 1 after --timeout seconds.

It connects to the server's `postgres` database, so the project database need not exist yet
(pytest-django creates its own test database).
"""

import argparse
import os
import sys
import time

import dj_database_url
import psycopg


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--timeout", type=float, default=20)
    args = parser.parse_args()
    db = dj_database_url.parse(os.environ["DATABASE_URL"])
    deadline = time.monotonic() + args.timeout
    while True:
        try:
            psycopg.connect(
                host=db["HOST"] or "localhost",
                port=db["PORT"] or 5432,
                user=db["USER"] or None,
                password=db["PASSWORD"] or None,
                dbname="postgres",
                connect_timeout=2,
            ).close()
            return 0
        except psycopg.Error as error:
            if time.monotonic() > deadline:
                print(f"PostgreSQL not reachable: {error}", file=sys.stderr)
                return 1
            time.sleep(0.5)


if __name__ == "__main__":
    sys.exit(main())
