"""Base classes for every mpctl model.

Owns the two validation stances: `SpecModel` for what users write (unknown keys are errors, values
are frozen) and `ObservedModel` for what remote systems return (unknown keys are ignored, so new
server fields never break a plan). Must not contain any domain rule.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SpecModel(BaseModel):
    """A user-written document or part of one: strict about unknown keys, immutable."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, validate_default=True
    )


class ObservedModel(BaseModel):
    """A representation read from a remote system: tolerant of extra fields, immutable."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)
