"""CSV cells a spreadsheet would run as a formula, neutralised (CSV injection).

Spreadsheets (Excel, LibreOffice, Google Sheets) evaluate a cell that begins with "=",
"+", "-" or "@" (and some when a tab or carriage return comes first) as a formula: a
handle like `=HYPERLINK("http://evil", "click")` becomes a live link in the analyst's
sheet, and older versions ran commands. Everything in a post or profile is hostile, and
the people who open trollscope's CSV files (journalists, trust & safety analysts) open
them in spreadsheets. So text cells that begin with one of those characters are written
with a single quote in front, which spreadsheets show as text: OWASP's advice. Scripts
that want the data's exact values ask for them (`exact`, the CLI's --exact-csv).
"""

from __future__ import annotations

import duckdb

from trollscope.sql import ident

# A cell a spreadsheet reads as a formula: it begins with one of = + - @ tab CR.
FORMULA_START = r"^[=+\-@\t\r]"


def safe_sql(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    """`sql` with every text column's formula-like values prefixed by a single quote.
    Numbers, times, lists and structs are left alone: DuckDB writes lists and structs
    beginning with "[" or "{", which no spreadsheet evaluates."""
    relation = con.sql(sql)
    texts = [c for c, t in zip(relation.columns, relation.types, strict=True) if t == "VARCHAR"]
    if not texts:
        return sql
    replaced = ", ".join(
        f"CASE WHEN regexp_matches({ident(c)}, '{FORMULA_START}') "
        f"THEN '''' || {ident(c)} ELSE {ident(c)} END AS {ident(c)}"
        for c in texts
    )
    return f"SELECT * REPLACE ({replaced}) FROM ({sql})"
