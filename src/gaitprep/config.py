"""The workflow's configuration: layering, defaults and every check, before any job starts.

What the Snakefile does with the config files a user names (``--configfile a.yaml b.yaml``,
``--config key=value``):

1. **Layering** (:func:`merge_layers`): later files override earlier ones key by key, as in
   Snakemake, with one exception that keeps backends apart: a modality block (``pose``,
   ``silhouette``, ``segmentation``) whose ``backend`` differs from the earlier layer's
   *replaces* that block, so ``params`` of one backend never reach another. Lists (``flow.engines``,
   ``modalities``, ``demo.clips``) are replaced whole. ``config/config.yaml`` (the demo) is
   only used when no ``--configfile`` is given: it is never a layer under a user's config.
2. **Defaults** (:func:`fill_defaults`): every key the layers leave unset takes the
   ``default`` of ``workflow/schemas/config.schema.yaml``; a backend's ``params`` start from
   that backend's own ``Params`` dataclass defaults (filled by the backend itself).
3. **Checks** (:func:`config_problems`): the JSON schema (``additionalProperties: false``
   everywhere, so a typo is an error) and each backend's ``params`` against its ``Params``
   (importing only the backend's module, not its model). Every problem is listed at once,
   each with its key path (``gait.methd``, ``flow.engines[0].params``).
4. **Paths** (:func:`expand_paths`): ``~`` is expanded in every path-valued key. Relative
   paths stay relative to the working directory (where Snakemake runs, or ``--directory``),
   as for every Snakemake path; a sample sheet's ``path`` column is relative to the sheet.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence

import yaml

from .errors import InputError

#: config blocks that hold one backend: a different backend in a later layer replaces the block
MODALITY_BLOCKS = ("pose", "silhouette", "segmentation")
#: config keys (dotted) whose values are paths: ``~`` is expanded
PATH_KEYS = (
    "samples",
    "videos_dir",
    "output_dir",
    "models_dir",
    "participants_measures",
    "gait_parameters",
    "demo.dir",
    "gait.event_overrides",
)


def _merge(base: dict, new: Mapping) -> dict:
    """Deep-merge ``new`` into a copy of ``base`` (dicts merged, everything else replaced)."""
    out = dict(base)
    for k, v in new.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _merge(dict(out[k]), v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def merge_layers(layers: Iterable[Optional[Mapping]]) -> dict:
    """Merge config layers in order (module docstring, step 1).

    Args:
        layers: config mappings, earliest first (``None`` entries, from empty files, skipped).

    Returns:
        the merged config (a new dict; the layers are not modified).
    """
    cfg: dict = {}
    for layer in layers:
        if not layer:
            continue
        layer = dict(layer)
        for m in MODALITY_BLOCKS:
            new, old = layer.get(m), cfg.get(m)
            if isinstance(new, Mapping) and isinstance(old, Mapping) and "backend" in new:
                if new["backend"] != old.get("backend"):
                    cfg[m] = {}  # another backend: nothing of the earlier block carries over
        cfg = _merge(cfg, layer)
    return cfg


def load_yaml(path: str | Path) -> dict:
    """A YAML config file as a dict (``{}`` for an empty file).

    Raises:
        InputError: the file is missing, is not YAML, or is not a mapping.
    """
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text())
    except FileNotFoundError:
        raise InputError(f"config file {p} does not exist") from None
    except yaml.YAMLError as e:
        raise InputError(f"config file {p}: not valid YAML: {e}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"config file {p}: expected a mapping of keys, got {type(data).__name__}")
    return data


def load_schema(path: str | Path) -> dict:
    """The config JSON schema (YAML file)."""
    return yaml.safe_load(Path(path).read_text())


def _resolve(schema: dict, root: dict) -> dict:
    ref = schema.get("$ref")
    if ref and ref.startswith("#/$defs/"):
        merged = dict(root["$defs"][ref.split("/")[-1]])
        merged.update({k: v for k, v in schema.items() if k != "$ref"})
        return merged
    return schema


def fill_defaults(cfg: dict, schema: dict, _root: Optional[dict] = None) -> dict:
    """Set every unset key that has a ``default`` in ``schema`` (recursively, in place).

    Objects present in ``cfg`` get their own missing defaults; an absent object with a
    ``default`` is created from it and then filled. Returns ``cfg``.
    """
    root = _root or schema
    schema = _resolve(schema, root)
    if not isinstance(cfg, dict):
        return cfg
    for key, sub in (schema.get("properties") or {}).items():
        sub = _resolve(sub, root)
        if key not in cfg and "default" in sub:
            cfg[key] = copy.deepcopy(sub["default"])
        if isinstance(cfg.get(key), dict) and sub.get("properties"):
            fill_defaults(cfg[key], sub, root)
    return cfg


def _key_path(parts: Sequence[Any]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def schema_problems(cfg: Mapping, schema: dict) -> list[str]:
    """Every violation of the JSON schema, each as ``<key path>: <message>``."""
    import jsonschema

    v = jsonschema.Draft202012Validator(schema)
    out = []
    for e in sorted(v.iter_errors(cfg), key=lambda e: [str(x) for x in e.absolute_path]):
        msg = e.message
        if e.validator == "additionalProperties":
            allowed = sorted((e.schema.get("properties") or {}).keys())
            if allowed:
                msg += f" (known keys: {', '.join(allowed)})"
        elif e.validator == "enum":
            msg = f"{e.instance!r} is not one of {', '.join(map(str, e.validator_value))}"
        out.append(f"{_key_path(list(e.absolute_path))}: {msg}")
    return out


def backend_params_problems(modality: str, block: Mapping, where: str) -> list[str]:
    """Check one modality block's ``params`` against its backend's ``Params`` dataclass.

    Imports only the backend's module (no model, no heavy library). Returns the problems
    (unknown backend for the modality, unknown parameter, bad value), each prefixed by ``where``.
    """
    from .backends import get_backend_class
    from .backends.base import parse_params

    try:
        cls = get_backend_class(modality, block["backend"])
    except InputError as e:
        return [f"{where}.backend: {e}"]
    except ImportError as e:  # the backend module itself needs a library that is missing
        return [f"{where}.backend: backend {block['backend']!r} cannot be imported: {e}"]
    try:
        parse_params(cls.Params, block.get("params") or {}, f"{where}.params ({block['backend']})")
    except InputError as e:
        return [str(e)]
    return []


def config_problems(cfg: Mapping, schema: dict) -> list[str]:
    """Every problem of a (merged, defaulted) config: schema, backend params, flow methods,
    participant-ID pattern. Empty when the config is usable."""
    problems = schema_problems(cfg, schema)
    bad_top = {p.split(".")[0].split("[")[0].split(":")[0] for p in problems}
    for m in MODALITY_BLOCKS:
        if m not in bad_top and isinstance(cfg.get(m), Mapping):
            problems += backend_params_problems(m, cfg[m], m)
    if "flow" not in bad_top and isinstance(cfg.get("flow"), Mapping):
        from .backends import FLOW_METHOD

        methods = []
        for i, e in enumerate(cfg["flow"].get("engines") or []):
            problems += backend_params_problems("flow", e, f"flow.engines[{i}]")
            methods.append(FLOW_METHOD.get(e.get("backend")))
        dup = sorted({m for m in methods if m and methods.count(m) > 1})
        if dup:
            problems.append(f"flow.engines: two engines write the same folder {', '.join(dup)} (one per method)")
    pat = cfg.get("participant_id")
    if isinstance(pat, str):
        try:
            re.compile(pat)
        except re.error as e:
            problems.append(f"participant_id: {pat!r} is not a regular expression: {e}")
        else:
            if any(c in pat for c in "/_ "):
                problems.append(f"participant_id: {pat!r} may not contain '/', '_' or spaces (IDs are folder names)")
            if any(c in pat for c in "{}"):
                problems.append(
                    f"participant_id: {pat!r} may not contain '{{' or '}}' (Snakemake wildcard constraints "
                    "cannot hold them): repeat the item instead, e.g. [0-9][0-9][0-9]+ for [0-9]{3,}"
                )
    return problems


def _get(cfg: dict, dotted: str):
    cur: Any = cfg
    for k in dotted.split("."):
        if not isinstance(cur, dict) or k not in cur:
            return None
        cur = cur[k]
    return cur


def _set(cfg: dict, dotted: str, value) -> None:
    *head, last = dotted.split(".")
    cur = cfg
    for k in head:
        cur = cur[k]
    cur[last] = value


def expand_paths(cfg: dict) -> dict:
    """Expand ``~`` in every path-valued key (:data:`PATH_KEYS`, calibration files), in place."""
    for k in PATH_KEYS:
        v = _get(cfg, k)
        if isinstance(v, str) and v.startswith("~"):
            _set(cfg, k, str(Path(v).expanduser()))
    cals = [((cfg.get("gait") or {}).get("calibration") or {}).get("default")]
    cals += list((((cfg.get("gait") or {}).get("calibration") or {}).get("clips") or {}).values())
    cals += [c.get("calibration") for c in (cfg.get("demo") or {}).get("clips") or [] if isinstance(c, dict)]
    for c in cals:
        if isinstance(c, dict):
            for k in ("participants_measures", "sensor_bars"):
                if isinstance(c.get(k), str) and c[k].startswith("~"):
                    c[k] = str(Path(c[k]).expanduser())
    return cfg


def prepare_config(layers: Iterable[Optional[Mapping]], schema: dict) -> dict:
    """Layers -> the config the workflow uses (module docstring, steps 1-4).

    Raises:
        InputError: listing every problem, each with its key path.
    """
    cfg = fill_defaults(merge_layers(layers), schema)
    problems = config_problems(cfg, schema)
    if problems:
        raise InputError(f"config has {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    return expand_paths(cfg)


def path_hint(value: str, config_files: Iterable[str | Path]) -> str:
    """For a relative path that is not found: where it would be relative to a config file
    that exists there (else ""), for the error message."""
    p = Path(value)
    if p.is_absolute():
        return ""
    for f in config_files:
        cand = Path(f).parent / p
        if cand.exists():
            return f" (relative paths are relative to the working directory {Path.cwd()}; did you mean {cand}, next to {f}?)"
    return f" (relative paths are relative to the working directory {Path.cwd()})"
