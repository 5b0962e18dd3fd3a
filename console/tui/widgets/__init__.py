"""Reusable widgets of the console: header, status line, keyed table, chart, steps."""
