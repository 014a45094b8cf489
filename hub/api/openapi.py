"""Print the API's OpenAPI document: `python -m hub.api.openapi > docs/openapi.json`.

The running service does not serve it unauthenticated; the published copy is checked against
the app by the test suite, so it cannot drift.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from hub.api.app import create_app
from hub.bootstrap import bootstrap
from hub.settings import HubSettings


def document() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as scratch:
        hub = bootstrap(HubSettings(data_dir=Path(scratch)))
        try:
            return dict(create_app(hub, hub.token_verifier()).openapi())
        finally:
            hub.close()


if __name__ == "__main__":
    json.dump(document(), sys.stdout, indent=2)
    sys.stdout.write("\n")
