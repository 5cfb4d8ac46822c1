"""What a reader sees: tables (CSV and Markdown), figures (PNG) and ``summary.md``, each
written to the files its rule names.

Used by ``workflow/rules/report.smk``; may import every earlier stage (stats, crossval,
explain, evaluate, train, data) and the shared modules (docs/architecture.md)."""
