"""The takedown report: one self-contained HTML file per case.

`data.load_report` reads what a detected case holds into plain dataclasses,
`plots` draws the charts as inline SVG, and `render.write_report` fills the packaged
template (autoescaped, no JavaScript, nothing fetched) and writes the file atomically.
"""

from trollscope.report.render import ReportSummary, write_report

__all__ = ["ReportSummary", "write_report"]
