#!/usr/bin/env python3
"""A stand-in for Spark running `imgpipe pipe` per partition, for tests where Spark cannot be
installed. It is not Spark; it does what Spark's executors and commit protocol do around a piped
process, so the protocol between the two can be tested for real:

  * per task attempt, like PipedRDD / a Python worker feeding mapInArrow: spawn the command, feed
    the partition's rows on stdin in batches from a writer thread, read result rows from stdout;
  * a non-zero exit, a kill, or a row count that does not match fails the attempt; the attempt is
    retried with the next attempt number, up to --max-failures (spark.task.maxFailures);
  * output goes through the Hadoop FileOutputCommitter (v1) layout that Spark's
    HadoopMapReduceCommitProtocol uses: an attempt writes under
    _temporary/0/_temporary/attempt_<job>_<partition>_<attempt>/; commitTask renames that to
    _temporary/0/task_<partition>/; abortTask deletes it; commitJob moves the committed task files
    into the output folder, removes _temporary and writes _SUCCESS. A failed attempt's rows are
    therefore never visible;
  * --kill P:A:N sends SIGKILL to partition P's attempt A once N result rows of it were written to
    its attempt file (an executor lost mid-task).

Input: --input DIR of part-<n>.jsonl files (one per partition). Output: --output DIR. Stdout: one
JSON object with per-partition attempts and what the kill left behind before it was discarded.
JSON lines only: this Python has no Arrow reader (the Arrow path is tested from Node).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

JOB = "20261201000000_0001"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--cmd", required=True, help="JSON array: the command run per task attempt")
    p.add_argument("--feed-batch", type=int, default=16, help="rows written to stdin per write")
    p.add_argument("--max-failures", type=int, default=4)
    p.add_argument("--parallelism", type=int, default=2)
    p.add_argument("--kill", help="PARTITION:ATTEMPT:ROWS")
    return p.parse_args()


def run_attempt(cmd, rows, attempt_file, feed_batch, kill_after):
    """One task attempt. Returns (ok, rows_written, detail)."""
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stderr_lines: list[bytes] = []
    threading.Thread(target=lambda: stderr_lines.extend(proc.stderr), daemon=True).start()

    def feed():  # PipedRDD's "stdin writer for <cmd>" thread
        try:
            for i in range(0, len(rows), feed_batch):
                proc.stdin.write("".join(r + "\n" for r in rows[i:i + feed_batch]).encode())
                proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass
        finally:
            try:
                proc.stdin.close()
            except BrokenPipeError:
                pass

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    written = 0
    killed = False
    with open(attempt_file, "w") as out:
        for line in proc.stdout:
            out.write(line.decode())
            written += 1
            if kill_after is not None and written >= kill_after and not killed:
                out.flush()
                proc.kill()  # SIGKILL, mid-stream
                killed = True
    code = proc.wait()
    feeder.join()
    if code != 0:
        return False, written, f"exit {code}{' (killed)' if killed else ''}: {b''.join(stderr_lines).decode()[-300:]}"
    if written != len(rows):
        return False, written, f"{written} result rows for {len(rows)} input rows"
    return True, written, "ok"


def run_task(args, cmd, partition, rows, kill):
    temp = os.path.join(args.output, "_temporary", "0")
    history = []
    for attempt in range(args.max_failures):
        attempt_dir = os.path.join(temp, "_temporary", f"attempt_{JOB}_m_{partition:06d}_{attempt}")
        os.makedirs(attempt_dir)
        attempt_file = os.path.join(attempt_dir, f"part-{partition:05d}.jsonl")
        kill_after = kill[2] if kill and kill[0] == partition and kill[1] == attempt else None
        ok, written, detail = run_attempt(cmd, rows, attempt_file, args.feed_batch, kill_after)
        record = {"attempt": attempt, "ok": ok, "rows_written": written, "detail": detail}
        if not ok:
            # abortTask: what the attempt wrote goes away with its folder.
            record["left_before_abort"] = sum(1 for _ in open(attempt_file))
            shutil.rmtree(attempt_dir)
            history.append(record)
            continue
        os.rename(attempt_dir, os.path.join(temp, f"task_{partition:06d}"))  # commitTask
        history.append(record)
        return {"partition": partition, "attempts": history, "committed": True}
    return {"partition": partition, "attempts": history, "committed": False}


def main() -> int:
    args = parse_args()
    cmd = json.loads(args.cmd)
    kill = tuple(int(x) for x in args.kill.split(":")) if args.kill else None
    names = sorted(f for f in os.listdir(args.input) if f.startswith("part-") and f.endswith(".jsonl"))
    partitions = [(int(f[5:-6]), [l.rstrip("\n") for l in open(os.path.join(args.input, f)) if l.strip()]) for f in names]
    os.makedirs(os.path.join(args.output, "_temporary", "0", "_temporary"), exist_ok=True)
    with ThreadPoolExecutor(max_workers=args.parallelism) as pool:
        tasks = list(pool.map(lambda p: run_task(args, cmd, p[0], p[1], kill), partitions))
    temp = os.path.join(args.output, "_temporary")
    if all(t["committed"] for t in tasks):
        for t in tasks:  # commitJob
            task_dir = os.path.join(temp, "0", f"task_{t['partition']:06d}")
            for f in os.listdir(task_dir):
                os.rename(os.path.join(task_dir, f), os.path.join(args.output, f))
        shutil.rmtree(temp)
        open(os.path.join(args.output, "_SUCCESS"), "w").close()
        status = 0
    else:
        shutil.rmtree(temp)  # abortJob: nothing visible
        status = 1
    print(json.dumps({"committed": status == 0, "tasks": tasks}))
    return status


if __name__ == "__main__":
    sys.exit(main())
