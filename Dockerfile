# Production image: gunicorn on the WSGI app, as a non-root user.
# Build: docker build -t concert-booking .
# Run:   docker run -p 8000:8000 -e DATABASE_URL=postgres://... -e SECRET_KEY=... -e ALLOWED_HOSTS=example.com concert-booking
# The entrypoint migrates (creating the django-q2 schedules) and starts gunicorn; run the
# scheduled tasks from the same image with the command `python manage.py qcluster`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# collectstatic needs no database or real secret; the manifest it writes is part of the image.
RUN SECRET_KEY=build-only python manage.py collectstatic --noinput \
    && useradd --create-home --uid 10001 app \
    && chmod +x docker-entrypoint.sh

USER app
EXPOSE 8000
ENTRYPOINT ["./docker-entrypoint.sh"]
CMD ["gunicorn", "--config", "gunicorn.conf.py"]
