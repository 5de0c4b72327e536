"""Literature flags on measurement rows; thresholds are configurable.

Defaults: severe fat infiltration at >= 50 % (Goutallier-style grading applied to MRI, e.g.
Kjaer 2007 / Fortin 2017 use 50 % as 'severe'); erector spinae / multifidus fat infiltration
>= 49.78 % and psoas CSA <= 11.937 cm2 at L4 are the cut-offs quoted for residual pain and outcome
after vertebral augmentation in the studies SpineQuant serves (see docs/methods.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List

import pandas as pd


@dataclass
class FlagRules:
    severe_fat_percent: float = 50.0
    es_mf_fat_percent: float = 49.78
    psoas_csa_cm2: float = 11.937
    psoas_level: str = "L4"
    psoas_side: str = "both"  # "both" = left + right psoas area; or "left"/"right" per side


def row_flags(row: pd.Series, rules: FlagRules) -> List[str]:
    flags = []
    if row["metric"] == "fat_infiltration":
        if row["value"] >= rules.severe_fat_percent:
            flags.append(f"severe_fat_ge_{rules.severe_fat_percent:g}")
        if row["structure"] in ("erector_spinae", "multifidus") and row["value"] >= rules.es_mf_fat_percent:
            flags.append(f"es_mf_fat_ge_{rules.es_mf_fat_percent:g}")
    if (row["metric"] == "csa" and row["structure"] == "psoas" and row["level"] == rules.psoas_level
            and row["side"] == rules.psoas_side and row["value"] <= rules.psoas_csa_cm2):
        flags.append(f"psoas_csa_le_{rules.psoas_csa_cm2:g}_at_{rules.psoas_level}")
    return flags


def add_flags(table: pd.DataFrame, rules: FlagRules) -> pd.DataFrame:
    """Add a `flag` column (';'-joined names, empty when none applies)."""
    flagged = table.copy()
    if flagged.empty:
        flagged["flag"] = pd.Series(dtype=str)
        return flagged
    flagged["flag"] = [";".join(row_flags(row, rules)) for _, row in flagged.iterrows()]
    return flagged
