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


def test_the_default_stock_is_500_per_regional_centre_and_the_sum_at_the_hub() -> None:
    stock = load_network_spec(None).initial_stock
    regional = DEFAULT_NETWORK.regional()
    assert {stock[(fc.id, "SKU-0042")] for fc in regional} == {DEFAULT_REGIONAL_STOCK}
    assert stock[("mci", "SKU-0042")] == DEFAULT_REGIONAL_STOCK * len(regional)


def test_a_file_can_be_named_instead_of_the_packaged_one(tmp_path: Path) -> None:
    path = tmp_path / "small.toml"
    path.write_text(PACKAGED.read_text().replace("sku_count = 100", "sku_count = 7"))
    assert len(load_network_spec(path).skus) == 7


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
