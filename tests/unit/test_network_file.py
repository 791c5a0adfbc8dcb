"""Network files: the packaged default agrees with the domain's, and a bad file says why."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.catalogue import DEFAULT_REGIONAL_STOCK, DEFAULT_SKU_COUNT
from domain.network import DEFAULT_NETWORK
from domain.network_spec import default_network_spec
from domain.service_levels import DEFAULT_SERVICE_LEVELS
from doms.network_file import NetworkFileError, load_network_spec
from doms.settings import Settings

PACKAGED = Path(__file__).parents[2] / "doms" / "networks" / "default.toml"


def test_the_packaged_file_describes_exactly_the_domains_default_network() -> None:
    spec = load_network_spec(None)
    assert spec.network == DEFAULT_NETWORK
    assert spec.service_levels == DEFAULT_SERVICE_LEVELS
    assert len(spec.skus) == DEFAULT_SKU_COUNT
    assert spec == default_network_spec()


# Other suites (integration, workflows, end to end) order these SKUs from the default
# network and expect 500 units of each at every domestic regional centre.
USED_ELSEWHERE = [
    *(f"SKU-{n:04d}" for n in range(1, 14)),
    *("SKU-0020", "SKU-0030", "SKU-0031", "SKU-0032", "SKU-0042", "SKU-0050", "SKU-0051"),
]
DOMESTIC = ("sea", "oak", "dfw", "ord", "atl", "ewr")
GATEWAYS = ("mia", "ams", "sin")


def test_the_fast_movers_are_500_at_every_regional_centre_and_the_sum_at_the_hub() -> None:
    stock = load_network_spec(None).initial_stock
    regional = DEFAULT_NETWORK.regional()
    for sku in USED_ELSEWHERE:
        assert {stock[(fc.id, sku)] for fc in regional} == {DEFAULT_REGIONAL_STOCK}, sku
        assert stock[("mci", sku)] == DEFAULT_REGIONAL_STOCK * len(regional)


def test_the_default_long_tail_is_at_two_us_centres_and_every_gateway() -> None:
    spec = load_network_spec(None)
    stock = spec.initial_stock
    for sku in spec.skus[51:]:
        us = [fc_id for fc_id in DOMESTIC if stock[(fc_id, sku)] == DEFAULT_REGIONAL_STOCK]
        assert len(us) == 2 and sum(stock[(fc_id, sku)] for fc_id in DOMESTIC) == 1000, sku
        assert {stock[(fc_id, sku)] for fc_id in GATEWAYS} == {DEFAULT_REGIONAL_STOCK}
        assert stock[("mci", sku)] == DEFAULT_REGIONAL_STOCK * 5
    assert [fc_id for fc_id in DOMESTIC if stock[(fc_id, "SKU-0100")]] == ["sea", "oak"]


def test_a_file_can_be_named_instead_of_the_packaged_one(tmp_path: Path) -> None:
    path = tmp_path / "small.toml"
    text = PACKAGED.read_text().replace("sku_count = 100", "sku_count = 7")
    path.write_text(text.replace("everywhere = 51", "everywhere = 5"))
    spec = load_network_spec(path)
    assert len(spec.skus) == 7
    held = [fc_id for fc_id in DOMESTIC if spec.initial_stock[(fc_id, "SKU-0007")]]
    assert held == ["dfw", "ord"]


def test_a_catalogue_smaller_than_the_fast_movers_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "small.toml"
    path.write_text(PACKAGED.read_text().replace("sku_count = 100", "sku_count = 7"))
    with pytest.raises(NetworkFileError) as caught:
        load_network_spec(path)
    assert caught.value.problems == (
        "stock.assortment.domestic.everywhere: must be between 0 and 7 (the catalogue has 7 SKUs)",
    )


def test_the_drift_check_sees_a_changed_assortment(tmp_path: Path) -> None:
    path = tmp_path / "wider.toml"
    path.write_text(PACKAGED.read_text().replace("long_tail_copies = 2", "long_tail_copies = 3"))
    assert load_network_spec(path) != default_network_spec()


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    with pytest.raises(NetworkFileError) as caught:
        load_network_spec(path)
    assert caught.value.problems == ("file not found",)
    assert str(caught.value).startswith(f"network file {path}: 1 problem(s)")


def test_a_toml_syntax_error_gives_its_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[catalogue]\nsku_count = = 3\n")
    with pytest.raises(NetworkFileError) as caught:
        load_network_spec(path)
    (problem,) = caught.value.problems
    assert problem.startswith("not valid TOML:") and "line 2" in problem


def test_every_problem_in_the_description_is_listed_with_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "wrong.toml"
    text = PACKAGED.read_text().replace("lat = 47.6062", "lat = 147.6062")
    path.write_text(text.replace("speed_kmh = 160.0", "speed_kmh = 0"))
    with pytest.raises(NetworkFileError) as caught:
        load_network_spec(path)
    assert caught.value.problems == (
        "centres[0].lat: must be between -90 and 90",
        "service_levels.expedited.speed_kmh: must be positive",
    )
    assert str(caught.value).splitlines() == [
        f"network file {path}: 2 problem(s)",
        "  centres[0].lat: must be between -90 and 90",
        "  service_levels.expedited.speed_kmh: must be positive",
    ]


def test_the_setting_comes_from_doms_network_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOMS_NETWORK_FILE", raising=False)
    assert Settings().network_file is None
    monkeypatch.setenv("DOMS_NETWORK_FILE", "/etc/doms/network.toml")
    assert Settings().network_file == Path("/etc/doms/network.toml")
