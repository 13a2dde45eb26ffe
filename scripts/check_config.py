"""R1: validate every client config; one OK line per client, every error in full, exit 1 on any error.

Usage: python -m scripts.check_config [FOLDER]   (default: KCM_CLIENTS_DIR or include/clients/)
"""

from __future__ import annotations

import sys
from pathlib import Path

from include import config, settings


def main(argv: list[str] | None = None) -> int:
    """Check the clients folder; return the exit code (0 all valid, 1 any error)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or (args and args[0] in ("-h", "--help")):
        print(__doc__.strip())
        return 0 if args and args[0] in ("-h", "--help") else 2
    folder = Path(args[0]).resolve() if args else settings.clients_dir()
    if not folder.is_dir():
        print(f"ERROR {folder}: no such folder; fix: pass the folder that holds the client YAML files", file=sys.stderr)
        return 1
    clients, errors = config.load_clients(folder)
    for client in clients:
        print(
            f"OK    {client.client_id}: {client.name} ({client.country}), retention {client.retention_months} months, "
            f"{len(client.assignments)} assignment(s)"
        )
    for error in errors:
        print(f"ERROR {error.message}", file=sys.stderr)
    if not clients and not errors:
        print(f"ERROR {folder}: no client configs (*.yaml) found; fix: add one YAML file per client", file=sys.stderr)
        return 1
    print(f"{len(clients)} client config(s) valid, {len(errors)} with errors in {folder}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
