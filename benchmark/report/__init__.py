"""The markdown report of a run: tables, figures, overlays and words from stored results."""

from benchmark.report.render import render_report

__all__ = ["render_report"]
