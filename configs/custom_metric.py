"""A custom metric for configs/yesno.yaml (metric: {python: custom_metric.py:lenient_yes_no}).

opro calls it as ``lenient_yes_no(prediction, target)`` for every scored example; it must return
a number in [0, 1] (True/False also work).
"""

from __future__ import annotations

import re

_YES_NO = re.compile(r"\b(yes|no)\b", re.IGNORECASE)


def lenient_yes_no(prediction: str, target: str) -> float:
    """1.0 if the first "yes"/"no" word in the prediction equals the target, else 0.0.

    "Yes, it is." and "**No**." both count; "I don't know" (no yes/no word) scores 0.
    Case is ignored, and so is anything after the first yes/no word.
    """
    match = _YES_NO.search(prediction)
    if match is None:
        return 0.0
    return 1.0 if match.group(1).lower() == target.strip().lower() else 0.0
