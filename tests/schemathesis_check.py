"""schemathesis (PyPI) against the app's own OpenAPI document, signed in as a family member:
no 500 and no answer outside the document (status, content type, schema).

Usage: schemathesis_check.py BASE_URL USERNAME PASSWORD [MAX_EXAMPLES]
"""

import json
import subprocess
import sys
import urllib.request

base, username, password = sys.argv[1:4]
examples = sys.argv[4] if len(sys.argv) > 4 else "50"

request = urllib.request.Request(
    base + "/api/v1/session",
    data=json.dumps({"username": username, "password": password}).encode(),
    headers={"Content-Type": "application/json"},
    method="POST",
)
with urllib.request.urlopen(request) as response:
    cookie = response.headers["Set-Cookie"].split(";")[0]

checks = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
])
def run(*select):
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", base + "/api/v1/openapi.json",
        "--checks", checks,
        "--max-examples", examples,
        "--header", f"Cookie: {cookie}",
        "--seed", "7",
        *select,
    ]
    print(" ".join(c if not c.startswith("Cookie") else "Cookie: <session>" for c in command), flush=True)
    return subprocess.call(command)


# Signing out, or ending a session by its id (schemathesis reuses the ids it was listed),
# would end the session the other operations run in: they go first, ending a session last.
first = run("--exclude-method", "DELETE")
last = run("--include-name", "DELETE /api/v1/sessions/{id}")
sys.exit(first or last)
