"""Deterministic synthetic Discord Data Packages and their expected analysis (test data).

``generate_package(out_zip, GenOptions(...), expected_path)`` writes a package zip in one of the
:data:`VARIANTS` layouts and returns (and optionally writes as expected.json) the
:class:`Expected` tables that ``docs/insights-semantics.md`` implies for it. Expected values are
computed from what was generated, never by the package parser.
"""

from cordvault.insights.generator.expected import Expected
from cordvault.insights.generator.options import GenOptions
from cordvault.insights.generator.package import generate_package
from cordvault.insights.generator.variants import VARIANTS, VariantSpec

__all__ = ["VARIANTS", "Expected", "GenOptions", "VariantSpec", "generate_package"]
