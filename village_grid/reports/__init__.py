"""After-action reports: what a task did, as a page and a PDF (docs/reports.md)."""
