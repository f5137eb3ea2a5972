#!/usr/bin/env python3
"""Builds Python guests into WebAssembly components with componentize-py.

    python3 build.py [GUEST_DIR...] [--out DIR] [--wit DIR] [--venv DIR] [--jobs N]

A guest directory holds `app.py` (the module, which imports camel_wasm_guest)
and a `pyproject.toml` whose `[tool.camel-wasm]` table names the `world`
(plugin, bean, policy, source or language) and, with `state = true`, adds the
atomic counters import (not for language, whose entries are read-only
decisions). Each becomes OUT/NAME.wasm, NAME being the directory's name.

Without arguments, in this repository: every guests/py-* directory into
guests/dist; in a project made by `camel-wasm new --lang python`: the
project itself into ./dist. componentize-py is installed, at the pinned
version, into a virtual environment (guests/target/py-venv here, .venv in a
project). A guest whose inputs did not change since its last build is skipped.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

COMPONENTIZE_PY = "0.25.1"
WORLDS = {
    "plugin": "camel:plugin/plugin@1.0.0",
    "bean": "camel:plugin/bean@1.0.0",
    "policy": "camel:plugin/authorization-policy@1.0.0",
    "source": "camel:plugin/source@1.0.0",
    "language": "camel:language/language@1.0.0",
}
STATE_WORLDS = {
    "plugin": "camel:python-guest/plugin-state",
    "bean": "camel:python-guest/bean-state",
    "policy": "camel:python-guest/authorization-policy-state",
    "source": "camel:python-guest/source-state",
}

here = Path(__file__).resolve().parent
sdk = here / "camel_wasm_guest"
standalone = (here / "pyproject.toml").is_file()


def fail(message: str) -> None:
    print(f"build.py: {message}", file=sys.stderr)
    sys.exit(1)


def ensure_componentize_py(venv: Path) -> Path:
    """The componentize-py of `venv`, installed at the pinned version when it is not."""
    tool = venv / "bin" / "componentize-py"
    if tool.exists():
        version = subprocess.run([tool, "--version"], capture_output=True, text=True).stdout.split()
        if version[-1:] == [COMPONENTIZE_PY]:
            return tool
    print(f"build.py: installing componentize-py {COMPONENTIZE_PY} into {venv}", flush=True)
    if not (venv / "bin" / "python").exists():
        result = subprocess.run([sys.executable, "-m", "venv", venv], capture_output=True, text=True)
        if result.returncode != 0:
            fail(f"cannot create a virtual environment ({result.stderr.strip()}); "
                 "install Python's venv module (Debian: apt-get install python3-venv)")
    pip = [venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    if subprocess.run(pip + [f"componentize-py=={COMPONENTIZE_PY}"]).returncode != 0:
        fail(f"pip could not install componentize-py=={COMPONENTIZE_PY} from PyPI")
    return tool


def camel_wasm_table(text: str) -> dict:
    """The `[tool.camel-wasm]` table of a pyproject.toml (tomllib, or a line reader before 3.11)."""
    try:
        import tomllib
    except ImportError:
        table: dict = {}
        inside = False
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith("["):
                inside = line == "[tool.camel-wasm]"
            elif inside and "=" in line:
                key, value = (part.strip() for part in line.split("=", 1))
                table[key] = value == "true" if value in ("true", "false") else value.strip('"\'')
        if not table:
            raise KeyError("tool.camel-wasm")
        return table
    return tomllib.loads(text)["tool"]["camel-wasm"]


def guest_config(guest: Path) -> tuple[str, bool]:
    """The world id and the state flag from a guest's pyproject.toml."""
    project = guest / "pyproject.toml"
    try:
        table = camel_wasm_table(project.read_text())
    except (OSError, KeyError, ValueError) as e:
        fail(f"{project}: needs a [tool.camel-wasm] table with world = {'|'.join(WORLDS)} ({e})")
    world = table.get("world")
    if world not in WORLDS:
        fail(f"{project}: world = {world!r}; expected one of {', '.join(WORLDS)}")
    state = bool(table.get("state", False))
    if state and world not in STATE_WORLDS:
        fail(f"{project}: state = true is not available for world = {world!r}: its entries are read-only "
             "decisions without atomic counters (state.load and state.store work without it); remove `state`")
    return (STATE_WORLDS if state else WORLDS)[world], state


def sources(guest: Path, wit: Path) -> list[Path]:
    """Every file a guest's component is built from."""
    files: list[Path] = []
    for root in (guest, sdk, wit):
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix in (".py", ".toml", ".wit", ".typed"):
                if root == guest and (guest / "camel_wasm_guest") in path.parents:
                    continue
                files.append(path)
    return files


def fingerprint(guest: Path, wit: Path) -> str:
    digest = hashlib.sha256(COMPONENTIZE_PY.encode())
    for path in sources(guest, wit):
        digest.update(str(path.relative_to(path.anchor)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def build(tool: Path, guest: Path, wit: Path, out: Path, stamps: Path) -> str:
    name = guest.name
    target = out / f"{name}.wasm"
    stamp = stamps / f"{name}.sha256"
    world, _ = guest_config(guest)
    if world == WORLDS["language"] and not any("package camel:language@" in p.read_text() for p in wit.rglob("*.wit")):
        raise RuntimeError(f"{name}: {wit} lacks the camel:language package (wit/deps/camel-language.wit); "
                           "copy it from the camel-wasm repository")
    print_ = fingerprint(guest, wit)
    if target.exists() and stamp.exists() and stamp.read_text() == print_:
        return f"{name}: unchanged"
    started = time.monotonic()
    paths = ["-p", str(guest)] if guest == here else ["-p", str(guest), "-p", str(here)]
    command = [str(tool), "-q", "-d", str(wit), "-d", str(sdk / "wit"), "-w", world,
               "componentize", *paths, "app", "-o", str(target) + ".part"]
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    if result.returncode != 0:
        raise RuntimeError(f"{name}: componentize-py failed:\n{result.stdout}{result.stderr}")
    os.replace(str(target) + ".part", target)
    stamp.write_text(print_)
    size = target.stat().st_size / 1e6
    return f"{name}: {size:.1f} MB in {time.monotonic() - started:.1f} s"


def main() -> None:
    if sys.version_info < (3, 10):
        fail(f"Python 3.10 or newer is needed (this is {sys.version.split()[0]})")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("guests", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, default=here / "dist" if standalone else here.parent / "dist")
    parser.add_argument("--wit", type=Path, default=here / "wit" if standalone else here.parent.parent / "wit")
    parser.add_argument("--venv", type=Path, default=here / ".venv" if standalone else here.parent / "target" / "py-venv")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    guests = [g.resolve() for g in args.guests] or ([here] if standalone else sorted(here.parent.glob("py-*")))
    guests = [g for g in guests if (g / "pyproject.toml").is_file()]
    if not guests:
        print("build.py: no Python guests to build")
        return
    if not (args.wit / "worlds.wit").is_file():
        fail(f"{args.wit} does not hold the camel:plugin WIT (worlds.wit)")
    tool = ensure_componentize_py(args.venv.resolve())
    args.out.mkdir(parents=True, exist_ok=True)
    stamps = args.venv / "stamps"
    stamps.mkdir(parents=True, exist_ok=True)
    failed = False
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        jobs = [pool.submit(build, tool, g, args.wit.resolve(), args.out.resolve(), stamps) for g in guests]
        for job in jobs:
            try:
                print(f"build.py: {job.result()}", flush=True)
            except RuntimeError as e:
                print(f"build.py: {e}", file=sys.stderr)
                failed = True
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
