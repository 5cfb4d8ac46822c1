"""What a reader sees: tables (CSV and Markdown), figures (PNG) and ``summary.md``.

Used by ``workflow/rules/report.smk`` and the figure rules of ``explain.smk`` and
``crossval.smk``; may import every earlier stage (stats, crossval, explain, evaluate, train)."""
