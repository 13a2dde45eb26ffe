# Production image: the official Airflow image plus the project's pinned dependencies.
FROM apache/airflow:3.3.2-python3.11
COPY --chown=airflow:root requirements.txt /opt/kcm/requirements.txt
RUN pip install --no-cache-dir -r /opt/kcm/requirements.txt
COPY --chown=airflow:root include /opt/airflow/include
COPY --chown=airflow:root dags /opt/airflow/dags
COPY --chown=airflow:root plugins /opt/airflow/plugins
COPY --chown=airflow:root scripts /opt/airflow/scripts
ENV PYTHONPATH=/opt/airflow \
    GX_ANALYTICS_ENABLED=false \
    SCARF_ANALYTICS=false \
    DO_NOT_TRACK=1
