"""Resident identity numbers (GB 11643-1999): validation and the keyed hash we store.

The number itself is never stored. A keyed hash (HMAC-SHA256) lets the hub find an exact
duplicate without keeping anything that a leaked table could be searched with; the key lives
outside the database.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"


@dataclass(frozen=True)
class IdNumber:
    normalized: str

    @property
    def birth_date(self) -> date:
        digits = self.normalized[6:14]
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))

    @property
    def tail(self) -> str:
        return self.normalized[-4:]

    def keyed_hash(self, key: bytes) -> str:
        return hmac.new(key, self.normalized.encode(), hashlib.sha256).hexdigest()


def check_character(first17: str) -> str:
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def parse_id_number(raw: str) -> IdNumber:
    """Parse an 18-character number; raise ValueError with a reason a person can act on."""
    value = raw.strip().upper()
    if (
        len(value) != 18
        or not value[:17].isdigit()
        or not (value[17].isdigit() or value[17] == "X")
    ):
        raise ValueError("an ID number has 17 digits followed by a digit or X")
    if check_character(value[:17]) != value[17]:
        raise ValueError("the ID number's check character does not match")
    number = IdNumber(value)
    try:
        number.birth_date  # noqa: B018 - validates the embedded date
    except ValueError as exc:
        raise ValueError("the ID number does not contain a valid birth date") from exc
    return number
