"""Nightly incremental imgpipe run, then its report, on a node with imgpipe installed.

    plan     imgpipe run --plan-only --incremental: select, diff against the previous snapshot by sha1,
             write the plan; its --output-metadata file (one JSON line) is cat'ed, so the run id
             becomes this task's XCom.
    execute  imgpipe run --resume RUN_ID: score and commit. A retry (exit 1, or 130 when the
             worker was stopped) resumes the same run: finished partitions are not redone, and the
             snapshot partition only appears when the run commits.
    report   imgpipe report RUN_ID: the HTML report of what committed.

Each task passes the run id on through XCom (BashOperator pushes the last stdout line: the
metadata JSON). Exit 2 (bad flag, unknown model, bad card) also fails the task; retrying cannot fix
it, but Airflow cannot tell, so look at the first try's log.

On Kubernetes use KubernetesPodOperator instead, with --output-metadata /airflow/xcom/return.json
and do_xcom_push=True (the Kubeflow components in integrations/kubeflow/ use the same flag).
"""
from __future__ import annotations

import json
from datetime import timedelta

import pendulum
from airflow import DAG
from airflow.operators.bash import BashOperator

default_args = {
    "owner": "imgpipe",
    "retries": 3,
    "retry_delay": timedelta(minutes=10),
    "retry_exponential_backoff": True,
    "execution_timeout": timedelta(hours=8),
}

with DAG(
    dag_id="imgpipe_nightly",
    description="imgpipe: nightly incremental run of a model over the warehouse, then its report",
    schedule="0 2 * * *",
    start_date=pendulum.datetime(2026, 12, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    params={
        "warehouse": "/srv/imgpipe/wh",
        "partitions_dir": "/srv/imgpipe/partitions",
        "metadata_dir": "/srv/imgpipe/metadata",
        "reports_dir": "/srv/imgpipe/reports",
        "model": "quality-basic",
    },
    # XCom values are strings; this lets templates read fields of the metadata JSON.
    user_defined_filters={"fromjson": json.loads},
    tags=["imgpipe"],
) as dag:
    plan = BashOperator(
        task_id="plan",
        bash_command=(
            "imgpipe run --warehouse {{ params.warehouse }} --partitions-dir {{ params.partitions_dir }}"
            " --model {{ params.model }} --all --incremental --snapshot {{ ds }} --plan-only --quiet"
            " --output-metadata {{ params.metadata_dir }}/{{ ds }}/plan.json"
            " && tail -n 1 {{ params.metadata_dir }}/{{ ds }}/plan.json"
        ),
        do_xcom_push=True,
    )

    execute = BashOperator(
        task_id="execute",
        bash_command=(
            "imgpipe run --resume {{ (ti.xcom_pull(task_ids='plan') | fromjson)['run_id'] }}"
            " --partitions-dir {{ params.partitions_dir }} --quiet"
            " --output-metadata {{ params.metadata_dir }}/{{ ds }}/run.json"
            " && tail -n 1 {{ params.metadata_dir }}/{{ ds }}/run.json"
        ),
        do_xcom_push=True,
    )

    report = BashOperator(
        task_id="report",
        bash_command=(
            "imgpipe report {{ (ti.xcom_pull(task_ids='execute') | fromjson)['run_id'] }}"
            " --partitions-dir {{ params.partitions_dir }} --out {{ params.reports_dir }}/{{ ds }}"
            " --output-metadata {{ params.metadata_dir }}/{{ ds }}/report.json"
            " && tail -n 1 {{ params.metadata_dir }}/{{ ds }}/report.json"
        ),
        do_xcom_push=True,
    )

    plan >> execute >> report
