"""`.env.example` and the README's table of settings, printed from the declarations.

    python -m glastonbury.settings_docs --env-example > .env.example
    python -m glastonbury.settings_docs --markdown      # the table between the README's markers

tests/unit/test_settings.py fails when a committed file differs from what this prints.
"""

from __future__ import annotations

import sys
import textwrap
from itertools import groupby

from glastonbury.settings import DECLARED

WIDTH = 100
ENV_EXAMPLE_HEAD = """\
# The environment of the local stack (`make up`): every setting, declared in glastonbury.settings.
# Printed by `python -m glastonbury.settings_docs --env-example`: change the declarations, not this.
# An active line is a value `make up` runs with (devtools.devstack); a commented one shows the
# default. The credentials are documented local defaults: any process started outside `make up`
# refuses them (glastonbury/auth.py) and production (docker-compose.yml) requires each to be set.
# Copy what you change into your shell or a .env of your own; never commit a real password.
"""
MARKDOWN_HEAD = ("| variable | default | under `make up` | kind | what |\n"
                 "|---|---|---|---|---|\n")


def env_example() -> str:
    """The text of `.env.example`: each setting's doc, then its line, section by section."""
    parts = [ENV_EXAMPLE_HEAD]
    for section, settings in groupby(DECLARED, key=lambda setting: setting.section):
        parts.append(f"\n# -- {section} ".ljust(WIDTH, "-") + "\n")
        for setting in settings:
            parts.append(textwrap.fill(setting.doc, WIDTH, initial_indent="# ",
                                       subsequent_indent="# ") + "\n")
            if setting.local is not None:
                parts.append(f"{setting.name}={setting.local}\n")
            else:
                parts.append(f"# {setting.name}={setting.default}\n")
    return "".join(parts)


def markdown() -> str:
    """The README's table: one row a setting."""
    rows = [f"| `{s.name}` | {shown(s.default)} | {shown(s.local) if s.local else ''} "
            f"| {s.kind} | {s.doc} |\n" for s in DECLARED]
    return MARKDOWN_HEAD + "".join(rows)


def shown(value: str | None) -> str:
    return f"`{value}`" if value else "unset"


def main(argv: list[str]) -> int:
    printers = {"--env-example": env_example, "--markdown": markdown}
    if len(argv) != 1 or argv[0] not in printers:
        print(f"usage: python -m glastonbury.settings_docs {{{'|'.join(printers)}}}",
              file=sys.stderr)
        return 2
    sys.stdout.write(printers[argv[0]]())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
