"""R12: recompute the audit trail's hash chain in the warehouse; exit 1 when it is broken.

Usage: python -m scripts.verify_audit   (warehouse: connection kcm_warehouse, default SQLite under KCM_HOME)
"""

from __future__ import annotations

import sys

from include import audit, warehouse


def main(argv: list[str] | None = None) -> int:
    """Verify the chain and print events, head hash and every problem; return the exit code."""
    args = sys.argv[1:] if argv is None else argv
    if args:
        print(__doc__.strip())
        return 0 if args[0] in ("-h", "--help") else 2
    report = audit.verify(warehouse.engine())
    print(f"audit events: {report.events}")
    print(f"head hash:    {report.head_hash}")
    if report.ok:
        print("chain intact (R12)")
        return 0
    print(f"chain BROKEN: {len(report.problems)} problem(s)", file=sys.stderr)
    for problem in report.problems:
        print(f"  - {problem}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
