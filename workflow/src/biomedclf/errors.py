"""The package's error for wrong user input that a person fixes in the config."""

from __future__ import annotations


class ConfigError(ValueError):
    """A config value is wrong; the message names the key and the fix."""
