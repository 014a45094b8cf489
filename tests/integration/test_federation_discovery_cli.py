"""`hub federation publish-holdings`, `hub federation answer --once` and `hub federation ask`
between two hubs over the tansu broker (the hubs and their registers as in
`test_federation_discovery`)."""

from __future__ import annotations

import orjson
import pytest

from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.bootstrap import Hub
from hub.cli import main
from tests.integration.test_federation_discovery import (
    ASKER,
    HELD,
    STRANGER,
    Answering,
    two_hubs,
)

pytestmark = pytest.mark.kafka
__all__ = ["two_hubs"]


def test_the_cli_asks_and_publishes(
    two_hubs: tuple[Hub, Hub],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    shire, wessex = two_hubs
    wessex_dir, shire_dir = str(wessex.settings.data_dir), str(shire.settings.data_dir)
    monkeypatch.setenv("HUB_DIRECTORY", str(SAMPLE_DIRECTORY_PATH))
    monkeypatch.setenv("HUB_FEDERATION_REGISTER", str(wessex.settings.federation_register))
    assert main(["federation", "publish-holdings", "--data-dir", wessex_dir]) == 0
    assert "Sent holdings of 1 children to shire." in capsys.readouterr().out
    monkeypatch.setenv("HUB_FEDERATION_REGISTER", str(shire.settings.federation_register))
    assert main(["federation", "answer", "--once", "--idle-s", "2", "--data-dir", shire_dir]) == 0
    assert "holdings-kept: 1" in capsys.readouterr().out
    with Answering(wessex):
        code = main(
            ["federation", "ask", "--child", HELD, "--practitioner", ASKER,
             "--data-dir", shire_dir, "--format", "json"]
        )  # fmt: skip
    assert code == 0
    document = orjson.loads(capsys.readouterr().out)
    assert document["answers"][0]["outcome"] == "holds"
    assert document["words"][0].startswith("Wessex Safeguarding Children Partnership holds")
    code = main(
        ["federation", "ask", "--child", HELD, "--practitioner", STRANGER, "--data-dir", shire_dir]
    )
    assert code == 4
    assert "relationship" in capsys.readouterr().out
