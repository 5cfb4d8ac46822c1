"""The study config: schema validation with defaults, canonical form, the specs each job gets.

Used by the Snakefile and ``workflow/rules/common.smk``; may import ``data`` and ``train``
(their settings and source checks), never a later stage."""
