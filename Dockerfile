# The service image: API and worker (same image, different commands).
# Student code runs only inside bubblewrap, on the pinned runtimes in /opt/runtime.

# The 2020 course's interpreter, for the default sandbox runtime: its prefix is copied into it.
FROM python:3.8-slim-bookworm AS python38

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    RUNTIMES_DIR=/opt/runtime

RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system grader && useradd --system --gid grader --home-dir /app --shell /usr/sbin/nologin grader

WORKDIR /app
COPY pyproject.toml README.md ./
COPY api ./api
COPY worker ./worker
COPY grader ./grader
COPY handout ./handout
COPY migrations ./migrations
COPY alembic.ini ./

# The service in its own venv. The sandbox runtimes: default, the 2020 course's environment (Python
# 3.8, numpy 1.18.1, scipy 1.4.1), and py311 (Python 3.11, numpy 1.23.5, scipy 1.10.1).
COPY --from=python38 /usr/local /opt/python3.8
RUN python -m venv /opt/venv && /opt/venv/bin/pip install . \
    && /opt/venv/bin/python -m grader runtime build default --root /opt/runtime \
        --base-python /opt/python3.8/bin/python3.8 \
    && /opt/venv/bin/python -m grader runtime build py311 --root /opt/runtime \
        --base-python /usr/local/bin/python3.11 \
    && rm -rf /opt/python3.8
ENV PATH=/opt/venv/bin:$PATH

USER grader
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/api/v1/health/live')"
CMD ["python", "-m", "api", "serve", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers"]
