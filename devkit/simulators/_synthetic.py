"""Realistic-looking provincial data for the three simulators: people, agencies, times.

Everything comes from one `random.Random`, so a seed reproduces a whole simulated run.
Names carry Vietnamese diacritics on purpose: they exercise UTF-8 end to end.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

# Vietnam does not observe daylight saving: provincial systems stamp times in UTC+7.
ICT = timezone(timedelta(hours=7), "ICT")

PROVINCE_SUFFIX = "H12"
PROVINCE_CODE = f"000.00.00.{PROVINCE_SUFFIX}"

_FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Võ", "Đặng", "Bùi",
           "Đỗ", "Hồ", "Ngô", "Dương", "Lý")
_MIDDLE = ("Văn", "Thị", "Minh", "Ngọc", "Thanh", "Quốc", "Đức", "Hoàng", "Kim", "Hữu")
_GIVEN = ("An", "Bình", "Cường", "Dũng", "Hải", "Hạnh", "Hoa", "Hùng", "Khánh", "Lan",
          "Linh", "Long", "Mai", "Nam", "Phương", "Quang", "Sơn", "Tâm", "Thảo", "Trang",
          "Tuấn", "Việt", "Yến")


class Synthetic:
    """A seeded source of plausible names, agency codes, identity numbers and times."""

    def __init__(self, seed: int | None = None) -> None:
        # Simulated data only: no cryptographic quality needed.
        self.rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets

    def person_name(self) -> str:
        """A full Vietnamese name, family name first."""
        return f"{self.rng.choice(_FAMILY)} {self.rng.choice(_MIDDLE)} {self.rng.choice(_GIVEN)}"

    def department_code(self) -> str:
        """A provincial department (so, ban, nganh), e.g. 000.00.12.H12."""
        return f"000.00.{self.rng.randint(1, 25):02d}.{PROVINCE_SUFFIX}"

    def commune_code(self) -> str:
        """A commune-level unit under a district, e.g. 000.31.07.H12."""
        return f"000.{self.rng.randint(31, 39):02d}.{self.rng.randint(1, 30):02d}.{PROVINCE_SUFFIX}"

    def agency_code(self) -> str:
        """Any unit of the province: department or commune, occasionally the province."""
        roll = self.rng.random()
        if roll < 0.05:
            return PROVINCE_CODE
        return self.department_code() if roll < 0.55 else self.commune_code()

    def identity_number(self) -> str:
        """A 12-digit citizen identity number (CCCD): province code, sex/century, year, serial."""
        province = self.rng.choice(("096", "095", "094", "079", "001"))
        century_sex = self.rng.choice("0123")
        born = self.rng.randint(0, 99)
        return f"{province}{century_sex}{born:02d}{self.rng.randint(0, 999999):06d}"

    def phone(self) -> str:
        """A Vietnamese mobile number."""
        return f"0{self.rng.choice('3579')}{self.rng.randint(0, 99999999):08d}"

    def hex_id(self, length: int = 12) -> str:
        """Random hex digits, for ids that must not collide within a run."""
        return f"{self.rng.getrandbits(length * 4):0{length}x}"


def now_ms() -> datetime:
    """Now in UTC+7, cut to whole milliseconds (the precision Avro timestamp-millis keeps)."""
    now = datetime.now(UTC).astimezone(ICT)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
