"""The house (issue 18): the tree is a map of the architecture, and stays one.

Every test here reads the package's source with `ast` (nothing is imported but the CLI, for
its option names) and first asserts that it found what it inspects, so a move or a rename
that empties its input fails it instead of passing it.
"""
import ast
import re
from collections import defaultdict
from pathlib import Path

import click

PACKAGE = Path(__file__).resolve().parents[1] / "tool" / "modelreg"
PACKAGES = ("core", "store", "writes", "rules", "promotion", "loading", "artifacts", "supply", "interop",
            "site", "fleet", "events", "cli")
# Below the front door (registry.py) nobody takes the Registry: they take values.
BELOW_THE_FRONT_DOOR = ("core", "store", "writes", "rules", "promotion", "artifacts", "supply", "fleet", "events",
                        "loading/checks.py", "loading/lockfile.py", "loading/weights.py")
# Each outside system has owners, and only they import it.
OWNERS = {
    "dvc": {"artifacts/dvc.py"},
    "botocore": {"artifacts/s3.py"},  # AWS profiles only: boto3 itself is imported nowhere
    "obstore": {"artifacts/objstore.py"},  # the weights data path on S3, GCS, Azure
    "subprocess": {"store/gitstore.py"},  # git is run by the one store module
    "urllib.request": {"promotion/forge/github.py", "interop/mlflow_import.py",  # GitHub; MLflow's URI probe
                       "events/webhooks.py"},  # webhook receivers
    "standardwebhooks": {"events/webhooks.py"},
    "torch": {"loading/loader.py"},
    "transformers": {"loading/loader.py"},
    "peft": {"loading/loader.py"},
    "huggingface_hub": {"loading/loader.py"},
    "mlflow": {"interop/mlflow_import.py", "interop/mlflow_store.py"},
    "model_signing": {"supply/signatures.py"},
    "sigstore": {"supply/signatures.py"},
    "picklescan": {"supply/formats.py"},
    "cyclonedx": {"supply/bom.py"},
    "jsonschema": {"core/schema.py"},
    "codeowners": {"promotion/codeowners.py"},
    "jinja2": {"site/pages.py"},
    "click": None,  # only cli/
}


def modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: dict) -> set[str]:
    """The package's modules `name` imports, at the top or inside functions."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = name.split(".") if is_package else name.split(".")[:-1]
            if node.level:
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                full = f"{target}.{alias.name}"
                found.add(full if full in known else target)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m in known and m != name}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components (iterative: the graph is small, but recursion limits are not ours)."""
    index, low, stack, on_stack, components, counter = {}, {}, [], set(), [], [0]
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
    return components


def test_zero_import_cycles_counting_imports_inside_functions():
    edges = graph()
    assert len(edges) >= 80 and sum(map(len, edges.values())) >= 250  # it read the whole package
    cycles = [sorted(c) for c in strongly_connected(edges) if len(c) > 1]
    assert cycles == []


def test_the_cycle_finder_finds_cycles():
    """The test above can fail: a planted cycle is found."""
    planted = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert [sorted(c) for c in strongly_connected(planted) if len(c) > 1] == [["a", "b", "c"]]


def test_the_top_holds_at_most_six_modules_and_the_packages_name_the_seams():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert "registry.py" in top and len(top) <= 6, top
    for package in PACKAGES:
        assert (PACKAGE / package / "__init__.py").is_file(), package
        assert (PACKAGE / package / "__init__.py").read_text().startswith('"""'), f"{package} says what it holds"


def test_the_registry_is_a_thin_front_door():
    lines = (PACKAGE / "registry.py").read_text().splitlines()
    assert 100 < len(lines) <= 300


def _below_the_front_door() -> list[Path]:
    found = []
    for entry in BELOW_THE_FRONT_DOOR:
        target = PACKAGE / entry
        found += sorted(target.rglob("*.py")) if target.is_dir() else [target]
    return found


def test_below_the_front_door_modules_take_values_not_the_registry():
    """No parameter named reg/registry, no import of registry.py or of what opens one (sources)."""
    files = _below_the_front_door()
    functions = 0
    for path in files:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                functions += 1
                names = {a.arg for a in node.args.args + node.args.kwonlyargs}
                assert not names & {"reg", "registry"}, f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}"
            if isinstance(node, ast.ImportFrom):
                imported = {(node.module or "").rsplit(".", 1)[-1]} | {a.name for a in node.names}
                assert not imported & {"registry", "Registry", "sources"}, f"{path.relative_to(PACKAGE)}:{node.lineno}"
    assert len(files) >= 45 and functions >= 400


def test_artifacts_never_see_git_or_the_registry():
    """issue 9: artifacts/ takes plans, stores and the cache; it imports only core/ and itself."""
    edges = graph()
    inside = [m for m in edges if m.startswith("modelreg.artifacts.")]
    assert len(inside) >= 12
    for module in inside:
        outside = {m for m in edges[module] if not m.startswith(("modelreg.artifacts", "modelreg.core"))}
        assert outside == set(), module


def test_the_ground_floor_imports_nothing_above_it():
    """core/ uses only core/; store/ only core/ and store/ (the one door to git)."""
    edges = graph()
    for floor, allowed in (("modelreg.core", ("modelreg.core",)), ("modelreg.store", ("modelreg.core", "modelreg.store"))):
        members = [m for m in edges if m.startswith(floor + ".")]
        assert len(members) >= 6
        for module in members:
            above = {m for m in edges[module] if not m.startswith(allowed)}
            assert above == set(), module


def _outside_imports() -> dict[str, set[str]]:
    """Top-level outside library -> the package files that import it."""
    found = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            for name in names:
                for library in OWNERS:
                    if name == library or name.startswith(library + "."):
                        found[library].add(rel)
    return found


def test_each_outside_system_is_touched_by_its_owners_only():
    """A newcomer can name from the tree where git, DVC, S3, GitHub, transformers, MLflow and
    signing are touched."""
    found = _outside_imports()
    for library, owners in OWNERS.items():
        users = found.get(library, set())
        assert users, f"nothing imports {library}: the owner map is stale"
        if owners is None:
            assert all(u.startswith("cli/") for u in users), (library, users)
        else:
            assert users == owners, (library, users)


def _cli_words() -> tuple[set[str], set[str]]:
    """The CLI's option flags and command names, from the click tree."""
    from modelreg.cli import LAZY_COMMANDS, cli

    options, commands = set(), set(LAZY_COMMANDS)

    def walk(command):
        for param in command.params:
            if isinstance(param, click.Option):
                options.update(o for o in param.opts + param.secondary_opts if o.startswith("--"))
        if isinstance(command, click.Group):
            for name in command.list_commands(None):
                commands.add(name)
                walk(command.get_command(None, name))
    walk(cli)
    return options, commands


def _library_raises():
    """(file, line, text, hint) of every error the library (all but cli/) raises."""
    from modelreg.core import errors

    kinds = {n for n in dir(errors) if isinstance(getattr(errors, n), type)
             and issubclass(getattr(errors, n), errors.RegistryError)} | {"missing_extra"}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith("cli/"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) in kinds:
                text = " ".join(c.value for c in ast.walk(node) if isinstance(c, ast.Constant)
                                and isinstance(c.value, str))
                hint = next((k.value.value for k in node.keywords if k.arg == "hint"
                             and isinstance(k.value, ast.Constant)), None)
                yield rel, node.lineno, text, hint


def test_library_errors_speak_library_words_and_the_cli_adds_the_flags():
    options, commands = _cli_words()
    assert len(options) >= 40 and {"--reason", "--parent", "--allow-pickle"} <= options
    flag = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, sorted(options, key=len, reverse=True))) + r")(?![\w-])")
    command = re.compile(r"modelreg (" + "|".join(map(re.escape, sorted(commands))) + r")\b")
    raises = list(_library_raises())
    assert len(raises) >= 150
    speaking_cli = [(f, line, text) for f, line, text, _ in raises if flag.search(text) or command.search(text)]
    assert speaking_cli == []


def test_every_hint_the_library_names_is_one_the_cli_renders():
    from modelreg.cli.hints import HINTS

    used = {hint for _, _, _, hint in _library_raises() if hint} | {"extra"}
    assert len(used) >= 15
    assert used <= set(HINTS), used - set(HINTS)
    assert set(HINTS) <= used, f"hints no error uses: {set(HINTS) - used}"


def test_tests_are_laid_out_like_the_package():
    tests = Path(__file__).resolve().parent
    for package in PACKAGES:
        found = list((tests / package).glob("test_*.py"))
        assert found, f"tests/{package}/ has no tests"
    for module in ("snapshot", "change", "gitstore", "reads", "worktree", "history"):
        assert (tests / "store" / f"test_{module}.py").is_file(), module
    flat = sorted(p.name for p in tests.glob("test_*.py"))
    assert flat == ["test_architecture.py", "test_meta.py", "test_registry.py", "test_workflows.py"], flat


def test_the_readme_code_map_names_every_package_and_module():
    """The code map in README's "The house" is the tree: a new module must be placed in it."""
    readme = (PACKAGE.parents[1] / "README.md").read_text()
    house = readme.split("### The house", 1)[1].split("\n```\ntool/modelreg/", 1)[1].split("\n```", 1)[0]
    words = set(re.findall(r"[a-z0-9_]+", house))
    modules_found = [p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py"]
    assert len(modules_found) >= 80
    missing = sorted({p.relative_to(PACKAGE).as_posix() for p in modules_found
                      if p.stem not in words and not p.relative_to(PACKAGE).as_posix().startswith("cli/")})
    assert missing == []
    for package in PACKAGES:
        assert f"\n  {package}/" in "\n" + house, package
