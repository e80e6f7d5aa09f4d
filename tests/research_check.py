"""Checks a research export folder the way a researcher's tools read it (pyarrow, pandas).

Usage: research_check.py FOLDER FORBIDDEN_FILE
FORBIDDEN_FILE holds one string per line (note texts, reporter handles, journey keys) that
must not appear anywhere in the export. Exits non-zero with a message on the first problem.
"""
import hashlib
import json
import re
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

folder = Path(sys.argv[1])
forbidden = [line for line in Path(sys.argv[2]).read_text().splitlines() if line]
package = json.loads((folder / "datapackage.json").read_text())

DATE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{2,4}")
_NAMES = (
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec "
    "monday tuesday wednesday thursday friday saturday sunday mon tue wed thu fri sat sun"
).split()
MONTHS = re.compile(r"\b(" + "|".join(_NAMES) + r")\b", re.IGNORECASE)
ARROW = {"string": ("string", "large_string", "string_view"), "integer": ("int64",), "number": ("double",), "boolean": ("bool",)}

problems = []
for resource in package["resources"]:
    fields = resource["schema"]["fields"]
    names = [f["name"] for f in fields]
    if resource["format"] == "parquet":
        # A folder of parts: pyarrow reads the folder as one table.
        path = (folder / resource["path"][0]).parent
        table = pq.read_table(path)
        if table.column_names != names:
            problems.append(f"{path.name}: columns {table.column_names} != schema {names}")
        for f in fields:
            arrow = str(table.schema.field(f["name"]).type)
            if arrow not in ARROW[f["type"]] and arrow != "null":
                problems.append(f"{path.name}: {f['name']} is {arrow}, schema says {f['type']}")
        frame = table.to_pandas()
    else:
        path = folder / resource["path"]
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        if list(frame.columns) != names:
            problems.append(f"{path.name}: CSV header {list(frame.columns)} != schema {names}")
    if len(frame) != resource["rows"]:
        problems.append(f"{path.name}: {len(frame)} rows, datapackage says {resource['rows']}")
    for column in frame.columns:
        for value in frame[column].dropna().astype(str).unique():
            if DATE.search(value) or MONTHS.search(value):
                problems.append(f"{path.name}: {column} value {value!r} looks like a date")
                break

for path in folder.rglob("*"):
    if path.is_dir():
        continue
    data = path.read_bytes()
    for text in forbidden:
        if text.encode() in data:
            problems.append(f"{path.name} contains forbidden text {text!r}")

manifest = json.loads((folder / "manifest.json").read_text())
for entry in manifest["files"]:
    digest = hashlib.sha256((folder / entry["path"]).read_bytes()).hexdigest()
    if digest != entry["sha256"]:
        problems.append(f"manifest: {entry['path']} sha256 differs")

if problems:
    print("\n".join(problems))
    sys.exit(1)
sids = sorted(pd.read_parquet(folder / "subjects")["sid"])
print(json.dumps({"sids": sids, "rows": {r["name"]: r["rows"] for r in package["resources"]}}))
