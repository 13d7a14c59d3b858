"""The fused CPU kernel (implementation="fast") against the reference Python loop.

The kernel's tests skip only where there is no C++ compiler; wherever there is one, a kernel
that fails to build fails them with the compiler's message (never a silent skip).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch

from lstm_odyssey.models import fast_lstm, implementations
from lstm_odyssey.models.layer import VariantLSTM
from lstm_odyssey.models.networks import SequenceNetwork
from lstm_odyssey.models.variants import VARIANTS
from tests.helpers import layer_outputs_and_gradients, relative_error

torch.set_num_threads(1)

NAMES = list(VARIANTS)
TOLERANCE = 1e-5  # relative, float32


def skip_without_a_compiler() -> None:
    """The one reason a kernel test may skip: torch has no C++ compiler to build it with."""
    if fast_lstm.compiler_on_path() is None:
        cxx = os.environ.get("CXX")
        where = f"$CXX={cxx!r} not found" if cxx else "c++/g++ not on PATH"
        pytest.skip(f"no C++ compiler ({where})")


@pytest.fixture(scope="module")
def kernel() -> None:
    """Build the kernel once (cached on disk after the first run). Skips only without a
    compiler; a build error raises KernelBuildError with the compiler's message."""
    skip_without_a_compiler()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast_lstm.require_kernel()


def test_the_kernel_builds_wherever_there_is_a_compiler() -> None:
    skip_without_a_compiler()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast_lstm.require_kernel()  # a compile error fails here, showing the compiler's output
    assert fast_lstm.fast_available()
    assert fast_lstm.kernel_build_error() is None


@pytest.mark.parametrize("broken", ["fused_lstm.cpp", "fused_gru.cpp"])
def test_a_compile_error_fails_the_build_with_the_compilers_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, broken: str
) -> None:
    """A copy of the sources with one file broken, built by the same function into its own
    cache: the error is kept and raised with the compiler's message, never turned into "kernel
    unavailable". The GRU's kernel is in the same extension, so breaking it fails the LSTM's too."""
    skip_without_a_compiler()
    sources = tmp_path / "csrc"
    sources.mkdir()
    for source in fast_lstm.SOURCE_DIR.iterdir():
        if source.suffix in (".cpp", ".h"):
            (sources / source.name).write_bytes(source.read_bytes())
    lines = (sources / broken).read_text().splitlines(keepends=True)
    broken_line = lines.index("namespace {\n") + 2  # 1-based number of the inserted line
    lines.insert(broken_line - 1, "int broken_on_purpose = ;\n")
    (sources / broken).write_text("".join(lines))
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path / "cache"))
    extension = fast_lstm._Extension(lambda: fast_lstm.compile_extension(sources))

    with pytest.warns(RuntimeWarning, match="could not build the fused LSTM kernel"):
        assert extension.ops() is None  # the users' fallback: warn, run the reference
    with pytest.raises(fast_lstm.KernelBuildError) as raised:
        extension.require()
    message = str(raised.value)
    assert f"{broken}:{broken_line}:" in message, message[-4000:]
    assert "broken_on_purpose" in message and ": error:" in message
    # built under its own name in its own cache: the real kernel's cached build is untouched
    (build,) = (tmp_path / "cache").iterdir()
    assert build.name.startswith("lstm_odyssey_fused_")


def assert_matches_reference(
    layer: VariantLSTM, x: torch.Tensor, lengths: torch.Tensor | None
) -> None:
    expected = layer_outputs_and_gradients(layer, x, lengths, "reference")
    actual = layer_outputs_and_gradients(layer, x, lengths, "fast")
    assert actual.keys() == expected.keys()
    for name in expected:
        error = relative_error(actual[name], expected[name])
        assert error <= TOLERANCE, f"{layer.spec.name} {name}: relative error {error:.2e}"


@pytest.mark.parametrize("name", NAMES)
def test_fast_matches_reference_outputs_and_gradients(kernel: None, name: str) -> None:
    # H = 37 exercises full and partial panels of the packed matrix-vector product
    torch.manual_seed(0)
    clean = torch.randn(23, 3, 6)
    noisy = clean + 0.6 * torch.randn_like(clean)  # input noise is just a different x
    for reverse in (False, True):
        layer = VariantLSTM(name, 6, 37, reverse=reverse)
        assert_matches_reference(layer, clean[:, :1], None)  # one sequence, as in the paper
        assert_matches_reference(layer, noisy[:, :1], None)
        lengths = torch.tensor([23, 9, 16])  # padded batch
        assert_matches_reference(layer, clean, lengths)
        assert_matches_reference(layer, noisy, lengths)


def supported_paths() -> list[str]:
    """Every instruction-set path the kernel can take on this machine, lowest first."""
    os.environ.pop(fast_lstm.KERNEL_ISA_VARIABLE, None)
    best = fast_lstm.kernel_isa()
    if best == "portable":
        return [best]
    return list(fast_lstm.KERNEL_ISA_CAPS[: fast_lstm.KERNEL_ISA_CAPS.index(best) + 1])


@pytest.mark.parametrize("name", NAMES)
def test_every_instruction_set_path_matches_the_reference(
    kernel: None, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # H = 70: two full panels of the packed product and a partial one (W = 4H = 280 rows)
    torch.manual_seed(1)
    x = torch.randn(17, 2, 5)
    lengths = torch.tensor([17, 11])
    for path in supported_paths():
        monkeypatch.setenv(fast_lstm.KERNEL_ISA_VARIABLE, path)
        assert fast_lstm.kernel_isa() == path
        for reverse in (False, True):
            assert_matches_reference(VariantLSTM(name, 5, 70, reverse=reverse), x, lengths)


def test_an_unknown_isa_cap_is_refused(kernel: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(fast_lstm.KERNEL_ISA_VARIABLE, "sse9")
    with pytest.raises(ValueError, match="LSTM_ODYSSEY_KERNEL_ISA='sse9'"):
        VariantLSTM("V", 3, 4, implementation="fast")(torch.randn(5, 1, 3))


@pytest.mark.parametrize("name", ["V", "NIG", "NOAF", "NIAF", "CIFG", "FGR"])
def test_fast_passes_gradcheck_in_float64(kernel: None, name: str) -> None:
    torch.manual_seed(1)
    layer = VariantLSTM(name, 3, 4, init_std=0.5, implementation="fast").double()
    x = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([5, 3])
    parameters = tuple(layer.parameters())

    def run(x: torch.Tensor, *_: torch.Tensor) -> torch.Tensor:
        return layer(x, lengths)

    assert torch.autograd.gradcheck(run, (x, *parameters), eps=1e-6, atol=1e-6)


def test_fast_batch_equals_sequences_run_alone(kernel: None) -> None:
    torch.manual_seed(2)
    layer = VariantLSTM("FGR", 4, 70, reverse=True, implementation="fast")
    lengths = torch.tensor([11, 4, 8])
    x = torch.randn(11, 3, 4)
    batched = layer(x, lengths)
    for b, length in enumerate(lengths.tolist()):
        alone = layer(x[:length, b : b + 1])
        torch.testing.assert_close(batched[:length, b : b + 1], alone, rtol=1e-5, atol=1e-6)
        assert torch.all(batched[length:, b] == 0)


def test_fast_network_matches_reference(kernel: None) -> None:
    torch.manual_seed(3)
    fast = SequenceNetwork("V", 5, 12, 7, bidirectional=True, layers=2, implementation="fast")
    reference = SequenceNetwork("V", 5, 12, 7, bidirectional=True, layers=2)
    reference.load_state_dict(fast.state_dict())
    x = torch.randn(9, 2, 5)
    lengths = torch.tensor([9, 6])
    for network in (fast, reference):
        network(x, lengths).square().sum().backward()
    torch.testing.assert_close(fast(x, lengths), reference(x, lengths), rtol=1e-5, atol=1e-6)
    for (name, p_fast), p_reference in zip(
        fast.named_parameters(), reference.parameters(), strict=True
    ):
        torch.testing.assert_close(p_fast.grad, p_reference.grad, rtol=1e-5, atol=1e-6, msg=name)


def test_failed_build_warns_once_and_uses_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_build() -> None:
        raise RuntimeError("no compiler in this test")

    monkeypatch.setattr(fast_lstm, "_EXTENSION", fast_lstm._Extension(broken_build))
    torch.manual_seed(4)
    layer = VariantLSTM("CIFG", 3, 5, implementation="fast")
    x = torch.randn(6, 2, 3)
    with pytest.warns(RuntimeWarning, match="could not build the fused LSTM kernel"):
        y_fast = layer(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the second call must not warn again
        layer.implementation = "auto"
        y_auto = layer(x)
    layer.implementation = "reference"
    y_reference = layer(x)
    torch.testing.assert_close(y_fast, y_reference, rtol=0, atol=0)
    torch.testing.assert_close(y_auto, y_reference, rtol=0, atol=0)


def test_fast_on_unsupported_dtype_warns_once_and_uses_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(implementations, "_WARNED", set())
    torch.manual_seed(5)
    layer = VariantLSTM("V", 3, 4, implementation="fast").to(torch.bfloat16)
    x = torch.randn(5, 1, 3, dtype=torch.bfloat16)
    with pytest.warns(RuntimeWarning, match="CPU float32/float64 only"):
        y_fast = layer(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer(x)
        layer.implementation = "auto"  # auto falls back silently
        y_auto = layer(x)
    layer.implementation = "reference"
    torch.testing.assert_close(y_fast, layer(x), rtol=0, atol=0)
    torch.testing.assert_close(y_auto, layer(x), rtol=0, atol=0)


def test_every_implementation_works_from_the_layer_module_alone() -> None:
    """One explicit registry: no import side effect is needed for "fast" or "auto"."""
    code = (
        "import torch\n"
        "from lstm_odyssey.models.layer import VariantLSTM\n"
        "for name in ('reference', 'fast', 'auto'):\n"
        "    VariantLSTM('V', 2, 3, implementation=name)(torch.zeros(4, 1, 2))\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    with pytest.raises(ValueError, match="unknown implementation 'turbo'"):
        VariantLSTM("V", 2, 3, implementation="turbo")


def test_the_record_and_the_forward_pass_resolve_alike(kernel: None) -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert implementations.resolve_implementation("auto", cpu, torch.float32) == "fast"
    assert implementations.resolve_implementation("reference", cpu, torch.float32) == "reference"
    assert implementations.resolve_implementation("auto", cuda, torch.float32) == "reference"
    assert implementations.resolve_implementation("auto", cpu, torch.bfloat16) == "reference"


def test_stale_build_lock_is_removed_and_a_fresh_one_kept(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    lock.touch()
    fast_lstm._remove_stale_lock(tmp_path)  # a build in progress: wait for it
    assert lock.exists()
    old = time.time() - 2 * fast_lstm.STALE_LOCK_SECONDS
    os.utime(lock, (old, old))
    with pytest.warns(RuntimeWarning, match="build lock"):
        fast_lstm._remove_stale_lock(tmp_path)
    assert not lock.exists()


def test_checkouts_share_one_cached_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The build is named by the sources' content and built from copies inside the cache, so
    two checkouts of the same commit never evict each other's build."""
    from torch.utils import cpp_extension

    built = []
    monkeypatch.setattr(
        cpp_extension,
        "load",
        lambda **keywords: built.append((keywords["name"], keywords["sources"])),
    )
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path / "cache"))
    for checkout in ("one", "two"):
        sources = tmp_path / checkout / "csrc"
        sources.mkdir(parents=True)
        for source in [*fast_lstm.SOURCE_DIR.glob("*.cpp"), *fast_lstm.SOURCE_DIR.glob("*.h")]:
            (sources / source.name).write_bytes(source.read_bytes())
        monkeypatch.setattr(fast_lstm, "SOURCE_DIR", sources)
        fast_lstm.compile_extension()
    (first_name, first_sources), (second_name, second_sources) = built
    assert first_name == second_name and first_sources == second_sources
    cache = tmp_path / "cache" / first_name
    assert all(Path(source).is_relative_to(cache) for source in first_sources)


@pytest.mark.slow
@pytest.mark.parametrize("source_name", ["fused_lstm.cpp", "fused_gru.cpp"])
def test_the_kernel_compiles_for_aarch64_without_x86_intrinsics(
    tmp_path: Path, source_name: str
) -> None:
    """Apple Silicon and ARM servers: the x86 paths are guarded, the portable one builds."""
    import shutil

    from torch.utils.cpp_extension import include_paths

    compiler = shutil.which("aarch64-linux-gnu-g++")
    if compiler is None:
        pytest.skip("no aarch64 cross compiler: apt-get install g++-aarch64-linux-gnu")
    source = fast_lstm.SOURCE_DIR / source_name
    obj = tmp_path / "kernel.o"
    includes = [f"-I{path}" for path in include_paths()]
    result = subprocess.run(
        [compiler, "-std=c++20", *fast_lstm.COMPILE_FLAGS, "-c", str(source), "-o", str(obj)]
        + includes,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    header = obj.read_bytes()[:20]
    assert header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") == 183  # EM_AARCH64
