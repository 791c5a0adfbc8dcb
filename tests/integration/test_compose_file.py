"""docker-compose.yml and its configs stay honest: Docker Compose accepts the file, it names
only commands, flags and settings that exist, on images pinned to a version, and the
Prometheus, Grafana, collector and nginx configs it mounts agree with it and with the
metrics the code exposes.

No Docker engine runs here; Debian's `docker-compose config` validates the file, and the
rest is read with PyYAML.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import pytest
import yaml

from api.problems import PROBLEM_JSON, problem_body
from doms.cli import COMMANDS, build_parser
from doms.network_file import load_network_spec
from doms.settings import Settings
from doms.temporal_server import cli_type_name
from loadtest.shape import plan_load
from workflows.search_attributes import ALL_KEYS

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
LOCUSTFILE = REPO / "loadtest" / "locustfile.py"
IN_CI = bool(os.environ.get("CI"))
# ${NAME}, ${NAME:-default} or ${NAME-default}: what Compose substitutes from the shell.
INTERPOLATION = re.compile(r"\$\{\w+(?::?-([^}]*))?\}")
# An exact version: at least major.minor (postgres:15.10, v2.55.1, 1.27.2-tctl-...).
VERSION_TAG = re.compile(r"^v?\d+\.\d+")

# Tracing is configured by the standard OpenTelemetry SDK variables alone; these are the
# ones the DOMS processes are given (doms.settings has no tracing fields).
OTEL_SETTINGS = frozenset(
    {
        "OTEL_SERVICE_NAME",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_TRACES_SAMPLER",
        "OTEL_TRACES_SAMPLER_ARG",
    }
)
# The collector's OTLP receiver protocol for each OTEL_EXPORTER_OTLP_PROTOCOL value.
OTLP_RECEIVER = {"grpc": "grpc", "http/protobuf": "http", "http/json": "http"}


def histogram(name: str) -> set[str]:
    return {f"{name}_bucket", f"{name}_sum", f"{name}_count"}


# The metrics contract: what the API and the workers expose, by Prometheus name.
METRICS = frozenset(
    {
        "doms_orders_total",
        "doms_stock_available_units",
        "doms_fc_backlog_orders",
        *histogram("doms_order_intake_duration_seconds"),
        *histogram("doms_order_phase_hours"),
        # The Temporal SDK's, from each worker's DOMS_TEMPORAL_METRICS_PORT.
        *histogram("temporal_workflow_task_schedule_to_start_latency"),
        *histogram("temporal_activity_schedule_to_start_latency"),
        "temporal_worker_task_slots_available",
        "temporal_workflow_completed",
    }
)
# What the dashboard must show: orders/s, POST /orders latency, T_f, FC backlog,
# schedule-to-start latency and worker slots.
DASHBOARD_METRICS = frozenset(
    {
        "doms_orders_total",
        "doms_order_intake_duration_seconds_bucket",
        "doms_order_phase_hours_sum",
        "doms_order_phase_hours_count",
        "doms_fc_backlog_orders",
        "temporal_workflow_task_schedule_to_start_latency_bucket",
        "temporal_activity_schedule_to_start_latency_bucket",
        "temporal_worker_task_slots_available",
    }
)
# Published on 127.0.0.1 only: none has a login (Grafana a default one), and whoever reaches
# them can terminate workflows, read every trace, send traces or start a load test.
THIS_MACHINE_ONLY = (
    "temporal",
    "temporal-ui",
    "jaeger",
    "prometheus",
    "grafana",
    "locust-master",
    "otel-collector",
)
# nginx `location [= | ^~] URI {`; regular expression locations are not used (asserted).
NGINX_LOCATION = re.compile(r"location\s+(?:(\S+)\s+)?(/\S*)\s*\{([^{}]*)\}")
PROMQL_KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset"})
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")

Service = dict[str, Any]


@pytest.fixture(scope="module")
def services() -> dict[str, Service]:
    loaded: dict[str, Service] = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    return loaded


@pytest.fixture(scope="module")
def doms_services(services: dict[str, Service]) -> dict[str, Service]:
    """The services built from this repository whose entry point is `doms`."""
    return {n: s for n, s in services.items() if "build" in s and "entrypoint" not in s}


@pytest.fixture(scope="module")
def locust_services(services: dict[str, Service]) -> dict[str, Service]:
    return {n: s for n, s in services.items() if s.get("entrypoint") == ["locust"]}


@pytest.fixture(scope="module")
def workers(doms_services: dict[str, Service]) -> dict[str, Service]:
    return {n: s for n, s in doms_services.items() if s["command"][0] == "worker"}


@pytest.fixture(scope="module")
def served(workers: dict[str, Service]) -> dict[str, tuple[frozenset[str], bool]]:
    """What each worker service serves: its FC task queues, and the order workflow or not."""
    all_fcs = frozenset(default_network_fcs())
    return {name: served_by(worker, all_fcs) for name, worker in workers.items()}


def docker_compose() -> str:
    found = shutil.which("docker-compose")
    if found is None:
        reason = "docker-compose is not installed (Debian: apt-get install docker-compose)"
        if IN_CI:
            pytest.fail(f"{reason}; CI must validate the compose file")
        pytest.skip(reason)
    return found


def environment_of(service: Service) -> dict[str, str]:
    """A service's variables as Compose passes them when no shell variable is set."""
    declared = service.get("environment") or {}
    if isinstance(declared, list):
        declared = dict(entry.split("=", 1) for entry in declared)
    return {name: with_defaults(str(value)) for name, value in declared.items()}


def with_defaults(value: str) -> str:
    return INTERPOLATION.sub(lambda match: match.group(1) or "", value).replace("$$", "$")


def settings_of(service: Service) -> Settings:
    """The Settings the service's process reads from its DOMS_* variables, and only those."""
    variables = {k: v for k, v in environment_of(service).items() if k.startswith("DOMS_")}
    with mock.patch.dict(os.environ, variables, clear=True):
        return Settings()


def parse_doms_command(name: str, command: list[str]) -> argparse.Namespace:
    try:
        return build_parser().parse_args(command)
    except SystemExit:
        pytest.fail(f"{name}: `doms {' '.join(command)}` is not a valid doms command")


def served_by(worker: Service, all_fcs: frozenset[str]) -> tuple[frozenset[str], bool]:
    """The FC task queues a `doms worker` service serves, and whether it runs the order
    workflow, as doms.cli decides from its flags and settings."""
    args = parse_doms_command("worker", worker["command"])
    if args.fc:
        return frozenset(args.fc), bool(args.orders)
    configured = settings_of(worker).worker_fcs
    return (all_fcs if configured is None else frozenset(configured)), True


def host_path(service: Service, container_path: str) -> Path:
    """Where a file the service reads at `container_path` comes from in this repository."""
    volume: str
    for volume in service.get("volumes") or ():
        source, target = volume.split(":")[:2]
        if source.startswith(".") and (
            container_path == target or container_path.startswith(target.rstrip("/") + "/")
        ):
            return REPO / source / os.path.relpath(container_path, target)
    pytest.fail(f"nothing is mounted at {container_path}")


def nginx_location(conf: str, uri: str) -> str:
    """The body of the location nginx serves `uri` from (a URI nginx has already normalised):
    an exact match, else the longest prefix."""
    unquoted = re.sub(r"'[^']*'|\"[^\"]*\"", "''", conf)  # braces in strings are no blocks
    locations = NGINX_LOCATION.findall(unquoted)
    assert locations and {kind for kind, _, _ in locations} <= {"", "=", "^~"}, locations
    for kind, path, body in locations:
        if kind == "=" and path == uri:
            return body
    prefixes = [
        (len(path), body) for kind, path, body in locations if kind != "=" and uri.startswith(path)
    ]
    return max(prefixes)[1]


def dependencies_of(service: Service) -> set[str]:
    return set(service.get("depends_on") or ())  # a list of names or a mapping by name


def waits_for(services: dict[str, Service], name: str) -> set[str]:
    """Every service `name` starts after, directly or through others."""
    found: set[str] = set()
    pending = dependencies_of(services[name])
    while pending:
        dependency = pending.pop()
        if dependency not in found:
            found.add(dependency)
            pending |= dependencies_of(services[dependency])
    return found


def load_settings() -> tuple[str, ...]:
    """LOAD_SETTINGS of loadtest/locustfile.py, read without importing Locust."""
    for node in ast.parse(LOCUSTFILE.read_text()).body:
        if isinstance(node, ast.Assign) and [
            t.id for t in node.targets if isinstance(t, ast.Name)
        ] == ["LOAD_SETTINGS"]:
            value: tuple[str, ...] = ast.literal_eval(node.value)
            return value
    pytest.fail("loadtest/locustfile.py defines no LOAD_SETTINGS")


def default_network_fcs() -> dict[str, str]:
    """Each FC of the default network and its region."""
    return {fc.id: fc.region for fc in load_network_spec(None).network.centres}


def read_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, labels or keywords)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)  # label matchers, range windows
    text = GROUPING.sub(" ", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        is_call = text[match.end() :].lstrip().startswith("(")
        if not is_call and match.group() not in PROMQL_KEYWORDS:
            names.add(match.group())
    return names


def scrape_targets(config: dict[str, Any]) -> set[tuple[str, int]]:
    """Every host:port Prometheus scrapes, from static targets and DNS names."""
    found: set[tuple[str, int]] = set()
    for job in config["scrape_configs"]:
        for static in job.get("static_configs", ()):
            for target in static["targets"]:
                host, port = target.rsplit(":", 1)
                found.add((host, int(port)))
        for dns in job.get("dns_sd_configs", ()):
            found |= {(name, int(dns["port"])) for name in dns["names"]}
    return found


# --- Compose itself ------------------------------------------------------------------------


def test_docker_compose_accepts_the_file() -> None:
    for profile in ([], ["--profile", "load"]):
        result = subprocess.run(
            [docker_compose(), "-f", str(COMPOSE_FILE), *profile, "config", "-q"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=REPO,
        )
        assert result.returncode == 0, result.stderr


def test_every_doms_service_runs_a_real_doms_command_with_real_flags(
    doms_services: dict[str, Service],
) -> None:
    for name, service in doms_services.items():
        command = service.get("command")
        # Exec form: the image's entry point is `doms`, so the first word is the subcommand.
        assert isinstance(command, list) and command[0] in COMMANDS, (name, command)
        parse_doms_command(name, command)
    commands = {service["command"][0] for service in doms_services.values()}
    assert {"migrate", "seed", "worker", "relay", "api"} <= commands


def test_every_variable_of_a_doms_process_is_a_real_setting(
    services: dict[str, Service], locust_services: dict[str, Service]
) -> None:
    known = {f"DOMS_{field.upper()}" for field in Settings.model_fields}
    for name, service in services.items():
        if "build" not in service:
            continue  # third-party images: their own documented variables
        allowed = set(load_settings()) if name in locust_services else known | OTEL_SETTINGS
        unknown = set(environment_of(service)) - allowed
        assert not unknown, (name, sorted(unknown))
        settings_of(service)  # the values are valid too


def test_the_load_settings_are_the_variables_the_locustfile_reads() -> None:
    read = set()
    for node in ast.walk(ast.parse(LOCUSTFILE.read_text())):
        if isinstance(node, ast.Call) and ast.unparse(node.func) in {"os.environ.get", "os.getenv"}:
            key = node.args[0]
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
            key = node.slice
        else:
            continue
        if isinstance(key, ast.Constant):
            read.add(key.value)

    assert read == set(load_settings())


def test_every_image_is_pinned_to_a_version(services: dict[str, Service]) -> None:
    for name, service in services.items():
        image = service.get("image")
        assert image or "build" in service, f"{name} has neither an image nor a build"
        if image and "build" not in service:
            repository, colon, tag = image.rpartition(":")
            pinned = colon and repository and "/" not in tag and VERSION_TAG.match(tag)
            assert pinned, f"{name}: image {image} is not pinned to a version"


def test_the_doms_image_is_built_on_a_pinned_base_image() -> None:
    bases = re.findall(r"^FROM\s+(\S+)", (REPO / "Dockerfile").read_text(), re.MULTILINE)

    assert bases
    for base in bases:
        assert VERSION_TAG.match(base.rpartition(":")[2]), f"FROM {base} is not pinned"


def test_the_search_attributes_the_workflows_set_are_registered(
    services: dict[str, Service],
) -> None:
    script = " ".join(services["temporal-setup"]["command"])
    registered = re.search(r"for attribute in ([^;]+);", script)

    assert registered is not None, script
    assert dict(pair.split("=") for pair in registered.group(1).split()) == {
        key.name: cli_type_name(key) for key in ALL_KEYS
    }


def test_temporal_runs_on_postgresql_with_a_production_shard_count(
    services: dict[str, Service],
) -> None:
    temporal = environment_of(services["temporal"])

    assert temporal["DB"].startswith("postgres")
    assert temporal["POSTGRES_SEEDS"] in services
    assert int(temporal["NUM_HISTORY_SHARDS"]) >= 512
    dynamic_config = temporal["DYNAMIC_CONFIG_FILE_PATH"]
    assert host_path(services["temporal"], f"/etc/temporal/{dynamic_config}").is_file()


def test_no_doms_process_starts_before_the_schema_stock_and_search_attributes_exist(
    services: dict[str, Service], doms_services: dict[str, Service]
) -> None:
    long_running = [
        n for n, s in doms_services.items() if s["command"][0] in {"worker", "relay", "api"}
    ]

    assert long_running
    for name in long_running:
        assert {"postgres", "migrate", "seed", "temporal", "temporal-setup"} <= waits_for(
            services, name
        ), name


def test_the_schema_is_migrated_once_by_a_one_shot_service_once_postgres_answers(
    services: dict[str, Service],
) -> None:
    migrate = services["migrate"]

    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert migrate["restart"] == "no" and "deploy" not in migrate


# --- API replicas behind one port ------------------------------------------------------------


def test_several_api_replicas_answer_behind_one_port(services: dict[str, Service]) -> None:
    api, gateway = services["api"], services["api-gateway"]
    api_port = settings_of(api).api_port
    nginx_conf = host_path(gateway, "/etc/nginx/nginx.conf").read_text()

    assert api["deploy"]["replicas"] > 1
    assert "ports" not in api, "replicas cannot share a published port"
    assert settings_of(api).api_host == "0.0.0.0"
    assert re.search(rf"server\s+api:{api_port}\s+resolve;", nginx_conf), nginx_conf
    assert re.search(r"listen\s+(\d+);", nginx_conf)
    assert [f"{port}:{port}" for port in re.findall(r"listen\s+(\d+);", nginx_conf)] == gateway[
        "ports"
    ]


def test_only_the_api_gateway_is_published_beyond_this_machine(
    services: dict[str, Service],
) -> None:
    published = {name: service["ports"] for name, service in services.items() if "ports" in service}

    assert set(THIS_MACHINE_ONLY) <= set(published)
    for name, ports in published.items():
        if name != "api-gateway":
            assert ports and all(port.startswith("127.0.0.1:") for port in ports), (name, ports)


def test_the_gateway_answers_metrics_as_a_route_the_api_does_not_have(
    services: dict[str, Service],
) -> None:
    """Prometheus scrapes each replica on the internal network; the public port hides it."""
    nginx_conf = host_path(services["api-gateway"], "/etc/nginx/nginx.conf").read_text()
    answer = re.search(
        r"location \^~ /metrics \{\s*default_type (\S+);\s*return 404 '([^']*)';", nginx_conf
    )

    for uri in ("/metrics", "/metrics/", "/metrics/anything"):
        blocked = nginx_location(nginx_conf, uri)
        assert "return 404" in blocked and "proxy_pass" not in blocked, uri
    for uri in ("/", "/orders", "/healthz", "/readyz", "/docs", "/openapi.json"):
        assert "proxy_pass http://doms_api;" in nginx_location(nginx_conf, uri), uri
    assert answer is not None, nginx_conf
    assert answer.group(1) == PROBLEM_JSON
    assert json.loads(answer.group(2)) == problem_body(404, "Not Found", "Not Found")


# --- Workers by region -----------------------------------------------------------------------


def test_one_worker_runs_the_order_workflow_and_no_fc_queue(
    served: dict[str, tuple[frozenset[str], bool]],
) -> None:
    running_orders = {name: fcs for name, (fcs, orders) in served.items() if orders}

    assert running_orders == {"worker-orders": frozenset()}


def test_every_fc_is_served_by_the_worker_of_its_region_and_no_other(
    served: dict[str, tuple[frozenset[str], bool]],
) -> None:
    by_region: dict[str, set[str]] = {}
    for fc, region in default_network_fcs().items():
        by_region.setdefault(f"worker-{region}", set()).add(fc)

    assert {name: fcs for name, (fcs, _) in served.items() if fcs} == by_region


# --- Observability -------------------------------------------------------------------------


def test_prometheus_scrapes_the_api_every_worker_temporal_and_the_collector(
    services: dict[str, Service], workers: dict[str, Service]
) -> None:
    config = read_yaml(host_path(services["prometheus"], "/etc/prometheus/prometheus.yml"))
    targets = scrape_targets(config)
    temporal_metrics = environment_of(services["temporal"])["PROMETHEUS_ENDPOINT"]

    assert ("api", settings_of(services["api"]).api_port) in targets
    for name, worker in workers.items():
        settings = settings_of(worker)
        assert settings.metrics_port and settings.temporal_metrics_port, name
        assert {(name, settings.metrics_port), (name, settings.temporal_metrics_port)} <= targets
    assert ("temporal", int(temporal_metrics.rsplit(":", 1)[1])) in targets
    assert ("otel-collector", 8888) in targets
    assert {host for host, _ in targets} <= set(services) | {"localhost"}


def test_the_dashboard_queries_only_metrics_the_code_exposes(
    services: dict[str, Service],
) -> None:
    grafana = services["grafana"]
    provisioning = host_path(grafana, "/etc/grafana/provisioning")
    uids = {
        source["uid"]
        for path in (provisioning / "datasources").glob("*.yaml")
        for source in read_yaml(path)["datasources"]
    }
    providers = [
        provider
        for path in (provisioning / "dashboards").glob("*.yaml")
        for provider in read_yaml(path)["providers"]
    ]
    dashboards = [
        dashboard
        for provider in providers
        for dashboard in host_path(grafana, provider["options"]["path"]).glob("*.json")
    ]
    assert uids and dashboards, "no data source or dashboard is provisioned"

    used: set[str] = set()
    for path in dashboards:
        dashboard = json.loads(path.read_text())
        queries = [p for p in dashboard["panels"] if p["type"] != "row"]
        assert queries, path
        for panel in queries:
            assert panel["datasource"]["uid"] in uids, panel["title"]
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                names = metric_names(target["expr"])
                assert names and names <= METRICS, (panel["title"], sorted(names - METRICS))
                used |= names
    assert used >= DASHBOARD_METRICS, sorted(DASHBOARD_METRICS - used)


def test_the_dashboard_shows_intake_p95_orders_by_type_and_t_f_by_type_and_mode() -> None:
    dashboard = json.loads((REPO / "observability/grafana/dashboards/doms.json").read_text())
    exprs = [" ".join(t["expr"].split()) for p in dashboard["panels"] for t in p.get("targets", ())]

    assert (
        "histogram_quantile(0.95, sum by (le) "
        "(rate(doms_order_intake_duration_seconds_bucket[$__rate_interval])))"
    ) in exprs
    assert any("by (order_type)" in e and "doms_orders_total" in e for e in exprs)
    assert any('phase="fulfilment"' in e and "by (order_type, mode)" in e for e in exprs)
    for expr in exprs:  # every quantile keeps the bucket boundaries
        for grouping in re.findall(r"histogram_quantile\([^,]+, sum by \(([^)]*)\)", expr):
            assert "le" in [label.strip() for label in grouping.split(",")], expr


def test_grafana_reads_prometheus_and_jaeger_of_this_cluster(services: dict[str, Service]) -> None:
    provisioning = host_path(services["grafana"], "/etc/grafana/provisioning")
    sources = [
        source
        for path in (provisioning / "datasources").glob("*.yaml")
        for source in read_yaml(path)["datasources"]
    ]

    assert {source["type"] for source in sources} >= {"prometheus", "jaeger"}
    for source in sources:
        assert urlsplit(source["url"]).hostname in services, source


def test_the_collector_takes_otlp_and_sends_traces_to_jaeger(
    services: dict[str, Service], doms_services: dict[str, Service]
) -> None:
    collector = services["otel-collector"]
    config = read_yaml(host_path(collector, "/etc/otelcol-contrib/config.yaml"))
    traces = config["service"]["pipelines"]["traces"]
    jaeger = [name for name in traces["exporters"] if "jaeger" in name]

    assert "otlp" in traces["receivers"]
    assert jaeger, traces
    assert urlsplit(f"//{config['exporters'][jaeger[0]]['endpoint']}").hostname == "jaeger"
    for pipeline in config["service"]["pipelines"].values():
        for kind in ("receivers", "processors", "exporters"):
            assert set(pipeline.get(kind, ())) <= set(config[kind]), (kind, pipeline)
    listening = {
        protocol: int(settings["endpoint"].rsplit(":", 1)[1])
        for protocol, settings in config["receivers"]["otlp"]["protocols"].items()
    }
    for name, service in doms_services.items():
        env = environment_of(service)
        endpoint = urlsplit(env["OTEL_EXPORTER_OTLP_ENDPOINT"])
        assert endpoint.hostname == "otel-collector", name
        assert endpoint.port == listening[OTLP_RECEIVER[env["OTEL_EXPORTER_OTLP_PROTOCOL"]]], name


# --- Load ----------------------------------------------------------------------------------


def test_locust_runs_the_project_locustfile_as_master_and_workers_under_a_profile(
    services: dict[str, Service], locust_services: dict[str, Service]
) -> None:
    parsed = {}
    for name, service in locust_services.items():
        assert service["profiles"] == ["load"] and "build" in service, name
        assert (REPO / service["command"][service["command"].index("-f") + 1]).is_file()
        parsed[name] = locust_arguments(service["command"])
        env = environment_of(service)
        plan_load(env["DOMS_LOAD_LEVEL"], float(env["DOMS_LOAD_SCALE"]))

        assert "DOMS_API_KEY" in env, f"{name}: Locust needs an API key to place orders"

    masters = [name for name, args in parsed.items() if args["master"]]
    assert len(masters) == 1, parsed
    gateway = urlsplit(parsed[masters[0]]["host"])
    assert f"{gateway.port}:{gateway.port}" in services[gateway.hostname or ""]["ports"]
    locust_workers = [args for args in parsed.values() if args["worker"]]
    assert locust_workers and all(w["master_host"] == masters[0] for w in locust_workers)


def locust_arguments(command: list[str]) -> dict[str, Any]:
    """Locust's own parser reads the command, in a child process (importing Locust patches
    the standard library with gevent)."""
    script = (
        "import json, sys\n"
        "from locust.argument_parser import get_parser\n"
        "args = get_parser(default_config_files=[]).parse_args(json.loads(sys.argv[1]))\n"
        "print(json.dumps({k: getattr(args, k) for k in "
        "('master', 'worker', 'host', 'master_host', 'locustfile')}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, json.dumps(command)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return parsed
