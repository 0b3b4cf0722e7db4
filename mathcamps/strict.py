"""The base of every data model the project reads or writes: unknown keys are an error (a typo in
a definition, a frames file or a manifest is said, not ignored), and a model does not change once made."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
