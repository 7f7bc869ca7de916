"""Generate docs/scenario-format.md from the scenario's JSON Schema.

Why generated: the scenario format is defined once, by the pydantic models in
``simulator.scenario`` (``splitsim schema`` prints them as JSON Schema).  A
hand-written reference would drift; this page is rebuilt from
``scenario_json_schema()`` and ``tests/test_docs.py`` fails when the committed
page differs from what this script produces.

Structure, types, defaults, constraints and descriptions come from the JSON
Schema.  The schema says ``number`` for every quantity, but scenarios accept
unit strings ("20 Mbps"), so the unit column is read from the pydantic field
annotations (which unit parser of ``simulator.units`` the field uses).

    python scripts/gen_schema_docs.py           # rewrite docs/scenario-format.md
    python scripts/gen_schema_docs.py --check   # exit 1 if the page is stale
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from simulator import units
from simulator.channel import Bandwidth, Decibel
from simulator.scenario import Scenario, scenario_json_schema
from simulator.schedulers import REGISTRY

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "scenario-format.md"

# Unit-carrying annotated floats → (SI unit of a bare number, example strings).
UNIT_TYPES: list[tuple[Any, str, str]] = [
    (units.Bytes, "byte", "`64 KiB`, `1.5 MB`, `800 bit`"),
    (units.Rate, "bit/s", "`20 Mbps`, `500 kbps`, `2 MB/s`"),
    (units.Duration, "s", "`40 ms`, `2 s`, `1 min`"),
    (units.Power, "W", "`3 W`, `300 mW`"),
    (units.Energy, "J", "`2 J`, `15 mJ`"),
    (units.Work, "FLOP", "`2 GFLOP`, `300 MMAC` (1 MAC = 2 FLOP)"),
    (units.Speed, "FLOP/s", "`20 GFLOPS`, `10 TFLOPS`"),
    (units.Frequency, "1/s", "`5/s`, `300/min`, `30 Hz`"),
    (units.PowerPerRate, "W per bit/s", "`0.438 W/Mbps`, `79.5 mW/Mbps`"),
    (Bandwidth, "Hz", "`20 MHz`, `180 kHz`"),
    (Decibel, "dB", "`15 dB`, `-3 dB`"),
]

# Unit tables of simulator.units, for the table of accepted spellings.
UNIT_TABLES: list[tuple[str, str, dict[str, float]]] = [
    ("data size", "byte", units.DATA_BYTES),
    ("data rate", "bit/s", units.RATE_BPS),
    ("duration", "s", units.TIME_S),
    ("power", "W", units.POWER_W),
    ("energy", "J", units.ENERGY_J),
    ("work", "FLOP", units.WORK_FLOP),
    ("compute speed", "FLOP/s", units.SPEED_FLOPS),
    ("frequency", "1/s", units.FREQUENCY_HZ),
    ("power per data rate", "W per bit/s", units.POWER_PER_RATE_W_PER_BPS),
]

_PREFIXES = ("k", "K", "M", "G", "T", "P", "Ki", "Mi", "Gi", "Ti")

# Descriptions for fields whose pydantic definition has none yet.  The schema's
# own description always wins; these only fill gaps, so the page lists a
# description for every field.  (Adding ``description=`` to the field in
# simulator/ makes the entry here unused; ``unused_fallbacks()`` lists those.)
FALLBACK: dict[str, str] = {
    "Scenario.name": "Name of the experiment; shown in tables, plots and the manifest.",
    "Scenario.description": "Free text for people; not used by the simulator.",
    "Scenario.seed": "Root of every random stream (numpy SeedSequence); same seed, same "
                     "results on any executor.",
    "Scenario.replications": "Independent replications per sweep point (Monte Carlo "
                             "runs); the confidence intervals are across them.",
    "Scenario.horizon": "How many requests each replication simulates and how many "
                        "are left out as warm-up.",
    "Scenario.model": "The network: a library profile or profile file, or inline "
                      "blocks (a mapping with `blocks`/`input_bytes`).",
    "Scenario.devices": "Device entries; each entry may stand for `count` identical "
                        "devices.",
    "Scenario.channel": "Uplink and downlink models (one instance per device) and the "
                        "round-trip time.",
    "Scenario.server": "The edge server: workers, speed and background load.",
    "Scenario.scheduler": "The policy that picks the split and exit thresholds, and "
                          "its parameters.",
    "InlineModel.input_bytes": "Bytes of the raw input (what server-only uploads).",
    "InlineModel.blocks": "Blocks in execution order; a split after block s runs "
                          "blocks 1..s on the device.",
    "DeviceSpec.name": "Label of the device entry (in devices.parquet).",
    "DeviceSpec.compute": "The device's processor (one request at a time, FIFO).",
    "DeviceSpec.power": "Power draw while computing, idle/waiting and transmitting.",
    "DeviceSpec.workload": "How requests arrive at each device of this entry.",
    "ChannelSpec.uplink": "Device → server link; `model:` selects the kind.",
    "ChannelSpec.downlink": "Server → device link for the result; `model:` selects the "
                            "kind.",
    "ServerSpec.workers": "Identical workers sharing one FIFO queue (c of M/M/c).",
    "ServerSpec.compute": "Speed of one worker and its service-time variability.",
    "ServerSpec.background": "Other tenants' jobs competing for the workers; none if "
                             "omitted.",
    "SchedulerSpec.policy": "A registered name (`splitsim list schedulers`), a plug-in "
                            "`package.module:Class`, or an entry-point name.",
    "SchedulerSpec.estimator": "How the device estimates its uplink rate: a kind name "
                               "(`ewma`) or a mapping with `kind` and its settings.",
    "InlineBlock.name": "Block name (for people; splits are numbered 1..L).",
    "InlineBlock.exit": "Optional early-exit head after this block.",
    "Workload.arrivals": "`poisson`: exponential gaps; `periodic`: one request every "
                         "1/rate s (frames); `mmpp`: Poisson at a rate that follows a "
                         "Markov chain (`rates`, `mean_sojourn`); `trace`: the timestamps "
                         "of `file`.",
    "MarkovLinkSpec.model": "Selects this link model.",
    "MarkovLinkSpec.initial": "State at time 0: drawn from the stationary distribution, or "
                              "from the given probabilities.",
    "GilbertElliottLinkSpec.model": "Selects this link model.",
    "GilbertElliottLinkSpec.loss_good": "Erasure probability in the good state.",
    "GilbertElliottLinkSpec.loss_bad": "Erasure probability in the bad state.",
    "GilbertElliottLinkSpec.initial": "State at time 0: stationary draw, good or bad.",
    "ConstantLinkSpec.model": "Selects this link model.",
    "IdealLinkSpec.model": "Selects this link model.",
    "ShannonLinkSpec.model": "Selects this link model.",
    "ShannonLinkSpec.fading": "Distribution of the power gain X (mean 1); `none` = "
                              "constant rate.",
    "TraceLinkSpec.model": "Selects this link model.",
    "TraceLinkSpec.format": "File format; `auto` detects it (see `splitsim trace`).",
    "TraceLinkSpec.loop": "Repeat the trace after its end; otherwise the last rate holds.",
    "TraceLinkSpec.random_offset": "Start each replication at a uniform random point of "
                                   "the trace.",
    "Background.arrivals": "Background jobs arrive as a Poisson process, at `rate` or at "
                           "a rate that follows `pattern` or a `utilisation` trace.",
    "Background.rate": "Background jobs per second.",
    "Variability.dist": "Distribution of the unit-mean multiplier of work/speed; "
                        "also written as a bare string (`exponential`).",
    "LinearRadio.model": "Selects the linear radio power model.",
    "CsvColumnsSpec.time": "Name of the time column (default: detected).",
    "CsvColumnsSpec.rate": "Name of the rate column (default: detected).",
    "CsvColumnsSpec.time_unit": "Unit of the time column, overriding the header.",
    "CsvColumnsSpec.rate_unit": "Unit of the rate column, overriding the header.",
}


def _validator_funcs(unit_type: Any) -> set[int]:
    return {id(getattr(m, "func", m)) for m in typing.get_args(unit_type)[1:]}


_UNIT_BY_FUNC: dict[int, str] = {
    f: si for unit_type, si, _ in UNIT_TYPES for f in _validator_funcs(unit_type)}


def _unit_of(metadata: list[Any], annotation: Any) -> str:
    """The SI unit of a field whose type (or list item type) is a unit type, else ''."""
    for m in metadata:
        unit = _UNIT_BY_FUNC.get(id(getattr(m, "func", None)))
        if unit:
            return unit
    if typing.get_origin(annotation) is typing.Annotated:
        found = _unit_of(list(typing.get_args(annotation)[1:]), typing.get_args(annotation)[0])
        if found:
            return found
    for arg in typing.get_args(annotation):
        found = _unit_of([], arg)
        if found:
            return found
    return ""


def _models() -> dict[str, type[BaseModel]]:
    """Every pydantic model reachable from Scenario, by class name (= JSON Schema $defs key)."""
    found: dict[str, type[BaseModel]] = {}

    def visit(annotation: Any) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation.__name__ in found:
                return
            found[annotation.__name__] = annotation
            for field in annotation.model_fields.values():
                visit(field.annotation)
            return
        for arg in typing.get_args(annotation):
            visit(arg)

    visit(Scenario)
    return found


# ------------------------------------------------------------------ rendering helpers


def _anchor(name: str) -> str:
    return name.lower()


def _clean(text: str) -> str:
    """Docstring text → Markdown: RST roles and double backticks become code spans."""
    text = re.sub(r":(?:class|mod|func|meth|attr):`~?([^`]+)`", r"`\1`", text)
    return text.replace("``", "`")


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return _clean(text).replace("\n", " ").replace("|", "\\|").strip()


def _constraints(node: dict[str, Any]) -> list[str]:
    out = []
    for key, fmt in (("minimum", "≥ {}"), ("exclusiveMinimum", "> {}"), ("maximum", "≤ {}"),
                     ("exclusiveMaximum", "< {}"), ("gt", "> {}"), ("minItems", "≥ {} items"),
                     ("maxItems", "≤ {} items"), ("minLength", "≥ {} chars")):
        if key in node:
            value = node[key]
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            out.append(fmt.format(value))
    return out


def _type(node: dict[str, Any]) -> str:
    """A short, linked type description of one schema node."""
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{_anchor(name)})"
    if "const" in node:
        return f'`"{node["const"]}"`'
    if "enum" in node:
        return " \\| ".join(f'`"{v}"`' for v in node["enum"])
    options = node.get("anyOf", [])
    if {n.get("type") for n in options} == {"number", "string"} and any(
            "pattern" in n for n in options):  # a quantity (simulator.units)
        number = next(n for n in options if n.get("type") == "number")
        return f"{_type(number)} or unit string"
    for key in ("oneOf", "anyOf"):
        if key in node:
            parts = [_type(n) for n in node[key] if n.get("type") != "null"]
            return " or ".join(dict.fromkeys(parts))
    kind = node.get("type")
    text: str
    if kind == "array":
        text = f"list[{_type(node.get('items', {}))}]"
    elif kind == "object":
        extra = node.get("additionalProperties")
        text = f"map[str, {_type(extra)}]" if isinstance(extra, dict) else "mapping"
    elif kind is None:
        text = "any"
    else:
        text = {"number": "number", "integer": "integer", "string": "string",
                "boolean": "boolean"}.get(kind, kind)
    limits = _constraints(node)
    return f"{text} ({', '.join(limits)})" if limits else text


def _nullable(node: dict[str, Any]) -> bool:
    return any(n.get("type") == "null" for n in node.get("anyOf", []))


def _default(prop: dict[str, Any], required: bool) -> str:
    if required:
        return "**required**"
    if "default" not in prop:
        return "–"
    value = prop["default"]
    if value is None:
        return "none"
    return f"`{json.dumps(value, ensure_ascii=False)}`"


def _field_rows(name: str, schema: dict[str, Any], model: type[BaseModel] | None
                ) -> list[str]:
    rows = ["| field | type | unit | default | description |",
            "|---|---|---|---|---|"]
    required = set(schema.get("required", []))
    for field, prop in schema.get("properties", {}).items():
        if model is not None and field in model.model_fields \
                and model.model_fields[field].exclude:
            continue  # internal (set by the validator, never written by users)
        unit = ""
        if model is not None and field in model.model_fields:
            info = model.model_fields[field]
            unit = _unit_of(list(info.metadata), info.annotation)
        type_text = _type(prop)
        if _nullable(prop):
            type_text += " or null"
        description = prop.get("description") or FALLBACK.get(f"{name}.{field}", "")
        rows.append(f"| `{field}` | {type_text} | {unit} | "
                    f"{_default(prop, field in required)} | {_cell(description)} |")
    return rows


def _order(schema: dict[str, Any]) -> list[str]:
    """$defs in the order a reader meets them, walking from the top level."""
    defs = schema["$defs"]
    seen: list[str] = []

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            out = [node["$ref"].rsplit("/", 1)[-1]] if "$ref" in node else []
            for key, value in node.items():
                if key != "discriminator":
                    out += refs(value)
            return out
        if isinstance(node, list):
            return [r for item in node for r in refs(item)]
        return []

    queue = refs(schema.get("properties", {}))
    while queue:
        name = queue.pop(0)
        if name in seen:
            continue
        seen.append(name)
        queue += refs(defs[name].get("properties", {}))
    return seen + sorted(set(defs) - set(seen))


def _base_spellings(table: dict[str, float]) -> list[str]:
    """Unit spellings without an SI/binary prefix (the prefixed ones are implied)."""
    names = set(table)
    base = [u for u in table
            if not any(u.startswith(p) and u[len(p):] in names for p in _PREFIXES)]
    return sorted(base, key=lambda u: (table[u], u))


# ------------------------------------------------------------------ the page


def unused_fallbacks() -> list[str]:
    """FALLBACK entries that the schema now describes itself (or that no longer exist)."""
    schema = scenario_json_schema()
    nodes = {"Scenario": schema, **schema["$defs"]}
    unused = []
    for key in FALLBACK:
        model, _, field = key.partition(".")
        prop = nodes.get(model, {}).get("properties", {}).get(field)
        if prop is None or prop.get("description"):
            unused.append(key)
    return unused


def render() -> str:
    schema = scenario_json_schema()
    models = _models()
    lines = [
        "<!-- GENERATED by scripts/gen_schema_docs.py from "
        "simulator.scenario.scenario_json_schema(); do not edit by hand. -->",
        "",
        "# Scenario format",
        "",
        "A scenario is one YAML file. This page is generated from its JSON Schema "
        "(`splitsim schema`), so it lists exactly what the loader accepts: every field, "
        "its type, the unit of a bare number, the default and the description. "
        "`splitsim validate FILE` checks a file against it (and checks what a schema "
        "cannot, such as a split index that must fit the model).",
        "",
        "!!! note \"Quantities take unit strings\"",
        "    A field with a unit accepts a number in that SI unit (`rtt: 0.03`) or a "
        "string with a unit (`rtt: 30 ms`); the JSON Schema says the same (a number, "
        "or a string of a number and a unit) and the loader converts the strings before "
        "validation. A string of the wrong kind (`rtt: 5 W`) is refused with the list "
        "of allowed units.",
        "",
        "## Units",
        "",
        "| kind | a bare number is in | examples | accepted unit spellings |",
        "|---|---|---|---|",
    ]
    examples = {si: ex for _, si, ex in UNIT_TYPES}
    for kind, si, table in UNIT_TABLES:
        if len(table) <= 16:
            spellings = ", ".join(f"`{u}`" for u in sorted(table, key=lambda u: (table[u], u)))
        else:
            prefixes = "k, M, G, T, P" + (", Ki, Mi, Gi, Ti" if "KiB" in table else "")
            spellings = (", ".join(f"`{u}`" for u in _base_spellings(table))
                         + f", each also with a prefix {prefixes}")
        if table is units.POWER_PER_RATE_W_PER_BPS:
            spellings = ("power/rate, e.g. `W/Mbps`, `mW/Mbps`, `uW/kbps` (power `W`, `mW`, "
                         "`uW`, `kW`; rate `bps`, `kbps`, `Mbps`, `Gbps`)")
        lines.append(f"| {kind} | {si} | {examples.get(si, '')} | {_cell(spellings)} |")
    lines += [f"| bandwidth | Hz | {examples['Hz']} | `Hz`, `kHz`, `MHz`, `GHz` |",
              f"| level | dB | {examples['dB']} | `dB` |", ""]

    lines += ["## Scenario (top level)", ""]
    if schema.get("description"):
        lines += [_clean(schema["description"]), ""]
    lines += _field_rows("Scenario", schema, Scenario)
    lines.append("")

    defs = schema["$defs"]
    for name in _order(schema):
        node = defs[name]
        lines += [f"## {name}", ""]
        if node.get("description"):
            lines += [_clean(node["description"]), ""]
        if node.get("additionalProperties") is True:
            lines += ["Other keys are allowed here: they are the policy's parameters "
                      "(see [Scheduler parameters](#scheduler-parameters)).", ""]
        lines += _field_rows(name, node, models.get(name))
        lines.append("")

    lines += [
        "## Scheduler parameters",
        "",
        "`scheduler.policy` names a registered policy, a plug-in `package.module:Class`, "
        "or an entry point of the group `splitsim.schedulers` (see "
        "[Scheduler plug-ins](schedulers.md)). The policy's own parameters sit next to "
        "`policy` in the `scheduler` block. Parameters of another registered policy are "
        "accepted and ignored, so that a sweep over `scheduler.policy` can share one "
        "block. The registered policies:",
        "",
    ]
    for policy, cls in sorted(REGISTRY.items()):
        doc = (cls.__doc__ or "").strip().splitlines()[0]
        lines += [f"### `{policy}`", "", _clean(doc), ""]
        params = cls.Params.model_json_schema()
        if params.get("properties"):
            lines += _field_rows(cls.Params.__name__, params, cls.Params)
        else:
            lines.append("No parameters.")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="do not write; exit 1 if the page differs from the schema")
    ap.add_argument("--out", type=Path, default=PAGE)
    args = ap.parse_args(argv)
    text = render()
    if args.check:
        current = args.out.read_text() if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is stale: run python scripts/gen_schema_docs.py",
                  file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
