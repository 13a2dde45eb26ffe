"""R8: render the register of processing (GDPR art. 30(2)) from the data map and the client configs.

Usage: python -m scripts.render_register [OUTPUT_FOLDER]   (default KCM_HOME/reports)
Writes register.html and register.md; client configs that do not validate are listed by file
name in the register and on stderr, and make the exit code 1.
"""

from __future__ import annotations

import sys
from pathlib import Path

from include import config, register


def main(argv: list[str] | None = None) -> int:
    """Write the register and print where; return the exit code."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or (args and args[0] in ("-h", "--help")):
        print(__doc__.strip())
        return 0 if args and args[0] in ("-h", "--help") else 2
    paths = register.write(Path(args[0]) if args else None)
    for kind, path in paths.items():
        print(f"register ({kind}): {path}")
    _clients, errors = config.load_clients()
    for error in errors:
        print(error.message, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
