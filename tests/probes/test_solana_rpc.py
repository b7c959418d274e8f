"""The solana_rpc kind against fake Solana JSON-RPC nodes on 127.0.0.1."""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from probes._solana_server import SolanaNode, unhealthy_error
from probes._targets import closed_port
from support.eventually import eventually
from tradewarden.clock import ManualClock
from tradewarden.probes import Probe, ProbeContext, ProbeResult
from tradewarden.probes.kinds.solana_rpc import SolanaRpcSpec, quantile

KEY = "SECRETKEY"
NAMES = ("helius", "quicknode", "public")
HOT = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"
COLD = "So11111111111111111111111111111111111111112"
ENV_NAME = "TW_SOLANA_TEST_RPC_URL"
METHODS = ["getHealth", "getSlot", "getLatestBlockhash"]
CONFIRMED = {"commitment": "confirmed"}


@pytest.fixture
async def nodes() -> AsyncIterator[list[SolanaNode]]:
    async with SolanaNode() as helius, SolanaNode() as quicknode, SolanaNode() as public:
        yield [helius, quicknode, public]


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client


def provider(node: SolanaNode, name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "url": node.url(f"?api-key={KEY}"), **fields}


def pool(nodes: list[SolanaNode], **fields: Any) -> SolanaRpcSpec:
    providers = [provider(node, name) for node, name in zip(nodes, NAMES, strict=False)]
    return SolanaRpcSpec(name="solana", providers=providers, **fields)


async def check(
    http: httpx.AsyncClient, target: SolanaRpcSpec | Probe, timeout_s: float = 5.0
) -> ProbeResult:
    probe = target.build() if isinstance(target, SolanaRpcSpec) else target
    return await probe.run(ProbeContext(clock=ManualClock(), timeout_s=timeout_s, http=http))


def value(result: ProbeResult, name: str, **labels: str) -> float | None:
    found = [s.value for s in result.samples if s.name == name and dict(s.labels) == labels]
    assert len(found) <= 1, f"{name}{labels} reported {len(found)} times"
    return found[0] if found else None


def assert_no_key(result: ProbeResult, key: str = KEY) -> None:
    assert key not in (result.error or "")
    for sample in result.samples:
        assert key not in f"{sample.name} {sample.help} {dict(sample.labels)}"


# --- Healthy, lagging, unhealthy, down -------------------------------------------------


async def test_three_healthy_providers_succeed_with_samples(
    http: httpx.AsyncClient, nodes: list[SolanaNode]
) -> None:
    for node in nodes:
        node.balances[HOT] = 2_500_000_000
    spec = pool(nodes, wallets=[{"name": "hot", "address": HOT, "min_balance_sol": 1}])

    result = await check(http, spec)

    assert result.success, result.error
    assert not result.degraded
    assert result.error is None
    for node, name in zip(nodes, NAMES, strict=True):
        assert value(result, "solana_rpc_up", provider=name) == 1.0
        assert value(result, "solana_rpc_slot", provider=name) == node.slot
        assert value(result, "solana_rpc_slot_lag", provider=name) == 0
        assert value(result, "solana_rpc_success_ratio", provider=name) == 1.0
        for method in METHODS:
            latency = value(result, "solana_rpc_latency_seconds", provider=name, method=method)
            assert latency is not None
            assert latency >= 0
        assert node.methods()[:3] == METHODS
    assert value(result, "solana_wallet_balance_sol", wallet="hot") == 2.5


async def test_requests_are_json_rpc_2_at_confirmed_commitment(
    http: httpx.AsyncClient, nodes: list[SolanaNode]
) -> None:
    await check(http, pool(nodes[:1]))

    bodies = [request.body for request in nodes[0].requests]
    assert bodies == [
        {"jsonrpc": "2.0", "id": 1, "method": "getHealth", "params": []},
        {"jsonrpc": "2.0", "id": 1, "method": "getSlot", "params": [CONFIRMED]},
        {"jsonrpc": "2.0", "id": 1, "method": "getLatestBlockhash", "params": [CONFIRMED]},
    ]
    # The key goes where the operator put it: to the provider, in the query.
    assert all(request.target == f"/?api-key={KEY}" for request in nodes[0].requests)


async def test_provider_200_slots_behind_is_degraded_with_its_lag(
    http: httpx.AsyncClient, nodes: list[SolanaNode]
) -> None:
    nodes[2].lag = 200

    result = await check(http, pool(nodes))

    assert result.success
    assert result.degraded
    assert value(result, "solana_rpc_slot_lag", provider="public") == 200
    assert value(result, "solana_rpc_up", provider="public") == 0.0
    assert value(result, "solana_rpc_up", provider="helius") == 1.0
    assert result.error == (
        f"public: 200 slots behind the highest slot {nodes[0].slot} (max_slot_lag 50)"
    )


async def test_lag_within_max_slot_lag_is_healthy(
    http: httpx.AsyncClient, nodes: list[SolanaNode]
) -> None:
    nodes[1].lag = 50

    result = await check(http, pool(nodes))

    assert not result.degraded, result.error
    assert value(result, "solana_rpc_slot_lag", provider="quicknode") == 50


async def test_node_reporting_unhealthy_is_named(
    http: httpx.AsyncClient, nodes: list[SolanaNode]
) -> None:
    nodes[0].behind = 212
    nodes[0].lag = 212

    result = await check(http, pool(nodes))

    assert result.success
    assert result.degraded
    assert result.error is not None
    assert result.error.startswith("helius: getHealth -32005 node is behind by 212 slots; ")
    assert value(result, "solana_rpc_up", provider="helius") == 0.0
    # It still told its slot, and the healthy ones set the reference it is measured against.
    assert value(result, "solana_rpc_slot_lag", provider="helius") == 212
    assert value(result, "solana_rpc_success_ratio", provider="helius") == 0.0


async def test_unhealthy_without_a_slot_count_is_named(
    http: httpx.AsyncClient, nodes: list[SolanaNode]
) -> None:
    nodes[1].errors["getHealth"] = unhealthy_error(None)

    result = await check(http, pool(nodes))

    assert result.degraded
    assert result.error == "quicknode: getHealth -32005 node is unhealthy"


async def test_all_providers_down_is_a_failure_naming_each(
    http: httpx.AsyncClient, nodes: list[SolanaNode]
) -> None:
    nodes[0].status = 503
    nodes[1].garbage = b"<html>upstream error</html>"
    providers = [
        provider(nodes[0], "helius"),
        provider(nodes[1], "quicknode"),
        {"name": "public", "url": f"http://127.0.0.1:{closed_port()}/"},
    ]

    result = await check(http, SolanaRpcSpec(name="solana", providers=providers))

    assert not result.success
    assert result.error == (
        "0 of 3 providers healthy, need 1: "
        "helius: getHealth got HTTP 503 Service Unavailable; "
        "quicknode: getHealth answered with a body that is not JSON; "
        "public: getHealth failed: connection refused"
    )
    for name in NAMES:
        assert value(result, "solana_rpc_up", provider=name) == 0.0
        assert value(result, "solana_rpc_success_ratio", provider=name) == 0.0
        assert value(result, "solana_rpc_slot", provider=name) is None


async def test_fewer_healthy_than_min_healthy_providers_fails(
    http: httpx.AsyncClient, nodes: list[SolanaNode]
) -> None:
    nodes[0].behind = 90
    nodes[1].status = 500

    result = await check(http, pool(nodes, min_healthy_providers=2))

    assert not result.success
    assert result.error is not None
    assert result.error.startswith("1 of 3 providers healthy, need 2: helius: getHealth -32005")
    assert "quicknode: getHealth got HTTP 500 Internal Server Error" in result.error


async def test_rate_limit_and_garbage_are_per_provider_errors(
    http: httpx.AsyncClient, nodes: list[SolanaNode]
) -> None:
    nodes[0].status = 429
    nodes[1].garbage = b'{"jsonrpc": "2.0", "id": 1, "resu'

    result = await check(http, pool(nodes))

    assert result.success
    assert result.degraded
    assert result.error == (
        "helius: getHealth got HTTP 429 Too Many Requests; "
        "quicknode: getHealth answered with a body that is not JSON"
    )
    assert value(result, "solana_rpc_up", provider="public") == 1.0


@pytest.mark.parametrize(
    ("misbehave", "expected"),
    [
        ({"garbage": b"[1, 2, 3]"}, "getHealth answered with JSON that is no JSON-RPC response"),
        ({"garbage": b'{"jsonrpc": "2.0", "id": 1}'}, "is no JSON-RPC response"),
        ({"garbage": b"\xff\xfe\x00garbage"}, "getHealth answered with a body that is not JSON"),
        ({"garbage": b"[" * 100_000}, "getHealth answered with a body that is not JSON"),
        ({"garbage": b""}, "getHealth answered with a body that is not JSON"),
        ({"results": {"getSlot": "soon"}}, 'getSlot result is not a slot number: "soon"'),
        ({"results": {"getSlot": -1}}, "getSlot result is not a slot number: -1"),
        ({"results": {"getSlot": True}}, "getSlot result is not a slot number: true"),
        ({"results": {"getLatestBlockhash": {"context": {"slot": 1}}}}, "result has no value"),
        (
            {"results": {"getLatestBlockhash": {"context": {"slot": 1}, "value": {}}}},
            "getLatestBlockhash result has no value.blockhash",
        ),
        (
            {"errors": {"getSlot": {"code": -32601, "message": "Method not found"}}},
            "getSlot error -32601 Method not found",
        ),
        ({"errors": {"getSlot": "nope"}}, 'getSlot answered with a malformed error "nope"'),
        ({"results": {"getHealth": "behind"}}, 'getHealth answered "behind", not "ok"'),
    ],
)
async def test_malformed_answers_are_a_clear_error(
    http: httpx.AsyncClient, nodes: list[SolanaNode], misbehave: dict[str, Any], expected: str
) -> None:
    for knob, setting in misbehave.items():
        setattr(nodes[0], knob, setting)

    result = await check(http, pool(nodes[:1]))

    assert not result.success
    assert result.error is not None
    assert result.error.startswith("0 of 1 providers healthy, need 1: helius: ")
    assert expected in result.error


async def test_slow_provider_is_degraded_but_healthy(
    http: httpx.AsyncClient, nodes: list[SolanaNode]
) -> None:
    nodes[1].delays["getSlot"] = 0.2

    result = await check(http, pool(nodes, slow_ms=100))

    assert result.success
    assert result.degraded
    assert result.error is not None
    assert result.error.startswith("quicknode: getSlot took ")
    assert result.error.endswith(" ms, slower than slow_ms (100)")
    assert value(result, "solana_rpc_up", provider="quicknode") == 1.0


# --- Hangs and cancellation ------------------------------------------------------------


async def test_hung_provider_times_out_and_the_others_still_serve(
    http: httpx.AsyncClient, nodes: list[SolanaNode]
) -> None:
    nodes[2].hang = True
    for node in nodes:
        node.balances[HOT] = 3_000_000_000
    spec = pool(nodes, wallets=[{"name": "hot", "address": HOT, "min_balance_sol": 1}])

    result = await check(http, spec, timeout_s=2.0)

    assert result.success
    assert result.degraded
    assert result.error == "public: getHealth timed out"
    assert value(result, "solana_rpc_up", provider="public") == 0.0
    # The hung provider had its share of the budget; the balance still got read.
    assert value(result, "solana_wallet_balance_sol", wallet="hot") == 3.0
    await eventually(lambda: nodes[2].hanging == 0)


async def test_cancelling_a_check_on_a_hung_provider_leaves_nothing_behind(
    nodes: list[SolanaNode],
) -> None:
    nodes[2].hang = True
    probe = pool(nodes).build()
    async with httpx.AsyncClient(trust_env=False) as client:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                await check(client, probe, timeout_s=60)
        await eventually(lambda: nodes[2].hanging == 0)

        nodes[2].hang = False
        result = await check(client, probe)
        assert result.success
        assert not result.degraded, result.error
    # The client is closed: every connection, and every server task serving one, is gone.
    await eventually(lambda: asyncio.all_tasks() == {asyncio.current_task()})


# --- Wallets and fees ------------------------------------------------------------------


async def test_low_wallet_balance_is_degraded(
    http: httpx.AsyncClient, nodes: list[SolanaNode]
) -> None:
    nodes[0].balances[HOT] = 120_000_000
    nodes[0].balances[COLD] = 0
    wallets = [
        {"name": "hot", "address": HOT, "min_balance_sol": 0.5},
        {"name": "cold", "address": COLD, "min_balance_sol": 0.01},
    ]

    result = await check(http, pool(nodes[:1], wallets=wallets))

    assert result.success
    assert result.degraded
    assert result.error == (
        "wallet hot: 0.12 SOL, below min_balance_sol (0.5); "
        "wallet cold: empty (0 SOL), below min_balance_sol (0.01)"
    )
    assert value(result, "solana_wallet_balance_sol", wallet="hot") == 0.12
    assert value(result, "solana_wallet_balance_sol", wallet="cold") == 0.0
    balance_params = [r.params for r in nodes[0].requests if r.method == "getBalance"]
    assert sorted(balance_params) == sorted([[HOT, CONFIRMED], [COLD, CONFIRMED]])


async def test_balance_at_its_minimum_is_fine(
    http: httpx.AsyncClient, nodes: list[SolanaNode]
) -> None:
    nodes[0].balances[HOT] = 500_000_000
    wallets = [{"name": "hot", "address": HOT, "min_balance_sol": 0.5}]

    result = await check(http, pool(nodes[:1], wallets=wallets))

    assert not result.degraded, result.error


async def test_balances_come_from_the_preferred_healthy_provider(
    http: httpx.AsyncClient, nodes: list[SolanaNode]
) -> None:
    providers = [
        provider(nodes[0], "public", priority=3),
        provider(nodes[1], "helius", priority=1),
        provider(nodes[2], "quicknode", priority=2),
    ]
    wallets = [{"name": "hot", "address": HOT, "min_balance_sol": 0}]
    spec = SolanaRpcSpec(name="solana", providers=providers, wallets=wallets)
    probe = spec.build()

    await check(http, probe)
    assert [("getBalance" in node.methods()) for node in nodes] == [False, True, False]

    # Priority 1 unhealthy: priority 2 answers.
    nodes[1].behind = 300
    for node in nodes:
        node.requests.clear()
    await check(http, probe)
    assert [("getBalance" in node.methods()) for node in nodes] == [False, False, True]


async def test_a_failed_balance_query_moves_to_the_next_provider(
    http: httpx.AsyncClient, nodes: list[SolanaNode]
) -> None:
    nodes[0].errors["getBalance"] = {"code": -32603, "message": "Internal error"}
    nodes[1].balances[HOT] = 1_000_000_000
    wallets = [{"name": "hot", "address": HOT, "min_balance_sol": 0.5}]
    providers = [provider(nodes[0], "helius"), provider(nodes[1], "quicknode", priority=2)]

    result = await check(http, SolanaRpcSpec(name="s", providers=providers, wallets=wallets))

    assert not result.degraded, result.error
    assert value(result, "solana_wallet_balance_sol", wallet="hot") == 1.0


async def test_an_unreadable_balance_is_degraded(
    http: httpx.AsyncClient, nodes: list[SolanaNode]
) -> None:
    nodes[0].results["getBalance"] = {"context": {"slot": 1}, "value": "lots"}
    wallets = [{"name": "hot", "address": HOT, "min_balance_sol": 0.5}]

    result = await check(http, pool(nodes[:1], wallets=wallets))

    assert result.success
    assert result.degraded
    assert result.error == (
        'wallet hot: balance unknown: helius: getBalance value is not a lamport count: "lots"'
    )
    assert value(result, "solana_wallet_balance_sol", wallet="hot") is None


async def test_prioritization_fee_quantiles(
    http: httpx.AsyncClient, nodes: list[SolanaNode]
) -> None:
    nodes[0].fees = [0, 0, 1_000, 5_000, 10_000]

    result = await check(http, pool(nodes[:1], prioritization_fees=True))

    assert not result.degraded, result.error
    assert value(result, "solana_priority_fee_microlamports", quantile="0.5") == 1_000
    assert value(result, "solana_priority_fee_microlamports", quantile="0.9") == 8_000
    assert nodes[0].methods()[-1] == "getRecentPrioritizationFees"


async def test_fees_are_not_asked_for_unless_enabled(
    http: httpx.AsyncClient, nodes: list[SolanaNode]
) -> None:
    result = await check(http, pool(nodes[:1]))

    assert value(result, "solana_priority_fee_microlamports", quantile="0.5") is None
    assert "getRecentPrioritizationFees" not in nodes[0].methods()


async def test_malformed_fees_are_degraded(
    http: httpx.AsyncClient, nodes: list[SolanaNode]
) -> None:
    nodes[0].results["getRecentPrioritizationFees"] = [{"slot": 1}]

    result = await check(http, pool(nodes[:1], prioritization_fees=True))

    assert result.success
    assert result.degraded
    assert result.error is not None
    assert result.error.startswith("prioritization fees unknown: helius: ")


@given(
    st.lists(st.integers(min_value=0, max_value=2**40), min_size=1, max_size=200),
    st.floats(min_value=0, max_value=1),
)
def test_quantile_lies_within_the_values(values: list[int], q: float) -> None:
    assert min(values) <= quantile(values, q) <= max(values)
    assert quantile(values, 0) == min(values)
    assert quantile(values, 1) == max(values)


@given(st.lists(st.integers(min_value=0, max_value=2**40), min_size=1, max_size=200))
def test_median_quantile_matches_statistics(values: list[int]) -> None:
    assert quantile(values, 0.5) == pytest.approx(statistics.median(values))
    assert quantile(values, 0.5) <= quantile(values, 0.9)


# --- State kept across checks ----------------------------------------------------------


async def test_success_ratio_covers_the_last_success_window_checks(
    http: httpx.AsyncClient, nodes: list[SolanaNode]
) -> None:
    probe = pool(nodes[:2], success_window=4).build()
    ratios = []
    for failing in (False, True, False, False, False, False):
        nodes[1].status = 429 if failing else None
        result = await check(http, probe)
        ratios.append(value(result, "solana_rpc_success_ratio", provider="quicknode"))

    assert ratios == [1.0, 0.5, 2 / 3, 0.75, 0.75, 1.0]


# --- Secrets ---------------------------------------------------------------------------


async def test_api_key_appears_in_no_error_label_or_sample(
    http: httpx.AsyncClient, nodes: list[SolanaNode]
) -> None:
    path_key = "QNPATHTOKEN0123456789"
    nodes[0].status = 429
    nodes[1].errors["getSlot"] = {
        "code": -32600,
        "message": f"invalid key {KEY} for /{path_key}/",
    }
    providers = [
        provider(nodes[0], "helius"),
        {"name": "quicknode", "url": nodes[1].url(f"{path_key}/?api-key={KEY}")},
        provider(nodes[2], "public"),
        {"name": "dead", "url": f"http://127.0.0.1:{closed_port()}/?api-key={KEY}"},
    ]
    nodes[2].hang = True
    spec = SolanaRpcSpec(name="solana", providers=providers)

    result = await check(http, spec, timeout_s=1.0)

    assert not result.success
    assert result.error is not None
    assert "quicknode: getSlot error -32600 invalid key *** for /***/" in result.error
    assert_no_key(result)
    assert_no_key(result, path_key)
    assert KEY not in repr(spec)
    assert KEY not in str(spec)
    # The test means something: the keys did reach the providers.
    assert f"api-key={KEY}" in nodes[0].requests[0].target
    assert path_key in nodes[1].requests[0].target


async def test_url_from_env_and_file(
    http: httpx.AsyncClient,
    nodes: list[SolanaNode],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv(ENV_NAME, nodes[0].url(f"?api-key={KEY}"))
    url_file = tmp_path / "rpc-url"
    url_file.write_text(nodes[1].url(f"?api-key={KEY}") + "\n", encoding="utf-8")
    providers = [
        {"name": "helius", "url_env": ENV_NAME},
        {"name": "quicknode", "url_file": str(url_file)},
    ]

    result = await check(http, SolanaRpcSpec(name="solana", providers=providers))

    assert result.success
    assert not result.degraded, result.error
    assert nodes[0].requests
    assert nodes[1].requests


async def test_missing_url_env_or_file_is_that_providers_error(
    http: httpx.AsyncClient, nodes: list[SolanaNode], tmp_path: Path
) -> None:
    providers = [
        provider(nodes[0], "helius"),
        {"name": "quicknode", "url_env": ENV_NAME},
        {"name": "public", "url_file": str(tmp_path / "absent")},
    ]

    result = await check(http, SolanaRpcSpec(name="solana", providers=providers))

    assert result.success
    assert result.degraded
    assert result.error is not None
    assert f"quicknode: environment variable {ENV_NAME} (url_env) is not set" in result.error
    assert f"public: url_file {tmp_path / 'absent'}: cannot read: " in result.error


# --- Spec validation -------------------------------------------------------------------


def _spec(**fields: Any) -> SolanaRpcSpec:
    fields.setdefault("providers", [{"name": "helius", "url": f"https://rpc.test/?api-key={KEY}"}])
    return SolanaRpcSpec(name="solana", **fields)


def _locs(exc: pytest.ExceptionInfo[ValidationError]) -> list[tuple[int | str, ...]]:
    return [error["loc"] for error in exc.value.errors()]


def test_defaults() -> None:
    spec = _spec()

    assert spec.kind == "solana_rpc"
    assert spec.max_slot_lag == 50
    assert spec.slow_ms is None
    assert spec.success_window == 20
    assert spec.min_healthy_providers == 1
    assert spec.wallets == []
    assert spec.prioritization_fees is False
    assert spec.providers[0].priority == 1


@pytest.mark.parametrize(
    ("fields", "loc"),
    [
        (
            {"providers": [{"name": "a", "url": "http://a.test"}, {"name": "a", "url_env": "X"}]},
            ("providers",),
        ),
        (
            {"providers": [{"name": "a", "url": f"http://a.test/?api-key={KEY}", "url_env": "X"}]},
            ("providers", 0, "url_env"),
        ),
        (
            {"providers": [{"name": "a", "url_env": "X", "url_file": "/run/secrets/rpc"}]},
            ("providers", 0, "url_file"),
        ),
        ({"providers": [{"name": "a"}]}, ("providers", 0)),
        (
            {"providers": [{"name": "a", "url": f"ftp://a.test/?api-key={KEY}"}]},
            ("providers", 0, "url"),
        ),
        (
            {"providers": [{"name": "a", "url": f"http://a.test:x/?key={KEY}"}]},
            ("providers", 0, "url"),
        ),
        ({"providers": [{"name": "a", "url": f"http://[::1/?key={KEY}"}]}, ("providers", 0, "url")),
        ({"providers": [{"name": "a", "url": f"http:///?key={KEY}"}]}, ("providers", 0, "url")),
        ({"providers": [{"name": "a b", "url": "http://a.test"}]}, ("providers", 0, "name")),
        ({"providers": []}, ("providers",)),
        (
            {"providers": [{"name": f"p{i}", "url": "http://a.test"} for i in range(11)]},
            ("providers",),
        ),
        ({"min_healthy_providers": 2}, ("min_healthy_providers",)),
        (
            {"wallets": [{"name": "w", "address": "0OIl" * 8, "min_balance_sol": 1}]},
            ("wallets", 0, "address"),
        ),
        (
            {"wallets": [{"name": "w", "address": "z" * 44, "min_balance_sol": 1}]},
            ("wallets", 0, "address"),
        ),
        (
            {"wallets": [{"name": "w", "address": "2" * 32, "min_balance_sol": 1}]},
            ("wallets", 0, "address"),
        ),
        (
            {"wallets": [{"name": "w", "address": HOT[:31], "min_balance_sol": 1}]},
            ("wallets", 0, "address"),
        ),
        (
            {"wallets": [{"name": "w", "address": HOT, "min_balance_sol": -1}]},
            ("wallets", 0, "min_balance_sol"),
        ),
        (
            {
                "wallets": [
                    {"name": "w", "address": HOT, "min_balance_sol": 1},
                    {"name": "w", "address": COLD, "min_balance_sol": 1},
                ]
            },
            ("wallets",),
        ),
        ({"max_slot_lag": -1}, ("max_slot_lag",)),
        ({"success_window": 0}, ("success_window",)),
        ({"slow_ms": 0}, ("slow_ms",)),
        ({"providers_extra": 1}, ("providers_extra",)),
    ],
)
def test_invalid_spec_names_the_field(fields: dict[str, Any], loc: tuple[int | str, ...]) -> None:
    with pytest.raises(ValidationError) as exc:
        _spec(**fields)

    assert _locs(exc) == [loc]
    assert KEY not in str(exc.value)


def test_valid_wallet_addresses_are_accepted() -> None:
    addresses = [HOT, COLD, "11111111111111111111111111111111"]
    wallets = [
        {"name": f"w{index}", "address": address, "min_balance_sol": 0}
        for index, address in enumerate(addresses)
    ]

    spec = _spec(wallets=wallets)

    assert [wallet.address for wallet in spec.wallets] == addresses


async def test_a_bad_url_from_the_environment_is_named_without_its_key(
    http: httpx.AsyncClient, nodes: list[SolanaNode], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_NAME, f"wss://rpc.test/?api-key={KEY}")
    providers = [provider(nodes[0], "helius"), {"name": "ws", "url_env": ENV_NAME}]

    result = await check(http, SolanaRpcSpec(name="solana", providers=providers))

    assert result.degraded
    assert result.error == (
        f"ws: environment variable {ENV_NAME} (url_env) must be an http:// or https:// URL"
    )
    assert_no_key(result)
