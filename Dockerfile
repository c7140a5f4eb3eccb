# costledger's Airflow image: the official Airflow image plus costledger, with the same pins as `make install`.
#
# Why apache/airflow and not python:3.11-slim: the official image brings the entrypoint that waits for
# the metadata DB and runs `_AIRFLOW_DB_MIGRATE` and arbitrary-UID support (AIRFLOW_UID). The
# PostgreSQL drivers for the metadata DB (psycopg2-binary, asyncpg) are pinned in requirements.lock,
# so the image runs the versions tests/dags/test_airflow_postgres.py ran, whatever the base image had.
# Its tag must match the apache-airflow pin in requirements.lock (a test checks it).
FROM apache/airflow:3.3.2-python3.11

USER airflow
WORKDIR /opt/costledger

# Dependencies first, so a code change does not reinstall them. Only the runtime pins: the test
# tools (requirements-dev.lock: pytest, ruff, moto, ...) never enter the image, and the
# package is installed without its `dev` extra (tests/dags/test_compose_deployment.py checks both).
COPY --chown=airflow:0 requirements.lock ./
RUN pip install --no-cache-dir --disable-pip-version-check -r requirements.lock

# The SQL models are found next to the package (pipeline/config/settings.py: REPO_ROOT / "sql"),
# hence an editable install from /opt/costledger.
COPY --chown=airflow:0 pyproject.toml README.md ./
COPY --chown=airflow:0 pipeline ./pipeline
COPY --chown=airflow:0 sql ./sql
# the shipped config/ (a commented starting point); a deployment mounts its own over it.
# The demo company (examples/) and tools/ stay out of the image.
COPY --chown=airflow:0 config ./config
RUN pip install --no-cache-dir --disable-pip-version-check --no-deps --no-build-isolation -e .

COPY --chown=airflow:0 dags /opt/airflow/dags

ENV COSTLEDGER_CONFIG=/opt/costledger/config \
    COSTLEDGER_LANDING=/opt/costledger/landing \
    COSTLEDGER_WAREHOUSE=/opt/costledger/warehouse \
    COSTLEDGER_REPORTS=/opt/costledger/reports
WORKDIR /opt/airflow
