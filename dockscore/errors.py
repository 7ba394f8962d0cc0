"""Errors that carry a one-line, user-facing message (no traceback is shown for them)."""


class InputError(ValueError):
    """A user's file or record cannot be used; the message names the file and record."""


class ConfigError(ValueError):
    """A setting that cannot work (an unknown symmetry, device or protocol); the message names the
    setting and the values it takes."""
