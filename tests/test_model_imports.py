"""The modules of `lstm_odyssey.models` import only modules below them: no circle, no lazy import
that dodges one."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import lstm_odyssey.models

MODELS = Path(lstm_odyssey.models.__file__).parent
# bottom to top: each module may import only the ones before it
LAYERS = [
    "variants",
    "gru",
    "fast_lstm",
    "fast_gru",
    "implementations",
    "layer",
    "networks",
    "packed",
]


def models_imported_by(path: Path) -> set[str]:
    """Every `lstm_odyssey.models` module that `path` imports, at the top or inside a function."""
    imported = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if name.startswith("lstm_odyssey.models."):
                module = name.split(".")[2]
                if (MODELS / f"{module}.py").exists():
                    imported.add(module)
    return imported


def test_every_models_module_has_a_place_in_the_layers() -> None:
    modules = {path.stem for path in MODELS.glob("*.py")} - {"__init__"}
    assert modules == set(LAYERS)


def test_models_modules_import_only_downwards() -> None:
    for rank, module in enumerate(LAYERS):
        imported = models_imported_by(MODELS / f"{module}.py") - {module}
        upward = imported - set(LAYERS[:rank])
        assert not upward, f"models/{module}.py imports {sorted(upward)}, which sit above it"


def test_the_variants_module_loads_neither_the_kernel_nor_the_dispatch() -> None:
    code = (
        "import sys\n"
        "import lstm_odyssey.models.variants\n"
        "print(sorted(m for m in sys.modules if m.startswith('lstm_odyssey.models.')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['lstm_odyssey.models.variants']"
