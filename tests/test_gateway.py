"""The hub in a federated graph, for real: a `hub serve` process, the example homework subgraph
and the Hive Gateway configured in deploy/gateway, all on loopback. Queries cross the two
subgraphs with real Bearer tokens, and the hub's rules hold through the gateway: it forwards the
caller's token, the hub resolves only what the caller may see, and the homework service only
ever hears of those children.

Node.js and npm are needed; the gateway's packages are installed here if they are missing. Where
HUB_TEST_REQUIRE_GATEWAY is set (continuous integration sets it), a machine without Node.js fails
the test instead of skipping it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.settings import Settings
from tests.auth import Tokens
from tests.conftest import TEST_SETTINGS
from tests.processes import Service, free_port, running
from tests.registry_data import add_child, add_need, gid
from tests.world import FOREIGN_VILLAGE, TOWNSHIP, VILLAGE, World

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
GATEWAY_DIR = ROOT / "deploy" / "gateway"
GATEWAY_BIN = GATEWAY_DIR / "node_modules" / ".bin" / "hive-gateway"
EXAMPLE_DIR = ROOT / "examples" / "homework"


def pinned_gateway_version() -> str:
    manifest = json.loads((GATEWAY_DIR / "package.json").read_text())
    return str(manifest["dependencies"]["@graphql-hive/gateway"])


def installed_gateway_version() -> str | None:
    manifest = GATEWAY_DIR / "node_modules" / "@graphql-hive" / "gateway" / "package.json"
    if not manifest.exists() or not GATEWAY_BIN.exists():
        return None
    return str(json.loads(manifest.read_text())["version"])


@pytest.fixture(scope="module")
def gateway_bin() -> Path:
    """The gateway's command, its packages installed from the lockfile if they are not yet."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        message = "Node.js and npm are needed to run the federation gateway"
        if os.environ.get("HUB_TEST_REQUIRE_GATEWAY"):
            pytest.fail(message)
        pytest.skip(message)
    if installed_gateway_version() != pinned_gateway_version():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=GATEWAY_DIR,
            check=True,
            timeout=900,
            stdout=subprocess.DEVNULL,
        )
    assert installed_gateway_version() == pinned_gateway_version()
    return GATEWAY_BIN


@pytest.fixture(scope="module")
def hub_port() -> int:
    return free_port()


@pytest.fixture
def settings(tmp_path: Path, hub_port: int) -> Settings:
    """The test's own view of the hub process's settings, so that its tokens verify there."""
    return Settings(
        env="prod",
        data_dir=tmp_path,
        issuer=f"http://127.0.0.1:{hub_port}",
        **TEST_SETTINGS,  # type: ignore[arg-type]
    )


@dataclass
class Graph:
    hub: str
    homework: str
    gateway: str
    services: list[Service]

    def ask(
        self,
        url: str,
        query: str,
        variables: dict[str, Any] | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = httpx.post(
            url, json={"query": query, "variables": variables or {}}, headers=headers, timeout=30
        )
        assert response.headers["content-type"].startswith(
            ("application/json", "application/graphql-response+json")
        ), response.text
        body: dict[str, Any] = response.json()
        return body

    def through_gateway(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        return self.ask(self.gateway, query, variables, token)

    def logs(self) -> str:
        return "\n".join(f"--- {s.name}\n{s.log_tail(15)}" for s in self.services)


@pytest.fixture
def start_graph(
    gateway_bin: Path, database_url: str, settings: Settings, hub_port: int, tmp_path: Path
) -> Iterator[Callable[[dict[str, Any]], Graph]]:
    """Starts the hub, the homework service (given the school's records) and the gateway."""
    with contextlib.ExitStack() as stack:

        def start(records: dict[str, Any]) -> Graph:
            data = tmp_path / "homework.json"
            data.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
            homework_port, gateway_port = free_port(), free_port()
            hub_url = f"http://127.0.0.1:{hub_port}"
            homework_url = f"http://127.0.0.1:{homework_port}"
            env = {key: value for key, value in os.environ.items() if not key.startswith("HUB_")}
            hub = stack.enter_context(
                running(
                    "hub",
                    [sys.executable, "-m", "hub.cli", "serve", "--port", str(hub_port)],
                    env={
                        **env,
                        "HUB_DATABASE_URL": database_url,
                        "HUB_DATA_DIR": str(tmp_path / "hub"),
                        "HUB_ENV": "prod",
                        "HUB_ISSUER": settings.public_url,
                        "HUB_ID_HASH_KEY": str(TEST_SETTINGS["id_hash_key"]),
                        "HUB_KEY_ENCRYPTION_KEY": str(TEST_SETTINGS["key_encryption_key"]),
                        "HUB_LOG_LEVEL": "WARNING",
                    },
                    log_dir=tmp_path,
                    stop_signal=signal.SIGINT,
                )
            )
            homework = stack.enter_context(
                running(
                    "homework",
                    [
                        *(sys.executable, "-m", "uvicorn", "homework:create_app", "--factory"),
                        *("--app-dir", str(EXAMPLE_DIR), "--host", "127.0.0.1"),
                        *("--port", str(homework_port)),
                    ],
                    env={**env, "HOMEWORK_HUB_ISSUER": hub_url, "HOMEWORK_DATA": str(data)},
                    log_dir=tmp_path,
                )
            )
            hub.wait_until(
                lambda: httpx.get(f"{hub_url}/readyz", timeout=2).status_code == 200, seconds=90
            )
            homework.wait_until(
                lambda: httpx.get(f"{homework_url}/healthz", timeout=2).status_code == 200,
                seconds=30,
            )
            # Started once both subgraphs answer, the gateway composes them at once.
            gateway = stack.enter_context(
                running(
                    "gateway",
                    [
                        *(str(gateway_bin), "supergraph", "--host", "127.0.0.1"),
                        *("--port", str(gateway_port)),
                    ],
                    env={
                        **env,
                        "SUBGRAPHS": f"hub={hub_url}/graphql homework={homework_url}/graphql",
                    },
                    cwd=GATEWAY_DIR,
                    log_dir=tmp_path,
                )
            )
            graph = Graph(
                hub=f"{hub_url}/graphql",
                homework=f"{homework_url}/graphql",
                gateway=f"http://127.0.0.1:{gateway_port}/graphql",
                services=[hub, homework, gateway],
            )
            gateway.wait_until(lambda: composed(graph), seconds=90)
            return graph

        yield start


def composed(graph: Graph) -> bool:
    body = graph.through_gateway('{ __type(name: "Child") { fields { name } } }')
    fields = {field["name"] for field in body["data"]["__type"]["fields"]}
    return {"code", "school", "homework"} <= fields


CHILD = """
query($id: ID!) {
  viewer { login }
  child(id: $id) {
    id code school county { name }
    homework { subject tutor weeklyHours }
    needs { id category tutoringSessions { date hours topic place { code name level } } }
  }
}
"""

CHILDREN = "{ children { nodes { id code school homework { subject } } } }"


async def test_a_query_crosses_the_hub_and_the_homework_service_under_the_hubs_rules(
    start_graph: Callable[[dict[str, Any]], Graph],
    engine: AsyncEngine,
    world: World,
    tokens: Tokens,
) -> None:
    home = await add_child(engine, region=VILLAGE)
    home_need = await add_need(engine, home)
    foreign = await add_child(engine, region=FOREIGN_VILLAGE, full_name="李小红")
    foreign_need = await add_need(engine, foreign)
    home_id, foreign_id = gid("Child", home.id), gid("Child", foreign.id)
    session = {"date": "2024-03-04", "hours": 1.5, "tutor": "李老师", "topic": "分数"}
    graph = start_graph(
        {
            "homework": {
                home.code: [{"subject": "数学", "tutor": "李老师", "weeklyHours": 2}],
                foreign.code: [{"subject": "英语", "tutor": "黄老师", "weeklyHours": 1}],
            },
            "tutoringSessions": {
                gid("Need", home_need.id): [{**session, "place": TOWNSHIP}],
                gid("Need", foreign_need.id): [{**session, "topic": "单词"}],
            },
        }
    )
    officer = await tokens.member("officer")
    ngo_worker = await tokens.member("ngo_worker")
    foreign_officer = await tokens.member("foreign_officer")

    # The county's officer: the hub's fields and the school's, in one answer; the session's
    # place is a Region reference that the gateway resolved back at the hub with the token.
    body = graph.through_gateway(CHILD, {"id": home_id}, officer)
    assert "errors" not in body, (body, graph.logs())
    assert body["data"]["viewer"] == {"login": "officer"}  # the token reached the hub
    child = body["data"]["child"]
    assert child["code"] == home.code and child["school"] == "江口中心小学"
    assert child["county"] == {"name": "赣县区"}
    assert child["homework"] == [{"subject": "数学", "tutor": "李老师", "weeklyHours": 2.0}]
    assert child["needs"] == [
        {
            "id": gid("Need", home_need.id),
            "category": "MATERIAL",
            "tutoringSessions": [
                {
                    "date": "2024-03-04",
                    "hours": 1.5,
                    "topic": "分数",
                    "place": {"code": TOWNSHIP, "name": "江口镇", "level": "TOWNSHIP"},
                }
            ],
        }
    ]

    # An NGO worker of the same county: the school's fields, and the hub's in its own tier.
    listed = graph.through_gateway(CHILDREN, token=ngo_worker)
    assert "errors" not in listed, listed
    assert listed["data"]["children"]["nodes"] == [
        {"id": home_id, "code": home.code, "school": None, "homework": [{"subject": "数学"}]}
    ]

    # Another county's officer gets nothing of this child, from either subgraph...
    theirs = graph.through_gateway(CHILD, {"id": home_id}, foreign_officer)
    assert "errors" not in theirs, theirs
    assert theirs["data"]["child"] is None
    # ...and sees their own county's child, with its homework, and nothing else.
    listed = graph.through_gateway(CHILDREN, token=foreign_officer)
    assert [node["id"] for node in listed["data"]["children"]["nodes"]] == [foreign_id]
    assert listed["data"]["children"]["nodes"][0]["homework"] == [{"subject": "英语"}]
    # Nor does the Gan county officer see the Xingguo child.
    assert graph.through_gateway(CHILD, {"id": foreign_id}, officer)["data"]["child"] is None

    # Without a token, or with one the hub did not sign, the hub refuses and nothing is served.
    for token in (None, "not-a-token"):
        refused = graph.through_gateway(CHILD, {"id": home_id}, token)
        codes = {error.get("extensions", {}).get("code") for error in refused["errors"]}
        assert codes == {"UNAUTHENTICATED"}, refused
        assert not refused.get("data"), refused

    # The gateway's graph has no _entities for clients to probe, and no field that hands out a
    # credential (those the hub marks @inaccessible).
    for probe in (
        '{ _entities(representations: [{__typename: "Child", id: "x"}]) { __typename } }',
        'mutation { rotateClient(input: {clientId: "x"}) { clientSecret } }',
    ):
        answer = graph.through_gateway(probe, token=officer)
        assert answer.get("errors") and not answer.get("data"), answer

    # Reached directly, the homework service answers a reference only for a hub token...
    reference = """query($r: [_Any!]!) { _entities(representations: $r) {
      ... on Child { homework { subject } } } }"""
    representation = {"r": [{"__typename": "Child", "id": home_id, "code": home.code}]}
    anonymous = graph.ask(graph.homework, reference, representation)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert anonymous["data"]["_entities"] == [None]
    signed = graph.ask(graph.homework, reference, representation, officer)
    assert signed["data"]["_entities"] == [{"homework": [{"subject": "数学"}]}]
    # ...while its schema, which the gateway composes from, is open.
    service = graph.ask(graph.homework, "{ _service { sdl } }")
    assert "homework: [HomeworkPlan!]!" in service["data"]["_service"]["sdl"]
