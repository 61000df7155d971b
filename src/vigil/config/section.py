"""What every settings section is: a pydantic model that refuses unknown keys and checks its defaults."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)
