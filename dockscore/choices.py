"""The settings every command shares, each declared once with the values it takes: symmetry,
device, the enantiomer search protocol and which stereoisomers to compare. Library and command
line call the same check, so a wrong value reads the same wherever it is given. Light: no torch."""

from __future__ import annotations

from dockscore.errors import ConfigError

SYMMETRIES = ("e3", "se3")
SYMMETRY_HELP = ("e3: invariant to rotation, translation and reflection. se3: rotation/translation only "
                 "(parity-odd features see handedness).")
PROTOCOLS = ("anchored", "symmetric")
STEREOISOMERS = ("enantiomer", "all")


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ConfigError(f"{name} must be {' or '.join(allowed)}, not {value!r}")
    return value


def check_symmetry(value: str, name: str = "--symmetry") -> str:
    return _one_of(name, value, SYMMETRIES)


def check_protocol(value: str, name: str = "--protocol") -> str:
    return _one_of(name, value, PROTOCOLS)


def check_stereoisomers(value: str, name: str = "--stereoisomers") -> str:
    return _one_of(name, value, STEREOISOMERS)


def check_device(value: str, name: str = "--device") -> str:
    """``cpu``, ``cuda`` or ``cuda:N`` (whether that GPU exists is the model's question, asked when it loads)."""
    if value == "cpu" or value == "cuda" or (value.startswith("cuda:") and value[5:].isdigit()):
        return value
    raise ConfigError(f"{name} must be cpu or cuda[:N], not {value!r}")
