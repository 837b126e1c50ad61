"""The knobs of one generation run."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.insights.generator.variants import VARIANTS, VariantSpec

MIN_MESSAGES = 100
MAX_COMPRESS_LEVEL = 9
Profile = Literal["uniform", "realistic"]
PROFILES: tuple[Profile, ...] = ("uniform", "realistic")


@dataclass(frozen=True)
class GenOptions:
    """``messages``: good messages over all channels; ``events``: analytics lines, all shards.

    ``profile``: ``uniform`` (27 channels, messages and events spread evenly over the years:
    nearly every message its own (channel, hour), the worst case for the output's size) or
    ``realistic`` (heavy-tailed channel sizes over a few hundred channels, messages in
    conversations on active days at evening-heavy hours, a real-world event mix; see
    ``generator/realism.py``), the profile for size measurements.
    """

    variant: str = "modern"
    seed: int = 1
    messages: int = 2_000
    events: int = 5_000
    compress_level: int = 6
    profile: Profile = "uniform"

    def spec(self) -> VariantSpec:
        """The variant preset; INVALID_INPUT for an unknown name."""
        spec = VARIANTS.get(self.variant)
        if spec is None:
            names = ", ".join(sorted(VARIANTS))
            raise CordvaultError(
                ErrorCode.INVALID_INPUT, f"unknown variant {self.variant!r} (one of: {names})"
            )
        return spec

    def check(self) -> VariantSpec:
        """Validate every option; INVALID_INPUT with the reason otherwise."""
        spec = self.spec()
        if self.messages < MIN_MESSAGES:
            raise CordvaultError(
                ErrorCode.INVALID_INPUT, f"messages must be at least {MIN_MESSAGES}"
            )
        if self.events < 0:
            raise CordvaultError(ErrorCode.INVALID_INPUT, "events must not be negative")
        if self.profile not in PROFILES:
            raise CordvaultError(
                ErrorCode.INVALID_INPUT, f"profile must be one of {', '.join(PROFILES)}"
            )
        if not 0 <= self.compress_level <= MAX_COMPRESS_LEVEL:
            raise CordvaultError(ErrorCode.INVALID_INPUT, "compress level must be 0-9")
        return spec

    def as_json(self) -> dict[str, object]:
        """The options as written in expected.json."""
        return asdict(self)
