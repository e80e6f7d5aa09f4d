"""Checks that a research export explains itself, as a researcher's tools read it: the
package (Frictionless Data Package v2) and its CSV resources are validated by the
`frictionless` PyPI package (types, closed value sets, patterns, primary and foreign keys),
every Parquet resource (a folder of parts) is read by DuckDB and has the rows and
columns of its CSV, and every
column is described in the package itself, with a unit for every number and the closed
value sets declared.

Usage: dataset_check.py FOLDER
Prints one JSON object (rows per resource); exits non-zero with the problems found.
"""
import json
import sys
from pathlib import Path

import duckdb
import frictionless

folder = Path(sys.argv[1])
descriptor = json.loads((folder / "datapackage.json").read_text())
problems = []

if descriptor.get("$schema") != "https://datapackage.org/profiles/2.0/datapackage.json":
    problems.append(f"not a v2 data package: $schema {descriptor.get('$schema')!r}")

# Closed value sets that must be declared (table, column).
CLOSED = [
    ("subjects", "relationship"), ("days", "status"), ("events", "type"),
    ("events", "basis"), ("events", "confidence"), ("events", "status"),
    ("events", "modality"), ("events", "reason"), ("events", "channel"),
    ("events", "response"), ("events", "found"), ("weeks", "phase"),
    ("treatment_episodes", "modality"), ("treatment_episodes", "reason"),
]
for resource in descriptor["resources"]:
    table = resource["name"].rsplit("-", 1)[0]
    if len(resource.get("description", "")) < 30:
        problems.append(f"{resource['name']}: no description of what a row is")
    for field in resource["schema"]["fields"]:
        where = f"{resource['name']}.{field['name']}"
        description = field.get("description", "")
        if len(description) < 30 or ".md" in description:
            problems.append(f"{where}: description {description!r} does not explain itself")
        if field["type"] in ("integer", "number") and not field.get("unit"):
            problems.append(f"{where}: a number without a unit")
        if (table, field["name"]) in CLOSED:
            categories = field.get("categories")
            enum = field.get("constraints", {}).get("enum")
            if not categories or categories != enum:
                problems.append(f"{where}: closed value set not declared ({categories}, {enum})")

# frictionless: the CSV resources, as one package (its foreign keys point at subjects-csv).
csv_only = dict(descriptor, resources=[r for r in descriptor["resources"] if r["format"] == "csv"])
package = frictionless.Package(csv_only, basepath=str(folder))
report = package.validate()
csv_rows = {}
for task in report.tasks:
    csv_rows[task.name.rsplit("-", 1)[0]] = task.stats["rows"]
    for error in task.errors[:5]:
        problems.append(f"frictionless: {task.name}: {error.message}")
for error in report.errors[:5]:
    problems.append(f"frictionless: {error.message}")

# DuckDB: every Parquet resource, against its CSV.
con = duckdb.connect()
READER = {"parquet": "read_parquet('{}')", "csv": "read_csv('{}', header = true)"}
rows = {}
for resource in descriptor["resources"]:
    paths = resource["path"] if isinstance(resource["path"], list) else [resource["path"]]
    if resource["format"] == "parquet":
        # A folder of parts, read as one table (as a researcher would: 'days/*.parquet').
        folders = {str(Path(p).parent) for p in paths}
        if len(folders) != 1 or not all(p.endswith(".parquet") for p in paths):
            problems.append(f"{resource['name']}: parts {paths} are not one folder of Parquet files")
        listed = sorted(str(p.relative_to(folder)) for p in (folder / folders.pop()).glob("*.parquet"))
        if listed != sorted(paths):
            problems.append(f"{resource['name']}: the package lists {paths}, the folder holds {listed}")
        source = READER["parquet"].format(folder / Path(paths[0]).parent / "*.parquet")
    else:
        source = READER["csv"].format(folder / paths[0])
    count = con.execute(f"SELECT count(*) FROM {source}").fetchall()[0][0]
    columns = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
    rows[resource["name"]] = count
    names = [f["name"] for f in resource["schema"]["fields"]]
    if columns != names:
        problems.append(f"duckdb: {resource['name']} columns {columns} != {names}")
    if count != resource["rows"]:
        problems.append(f"duckdb: {resource['name']} {count} rows, the package says {resource['rows']}")
    table = resource["name"].rsplit("-", 1)[0]
    if resource["format"] == "parquet" and csv_rows.get(table) != count:
        problems.append(f"{table}: Parquet {count} rows, CSV {csv_rows.get(table)} (frictionless)")

# The same figures from both files: the weekly use days and PDA.
if "weeks-parquet" in rows:
    sums = [
        con.execute(f"SELECT sum(use_days), sum(pda) FROM {READER[kind].format(folder / name)}").fetchall()[0]
        for kind, name in (("parquet", "weeks/*.parquet"), ("csv", "weeks.csv"))
    ]
    if sums[0][0] != sums[1][0] or abs((sums[0][1] or 0) - (sums[1][1] or 0)) > 1e-9:
        problems.append(f"weeks: Parquet and CSV disagree: {sums}")

if problems:
    print("\n".join(problems))
    sys.exit(1)
print(json.dumps({"rows": rows, "frictionless": report.valid}))
