"""The report's plain words for what the case stores under internal names: detection
parameters, identity signals, and pair evidence lines reworded so that each count stands
with its own noun (issue 22: "reposted 5 ... within 60 s (11 in the same 6-hour period
where 1.4 were expected)" read as if 11 and 1.4 were about the 5)."""

from __future__ import annotations

import re

# Detection parameters (detect_runs.params) as a reader names them. A key not listed here
# (a newer version's) is shown with its underscores as spaces.
PARAM_NAMES = {
    "traces": "Traces tested",
    "window": "Co-action window",
    "q": "False discovery rate (q)",
    "period_s": "Period of the popularity null",
    "jitter_s": "Timeline shift of the synchrony null",
    "seed": "Random seed",
    "leiden_runs": "Community detection runs (Leiden)",
    "max_burst": "Largest burst tested (accounts)",
    "signals": "Identity signals computed",
    "memory_limit": "Memory limit",
    "min_participation": "CooRTweet's min participation (a threshold beside the tests)",
    "min_weight": "CNT's min edge weight (a threshold beside the tests)",
}
# Parameters whose None means "not used", not "the default".
_OFF_WHEN_NONE = {"min_participation", "min_weight"}

# Identity signals (account_signals.signal) as a label before their own evidence line.
SIGNAL_NAMES = {
    "avatar": "Profile picture",
    "creation-burst": "Created in a burst",
    "profile": "Profile template",
    "rhythm": "Office-hours rhythm",
    "content-mix": "Content mix",
}


def param_name(key: str) -> str:
    return PARAM_NAMES.get(key, key.replace("_", " ").capitalize())


def _duration(seconds: float) -> str:
    """'6 hours', '30 min', '90 s'."""
    if seconds >= 3600 and seconds % 3600 == 0:
        hours = seconds / 3600
        return f"{hours:g} hour{'' if hours == 1 else 's'}"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def param_value(key: str, value: object) -> str:
    """A parameter's value in words: durations in hours or minutes, None as the default."""
    if value is None:
        if key in _OFF_WHEN_NONE:
            return "off"
        return "automatic, per trace" if key == "window" else "default"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key.endswith("_s") and isinstance(value, int | float):
        return _duration(float(value))
    if isinstance(value, float) and value.is_integer():
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def signal_name(signal: str) -> str:
    return SIGNAL_NAMES.get(signal, signal.replace("-", " ").capitalize())


# A pair's evidence line as detect/evidence.py writes it:
#   "<said> within <w> s (<shared> in the same <period> where <expected> were expected by
#    chance); <p>"
_PAIR = re.compile(
    r"^(?P<said>.+?) within (?P<window>[0-9.]+ s) \((?P<shared>[0-9,]+) in the same "
    r"(?P<period>.+?) where (?P<expected>[0-9.e+-]+) were expected by chance\); (?P<p>p .+)$"
)


def pair_line(line: str) -> str:
    """A pair's evidence line with its two counts apart: the items acted on within the
    window, then (its own sentence) the items both acted on in one period against chance.
    A line in another shape (an older or newer version's) is returned as it is."""
    found = _PAIR.match(line)
    if found is None:
        return line
    return (
        f"{found['said']} within {found['window']} ({found['p']}). Within the same "
        f"{found['period']} the two shared {found['shared']} items, where chance predicts "
        f"{found['expected']}."
    )
