#!/usr/bin/env python3
"""imgpipe on Spark: Spark SQL selects the images, each partition is piped through `imgpipe pipe`
(the per-partition worker), and Spark's own commit protocol writes the Hive table partitioned by
`model` and `snapshot`. Spark schedules, retries, speculates and commits; imgpipe only scores.

Where each part runs (as in Spark's DataSource V2 split):
  driver     parse flags, validate the model card (`imgpipe models show`, fails fast), run the query,
             repartition, write with insertInto/saveAsTable (job commit: the partition appears whole).
  executors  per task attempt: spawn `imgpipe pipe`, feed it the partition (Arrow IPC through
             mapInArrow, or JSON lines through RDD.pipe), stream its rows back to Spark.
Failure semantics: a non-zero exit of `imgpipe pipe` (or a killed executor) fails the task attempt;
Spark retries it (spark.task.maxFailures) and discards the failed attempt's output, since task
output only becomes visible when the job commits. Speculative duplicates are harmless: every attempt
answers the same rows and the output committer keeps one. Error rows (bad bytes) are data, not
failures.

Submit (YARN, the runtime shipped as an archive like a packed Python env; see README.md):

  spark3-submit --master yarn --deploy-mode cluster \\
    --archives hdfs:///user/$USER/imgpipe-runtime.tgz#imgpipe \\
    --conf spark.executor.cores=4 --conf spark.task.cpus=4 --conf spark.executor.memory=4g \\
    --conf spark.executor.memoryOverhead=3g \\
    --conf spark.sql.execution.arrow.maxRecordsPerBatch=256 \\
    imgpipe_spark.py --model quality-basic --snapshot 2026-12-01 \\
      --mediawiki-snapshot 2026-11 --wiki-db commonswiki \\
      --bytes-url 'https://upload.wikimedia.org/...{name}?width=400' \\
      --table analytics_scratch.image_classifications --partitions 400

  GPUs: add --conf spark.executor.resource.gpu.amount=1 --conf spark.task.resource.gpu.amount=1
  --conf spark.executor.resource.gpu.discoveryScript=/usr/lib/spark/scripts/getGpusResources.sh
  and --device cuda here; each task then sees only the GPU Spark assigned it (CUDA_VISIBLE_DEVICES).
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import threading
from datetime import datetime, timezone

# The result row contract (src/sink/resultRow.ts), as Spark DDL. processed_at is UTC milliseconds
# in imgpipe's Arrow output; it is cast to microseconds here (Spark's Arrow timestamps are µs).
RESULT_DDL = (
    "image_name STRING, page_id BIGINT, sha1 STRING, status STRING, error STRING, label STRING, "
    "score FLOAT, top_k ARRAY<STRUCT<label: STRING, score: FLOAT>>, embedding ARRAY<FLOAT>, "
    "width INT, height INT, run_id STRING, processed_at TIMESTAMP, "
    "detections ARRAY<STRUCT<label: STRING, score: FLOAT, x: FLOAT, y: FLOAT, w: FLOAT, h: FLOAT>>, "
    "keypoints ARRAY<ARRAY<FLOAT>>, count INT, max_area_ratio FLOAT, sum_area_ratio FLOAT"
)
# JSON lines carry processed_at as a number of milliseconds; read as BIGINT, converted after.
RESULT_JSON_DDL = RESULT_DDL.replace("processed_at TIMESTAMP", "processed_at BIGINT")
INPUT_COLUMNS = ("image_name", "page_id", "sha1", "bytes")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="imgpipe model name or card path (as on the executors)")
    p.add_argument("--snapshot", required=True, help="output snapshot partition, YYYY-MM-DD")
    p.add_argument("--table", required=True, help="output Hive table, db.name (created if absent)")
    p.add_argument("--table-location", help="location for a new table (default: the database's)")
    p.add_argument("--query", help="your own Spark SQL SELECT returning image_name [, page_id, sha1, bytes]")
    p.add_argument("--mediawiki-snapshot", help="wmf_raw.mediawiki_* snapshot, YYYY-MM (default query)")
    p.add_argument("--wiki-db", default="commonswiki", help="wiki_db partition (default query)")
    p.add_argument("--partitions", type=int, default=200, help="Spark partitions = imgpipe pipe processes over the job")
    p.add_argument("--transport", choices=["arrow", "jsonl"], default="arrow",
                   help="arrow: mapInArrow + Arrow IPC (default); jsonl: RDD.pipe + JSON lines")
    p.add_argument("--imgpipe", default=os.environ.get("IMGPIPE_BIN", "./imgpipe/bin/imgpipe"),
                   help="imgpipe launcher in the containers (the --archives alias; default ./imgpipe/bin/imgpipe)")
    p.add_argument("--bytes-url", help="pass --bytes-url to imgpipe pipe when the query has no bytes column")
    p.add_argument("--user-agent", help="HTTP User-Agent naming you and a contact (Wikimedia policy)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--pipe-arg", action="append", default=[], help="extra flag for imgpipe pipe (repeatable)")
    a = p.parse_args(argv)
    if not a.query and not a.mediawiki_snapshot:
        p.error("give --query, or --mediawiki-snapshot for the default wmf_raw.mediawiki_image query")
    if a.partitions < 1:
        p.error(f"expected a positive integer for --partitions but received {a.partitions}")
    return a


def default_query(a: argparse.Namespace) -> str:
    """Bitmaps of one wiki at one MediaWiki snapshot. img_sha1 is base-36 in MediaWiki, so it is
    carried as data and not checked against the bytes (imgpipe checks only with --check-sha1)."""
    return f"""
SELECT i.img_name AS image_name, p.page_id AS page_id, i.img_sha1 AS sha1
FROM wmf_raw.mediawiki_image i
LEFT JOIN wmf_raw.mediawiki_page p
  ON p.page_namespace = 6 AND p.page_title = i.img_name
 AND p.snapshot = i.snapshot AND p.wiki_db = i.wiki_db
WHERE i.snapshot = '{a.mediawiki_snapshot}' AND i.wiki_db = '{a.wiki_db}'
  AND i.img_media_type IN ('BITMAP', 'DRAWING')
"""


def pipe_command(a: argparse.Namespace, run_id: str, fmt: str) -> list[str]:
    cmd = [a.imgpipe, "pipe", "--model", a.model, "--run-id", run_id, "--device", a.device,
           "--input-format", fmt, "--format", fmt]
    if a.bytes_url:
        cmd += ["--bytes-url", a.bytes_url]
    if a.user_agent:
        cmd += ["--user-agent", a.user_agent]
    return cmd + a.pipe_arg


def task_env_and_lanes() -> tuple[dict, list[str]]:
    """Per task: the cores Spark gave it become lanes; an assigned GPU becomes CUDA_VISIBLE_DEVICES."""
    from pyspark import TaskContext

    env = dict(os.environ)
    extra: list[str] = []
    ctx = TaskContext.get()
    if ctx is not None:
        extra += ["--lanes", str(max(1, ctx.cpus()))]
        gpus = ctx.resources().get("gpu")
        if gpus is not None and gpus.addresses:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(gpus.addresses)
    return env, extra


def arrow_partition_fn(cmd: list[str]):
    """The mapInArrow function (runs on executors): batches in → `imgpipe pipe` → batches out.
    A feeder thread writes stdin while this generator reads stdout, so neither side blocks on a
    full pipe; memory stays at a few batches. If imgpipe exits non-zero, this raises: the attempt
    fails and Spark retries it."""

    def run(batches):
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.ipc as ipc

        env, extra = task_env_and_lanes()
        proc = subprocess.Popen(cmd + extra, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        failure: list[BaseException] = []

        def feed():
            writer = None
            try:
                for batch in batches:
                    keep = [c for c in INPUT_COLUMNS if c in batch.schema.names]
                    batch = pa.RecordBatch.from_arrays([batch.column(c) for c in keep], names=keep)
                    if writer is None:
                        writer = ipc.new_stream(proc.stdin, batch.schema)
                    writer.write_batch(batch)
                if writer is None:  # an empty partition: an empty stream, imgpipe answers with none
                    writer = ipc.new_stream(proc.stdin, pa.schema([("image_name", pa.string())]))
                writer.close()
            except BrokenPipeError:
                pass  # imgpipe died; its exit code says why
            except BaseException as e:  # noqa: BLE001 — re-raised in the task thread below
                failure.append(e)
            finally:
                try:
                    proc.stdin.close()
                except BrokenPipeError:
                    pass

        feeder = threading.Thread(target=feed, name="imgpipe-feed", daemon=True)
        feeder.start()
        try:
            for out in ipc.open_stream(proc.stdout):
                i = out.schema.get_field_index("processed_at")
                ts = pc.cast(out.column(i), pa.timestamp("us", tz="UTC"))
                yield out.set_column(i, pa.field("processed_at", ts.type), ts)
        except pa.ArrowInvalid:
            pass  # a truncated stream: the exit code below fails the attempt
        finally:
            feeder.join()
            code = proc.wait()
        if failure:
            raise failure[0]
        if code != 0:
            raise RuntimeError(f"imgpipe pipe exited with {code}; the task attempt fails and Spark retries it")

    return run


def main(argv: list[str]) -> int:
    from pyspark.sql import SparkSession, functions as F

    a = parse_args(argv)
    spark = (SparkSession.builder.appName(f"imgpipe {a.model} {a.snapshot}")
             .enableHiveSupport().getOrCreate())
    # Replace only the (model, snapshot) partition written, never the whole table.
    spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")
    spark.conf.set("hive.exec.dynamic.partition.mode", "nonstrict")

    # Fail fast on the driver: an unknown model or a card whose sha256 does not match exits 2 here.
    card = json.loads(subprocess.run([a.imgpipe, "models", "show", a.model], check=True,
                                     capture_output=True, text=True).stdout)
    qualified = f"{card['name']}-{card['version']}"
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    run_id = f"{stamp}-{qualified}-spark-{spark.sparkContext.applicationId}".replace("_", "-")

    selected = spark.sql(a.query or default_query(a))
    if "image_name" not in selected.columns:
        raise SystemExit(f"the query must return an image_name column; it returned {selected.columns}")
    selected = selected.select(*[c for c in INPUT_COLUMNS if c in selected.columns])
    selected = selected.repartition(a.partitions)

    if a.transport == "arrow":
        results = selected.mapInArrow(arrow_partition_fn(pipe_command(a, run_id, "arrow")), RESULT_DDL)
    else:
        # RDD.pipe: Spark's JSON writer encodes binary as base64, which `pipe --input-format jsonl` reads.
        # (Lanes and GPUs are not per task here: set them with --pipe-arg.)
        # checkCode=True: a non-zero exit fails the task (PySpark's default ignores it).
        lines = selected.toJSON().pipe(" ".join(shlex.quote(c) for c in pipe_command(a, run_id, "jsonl")), checkCode=True)
        results = (spark.read.schema(RESULT_JSON_DDL).json(lines)
                   .withColumn("processed_at", F.timestamp_millis("processed_at")))

    out = results.withColumn("model", F.lit(qualified)).withColumn("snapshot", F.lit(a.snapshot))
    if spark.catalog.tableExists(a.table):
        # By position: the table's columns are the contract's, then model, snapshot.
        out.write.insertInto(a.table, overwrite=True)
    else:
        w = out.write.format("parquet").partitionBy("model", "snapshot")
        if a.table_location:
            w = w.option("path", a.table_location)
        w.saveAsTable(a.table)
    print(json.dumps({"run_id": run_id, "table": a.table, "model": qualified, "snapshot": a.snapshot}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
