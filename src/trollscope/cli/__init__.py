"""The command line: a thin shell over `trollscope.api`.

`commands.py` holds one click command per job (parse, one API call, print); `options.py`
the option groups that several commands share; `show.py` how results are shown (tables,
progress bars, errors in one sentence). Nothing but the console script imports this
package.
"""

from trollscope.cli.commands import cli


def main() -> None:
    cli(prog_name="trollscope")


__all__ = ["cli", "main"]
