"""Agency electronic identifiers (Decision 20/2020/QD-TTg).

At most 35 characters: two to six dot-separated groups of digits and capital letters,
e.g. `000.00.00.H41` (a province) or `000.00.04.G14` (a ministry-level body).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

AGENCY_CODE_PATTERN = r"^[0-9A-Z]{1,10}(\.[0-9A-Z]{1,10}){1,5}$"
_AGENCY_CODE = re.compile(AGENCY_CODE_PATTERN)
_MAX_LENGTH = 35


def is_agency_code(value: str) -> bool:
    """Whether a string is a well-formed agency electronic identifier."""
    return len(value) <= _MAX_LENGTH and _AGENCY_CODE.fullmatch(value) is not None


def _check(value: str) -> str:
    if not is_agency_code(value):
        raise ValueError(
            f"{value!r} is not an agency code: at most 35 characters, dot-separated groups "
            "of digits and capital letters, e.g. 000.00.00.H41"
        )
    return value


AgencyCode = Annotated[str, AfterValidator(_check)]
"""A pydantic field type that accepts only well-formed agency codes."""
