"""The partner register: this hub's identity and its partner hubs, from a YAML file
(`HUB_FEDERATION_REGISTER`; format in docs/federation.md, example in
`hub/samples/federation-register.yaml`). A malformed file is refused naming the file and the
field, never a value (a key or an address is not repeated back)."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from hub.domain.federation import PartnerRegister, error_location


class RegisterError(ValueError):
    """The register file is missing or malformed: the message names the file and the field."""


def load_register(path: Path) -> PartnerRegister:
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise RegisterError(
            f"{path}: cannot read the partner register ({type(error).__name__})"
        ) from None
    try:
        return PartnerRegister.model_validate(document)
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False, include_context=False)[0]
        raise RegisterError(
            f"{path}: {error_location(first) or '(register)'}: {first['msg']}"
        ) from None
