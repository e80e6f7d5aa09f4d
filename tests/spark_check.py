"""Reads a research export with Spark (pyspark, local mode, Java 17) as a researcher would:
each table's folder of Parquet parts with `spark.read.parquet('days/')`, and computes a
cohort figure from it: each subject's percent days abstinent before and since the CRAFT
start, pooled over its baseline and CRAFT weeks.

Usage: spark_check.py FOLDER
Prints JSON: {"rows": {table: count}, "pda": [[baseline, craft], ...]} (sorted; null where
a phase has no known day).
"""
import json
import os
import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

folder = sys.argv[1]
spark = (
    SparkSession.builder.master("local[1]")
    .appName("journey-research-export")
    .config("spark.ui.enabled", "false")
    .config("spark.sql.shuffle.partitions", "2")
    .config("spark.driver.memory", "512m")
    .getOrCreate()
)
spark.sparkContext.setLogLevel("ERROR")
try:
    tables = ["subjects", "days", "events", "weeks", "treatment_episodes"]
    rows = {t: spark.read.parquet(os.path.join(folder, t)).count() for t in tables}
    weeks = spark.read.parquet(os.path.join(folder, "weeks"))
    pooled = (
        weeks.where(F.col("phase").isNotNull())
        .groupBy("sid")
        .agg(
            F.sum(F.when(F.col("phase") == "baseline", F.col("no_use_days"))).alias("b_no_use"),
            F.sum(F.when(F.col("phase") == "baseline", F.col("known_days"))).alias("b_known"),
            F.sum(F.when(F.col("phase") == "craft", F.col("no_use_days"))).alias("c_no_use"),
            F.sum(F.when(F.col("phase") == "craft", F.col("known_days"))).alias("c_known"),
        )
        .collect()
    )

    def ratio(part, whole):
        return part / whole if whole else None

    pda = sorted(
        ([ratio(r.b_no_use, r.b_known), ratio(r.c_no_use, r.c_known)] for r in pooled),
        key=lambda pair: [(-1.0 if v is None else v) for v in pair],
    )
    print(json.dumps({"rows": rows, "pda": pda}))
finally:
    spark.stop()
