"""Read what Airflow kept (its home folder, its SQLite metadata DB) from another process.

Opening and closing Airflow's SQLite file in the test process would drop the POSIX locks
of Airflow's own connections in this process (a close releases every lock the process
holds on the file): its later reads go stale and its writes fail with "disk I/O error".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

_ALL_BYTES = """
import sys
from pathlib import Path
home = Path(sys.argv[1])
for path in sorted(home.rglob("*")):
    if path.is_file() and not path.is_symlink():
        sys.stdout.buffer.write(path.read_bytes())
"""

_QUERY = """
import json, sqlite3, sys
with sqlite3.connect(sys.argv[1]) as db:
    rows = db.execute(sys.argv[2], json.loads(sys.argv[3])).fetchall()
print(json.dumps([[v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in row] for row in rows]))
"""


def home() -> Path:
    return Path(os.environ["AIRFLOW_HOME"])


def everything_kept() -> bytes:
    """Every byte under AIRFLOW_HOME: task logs and the metadata DB (XCom, run conf, audit log)."""
    return subprocess.run([sys.executable, "-c", _ALL_BYTES, str(home())], capture_output=True, check=True,
                          timeout=300).stdout  # fmt: skip


def query(statement: str, params: tuple = ()) -> list[list]:
    """Rows of a query on Airflow's SQLite metadata DB."""
    found = subprocess.run([sys.executable, "-c", _QUERY, str(home() / "airflow.db"), statement, json.dumps(params)],
                           capture_output=True, text=True, check=True, timeout=120)  # fmt: skip
    return json.loads(found.stdout)
