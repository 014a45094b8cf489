"""A real OpenID provider for the sign-in tests: panva/oidc-provider (npm) under Node.js.

`tests/oidc_provider/` holds the provider app and its lockfile; `make test` runs
`npm ci --prefix tests/oidc_provider` (the `oidc-provider` target), and the `identity_provider`
fixture (tests/conftest.py) does the same when node_modules is missing. The provider listens on
a free loopback port; the hub under test must be served at `hub_url` (a port reserved for it),
where the provider's clients have their redirect, post-logout and back-channel logout URIs.

Two clients, one per way the hub authenticates at the token endpoint: `hub-key`
(private_key_jwt with a key made here) and `hub-secret` (client_secret_basic). Accounts sign in
with any password; their `practitioner_id` claim is the directory id the hub maps to.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from joserfc.jwk import RSAKey

PROVIDER_DIR = Path(__file__).resolve().parent / "oidc_provider"
ACR_VALUES = ["AAL3", "AAL1"]
ACCOUNTS = {
    # login at the provider -> claims; the provider's subject is the login, never the hub's id
    "alice.lead": {"practitioner_id": "lcpp-0001", "name": "Alice Lead"},
    "dora.dpo": {"practitioner_id": "dpo-0001", "name": "Dora DPO"},
    "nobody": {"practitioner_id": "not-in-the-directory", "name": "No Body"},
}
CLIENT_SECRET = "test-client-secret-not-for-any-deployment-000"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class IdentityProvider:
    issuer: str
    hub_port: int
    resource: str  # the API's audience: the provider's JWT access tokens carry it
    client_key_file: Path
    log: Path

    @property
    def hub_url(self) -> str:
        return f"http://127.0.0.1:{self.hub_port}"

    def hub_env(self, client: str = "hub-key") -> dict[str, str]:
        """The hub's settings to sign in with this provider as `client`."""
        env = {
            "HUB_OIDC_ISSUER": self.issuer,
            "HUB_OIDC_AUDIENCE": self.resource,
            "HUB_OIDC_CLIENT_ID": client,
            "HUB_OIDC_PRACTITIONER_CLAIM": "practitioner_id",
            "HUB_OIDC_REQUIRED_ACR": "AAL3",
            "HUB_PUBLIC_URL": self.hub_url,
            "HUB_DEV_TOKENS": "false",
        }
        if client == "hub-key":
            env["HUB_OIDC_CLIENT_KEY_FILE"] = str(self.client_key_file)
        else:
            env["HUB_OIDC_CLIENT_SECRET"] = CLIENT_SECRET
        return env


def install_provider() -> None:
    """`npm ci` from the lockfile when node_modules is missing (a fresh machine)."""
    if (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("the sign-in tests need Node.js and npm (make oidc-provider)")
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--prefix", str(PROVIDER_DIR)],
        check=True,
        capture_output=True,
        timeout=600,
    )


def provider_config(port: int, hub_port: int, public_jwk: dict[str, object]) -> dict[str, object]:
    hub = f"http://127.0.0.1:{hub_port}"
    common = {
        "redirect_uris": [f"{hub}/auth/callback"],
        "post_logout_redirect_uris": [f"{hub}/auth/signed-out"],
        "backchannel_logout_uri": f"{hub}/auth/backchannel-logout",
        "backchannel_logout_session_required": True,
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
    }
    return {
        "port": port,
        "resource": f"{hub}/api",
        "acr_values": ACR_VALUES,
        "accounts": ACCOUNTS,
        "clients": [
            {
                **common,
                "client_id": "hub-key",
                "token_endpoint_auth_method": "private_key_jwt",
                "token_endpoint_auth_signing_alg": "RS256",
                "jwks": {"keys": [public_jwk]},
            },
            {
                **common,
                "client_id": "hub-secret",
                "client_secret": CLIENT_SECRET,
                "token_endpoint_auth_method": "client_secret_basic",
            },
        ],
    }


@contextmanager
def running_identity_provider(work: Path) -> Iterator[IdentityProvider]:
    """Start the provider (installing it first if need be); stop it afterwards."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("the sign-in tests need Node.js (20 or later)")
    install_provider()
    key = RSAKey.generate_key(2048, private=True)
    key_file = work / "hub-client-key.pem"
    key_file.write_bytes(key.as_pem(private=True))
    key_file.chmod(0o600)
    port, hub_port = free_port(), free_port()
    config = work / "provider.json"
    config.write_text(json.dumps(provider_config(port, hub_port, key.as_dict(private=False))))
    log = work / "provider.log"
    issuer = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [node, str(PROVIDER_DIR / "provider.mjs"), str(config)],
        cwd=PROVIDER_DIR,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"the OpenID provider exited: {log.read_text()[-2000:]}")
            try:
                discovery = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=1)
                if discovery.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the OpenID provider did not answer: {log.read_text()[-2000:]}")
            time.sleep(0.1)  # bounded poll while the port opens
        yield IdentityProvider(issuer, hub_port, f"http://127.0.0.1:{hub_port}/api", key_file, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
