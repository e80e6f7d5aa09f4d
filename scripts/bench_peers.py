#!/usr/bin/env python3
"""The analytics against the peers a researcher would use instead (issue 19).

The weekly table (per subject and week: days, days with use, days without use, known days,
PDA) computed by DuckDB and by polars from a research export's `days` Parquet parts, next to
`journey metrics` (every figure of shared/spec/metrics.md, from the database) on the same
cohort, in the same run. Each runs in a process of its own, timed from its start to its end
(start-up included) with its peak resident memory (the kernel's `ru_maxrss` of that child).
The peers' tables are checked against the export's own `weeks` table, or their times would
mean nothing.

    pip install duckdb polars
    DATABASE_URL=... JOURNEY_MASTER_KEY_FILE=... \
        python3 scripts/bench_peers.py EXPORT_DIR --as-of DATE --journey BIN [--runs N]

EXPORT_DIR is a `journey research-export` of the journeys `journey metrics` computes.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

DUCKDB = r"""
import sys, time, duckdb
folder, out = sys.argv[1], sys.argv[2]
clock = time.perf_counter()
con = duckdb.connect()
con.execute(f'''
COPY (
  SELECT sid, CAST(floor(rel_day / 7.0) AS BIGINT) AS week, count(*) AS days,
         count(*) FILTER (WHERE status = 'use') AS use_days,
         count(*) FILTER (WHERE status = 'no_use') AS no_use_days,
         count(*) FILTER (WHERE status IN ('use', 'no_use')) AS known_days,
         CASE WHEN count(*) FILTER (WHERE status IN ('use', 'no_use')) > 0
              THEN count(*) FILTER (WHERE status = 'no_use')
                   / count(*) FILTER (WHERE status IN ('use', 'no_use')) END AS pda
    FROM read_parquet('{folder}/days/*.parquet')
   GROUP BY sid, week
) TO '{out}' (FORMAT parquet)''')
print(time.perf_counter() - clock)
"""

POLARS = r"""
import sys, time, polars as pl
folder, out = sys.argv[1], sys.argv[2]
clock = time.perf_counter()
status = pl.col('status')
known = status.is_in(['use', 'no_use'])
(pl.scan_parquet(f'{folder}/days/*.parquet')
   .with_columns((pl.col('rel_day') // 7).alias('week'))
   .group_by(['sid', 'week'])
   .agg(days=pl.len(),
        use_days=(status == 'use').sum(),
        no_use_days=(status == 'no_use').sum(),
        known_days=known.sum())
   .with_columns(pda=pl.when(pl.col('known_days') > 0)
                      .then(pl.col('no_use_days') / pl.col('known_days')))
   .collect()
   .write_parquet(out))
print(time.perf_counter() - clock)
"""


def peak_mb(command, stdout=subprocess.DEVNULL):
    """Runs `command` under /usr/bin/time; (wall seconds, peak MB, standard output)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        clock = time.perf_counter()
        done = subprocess.run(
            ["/usr/bin/time", "-o", report.name, "-f", "%M"] + command,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
        )
        seconds = time.perf_counter() - clock
        if done.returncode != 0:
            sys.exit(f"{' '.join(command[:3])} failed: {done.stderr.strip()[-500:]}")
        kb = int(report.read().strip().splitlines()[-1])
    return seconds, kb / 1024.0, done.stdout


def check(folder, table):
    """The peer's weekly table must equal the export's `weeks` on every count and PDA."""
    import duckdb

    con = duckdb.connect()
    differ = con.execute(
        f"""SELECT count(*) FROM read_parquet('{table}') p
              FULL JOIN read_parquet('{folder}/weeks/*.parquet') w USING (sid, week)
             WHERE p.days IS DISTINCT FROM w.days
                OR p.use_days IS DISTINCT FROM w.use_days
                OR p.no_use_days IS DISTINCT FROM w.no_use_days
                OR p.known_days IS DISTINCT FROM w.known_days
                OR abs(coalesce(p.pda, -1) - coalesce(w.pda, -1)) > 1e-12"""
    ).fetchone()[0]
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{table}')").fetchone()[0]
    if differ:
        sys.exit(f"{table}: {differ} of {rows} weeks differ from the export's weeks table")
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export")
    parser.add_argument("--as-of", required=True)
    parser.add_argument("--journey", default="journey")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    folder = os.path.abspath(args.export)
    scratch = tempfile.mkdtemp(prefix="bench-peers-")
    results = {}
    for _ in range(max(1, args.runs)):
        measured = {
            "journey metrics (every figure, from the database)": peak_mb(
                [args.journey, "metrics", "--as-of", args.as_of]
            ),
        }
        for name, code in [("DuckDB (weekly table)", DUCKDB), ("polars (weekly table)", POLARS)]:
            table = os.path.join(scratch, name.split()[0] + ".parquet")
            seconds, mb, out = peak_mb(
                [sys.executable, "-c", code, folder, table], stdout=subprocess.PIPE
            )
            measured[name] = (seconds, mb, f"{float(out.strip()):.2f} s of it computing")
            results.setdefault(name + " rows", check(folder, table))
        for name, figures in measured.items():
            best = results.get(name)
            if best is None or figures[0] < best[0]:
                results[name] = figures
    subjects = results["DuckDB (weekly table) rows"]
    print(f"export: {folder}; best of {args.runs} runs; each step its own process")
    print(f"the peers' weekly tables ({subjects} subject-weeks) equal the export's weeks table")
    print(f"{'step':<52} {'seconds':>8} {'peak MB':>8}")
    for name in [
        "journey metrics (every figure, from the database)",
        "DuckDB (weekly table)",
        "polars (weekly table)",
    ]:
        seconds, mb, note = results[name]
        note = note if isinstance(note, str) else ""
        print(f"{name:<52} {seconds:>8.2f} {mb:>8.0f}  {note}")


if __name__ == "__main__":
    main()
