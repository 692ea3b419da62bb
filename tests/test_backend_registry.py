"""The backend registry: what is installed, unknown names, and the extra that installs a missing backend."""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace

import pytest

import lipread
from lipread import backend as registry
from lipread.errors import BackendError


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget backends loaded by other tests, so that lookups really happen."""
    monkeypatch.setattr(registry, "_loaded", {})


def _found(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def test_available_backends_lists_the_installed_ones() -> None:
    available = lipread.available_backends()
    expected = [name for name, info in registry.BUILTIN.items() if all(_found(m) for m in info.requires)]
    assert [name for name in available if name in registry.BUILTIN] == expected
    infos = {info.name: info for info in registry.backend_infos()}
    assert list(infos)[:3] == ["onnx", "torch", "tensorflow"]
    assert {infos[name].extra for name in ("onnx", "torch", "tensorflow")} == {"onnx", "torch", "tf"}
    assert set(infos["torch"].capabilities) == {"inference", "train", "export"}
    assert infos["onnx"].capabilities == ("inference",)


def test_unknown_backend_lists_the_known_ones(fresh_registry: None) -> None:
    with pytest.raises(BackendError, match="unknown backend 'nonexistent'; known backends: onnx, tensorflow, torch"):
        lipread.get_backend("nonexistent")


@pytest.mark.parametrize(
    ("name", "extra"),
    [("onnx", "onnx"), ("ort", "onnx"), ("torch", "torch"), ("PyTorch", "torch"), ("tensorflow", "tf"), ("tf", "tf")],
)
def test_missing_framework_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, fresh_registry: None, name: str, extra: str
) -> None:
    monkeypatch.setattr(registry, "_module_exists", lambda module: False)
    with pytest.raises(BackendError, match=rf'is not installed \(missing .*\): pip install "lipread\[{extra}\]"'):
        lipread.get_backend(name)
    assert not set(lipread.available_backends()) & set(registry.BUILTIN)


def test_backend_that_fails_to_import(monkeypatch: pytest.MonkeyPatch, fresh_registry: None) -> None:
    broken = registry.BackendInfo("broken", "lipread_no_such_module", ("json",), "broken", ("inference",), "test")
    monkeypatch.setitem(registry.BUILTIN, "broken", broken)
    with pytest.raises(BackendError, match=r'backend .broken. failed to import .*pip install "lipread\[broken\]"'):
        lipread.get_backend("broken")


def test_an_import_interrupted_by_ctrl_c_is_an_interrupt(monkeypatch: pytest.MonkeyPatch, fresh_registry: None) -> None:
    # An extension module whose initialisation Ctrl-C interrupts raises ImportError("initialization failed")
    # from the KeyboardInterrupt (ONNX Runtime does): the user stopped it, the install is not broken.
    info = registry.BackendInfo("slow", "slow_backend_module", ("json",), "slow", ("inference",), "test")
    monkeypatch.setitem(registry.BUILTIN, "slow", info)

    def import_module(name: str) -> None:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as e:
            raise ImportError("initialization failed") from e

    monkeypatch.setattr(registry.importlib, "import_module", import_module)
    with pytest.raises(KeyboardInterrupt):
        lipread.get_backend("slow")


def test_loaded_backends_are_cached(monkeypatch: pytest.MonkeyPatch, fresh_registry: None) -> None:
    fake = SimpleNamespace(name="fake", capabilities=frozenset({"inference"}))
    module = SimpleNamespace(backend=fake)
    info = registry.BackendInfo("fake", "fake_backend_module", ("json",), "fake", ("inference",), "test")
    monkeypatch.setitem(registry.BUILTIN, "fake", info)
    calls: list[str] = []

    def import_module(name: str) -> SimpleNamespace:
        calls.append(name)
        return module

    monkeypatch.setattr(registry.importlib, "import_module", import_module)
    assert lipread.get_backend("fake") is fake
    assert lipread.get_backend(" FAKE ") is fake
    assert calls == ["fake_backend_module"]
    assert "fake" in lipread.available_backends()


def test_first_available(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_module_exists", lambda module: module in ("torch", "lipread_torch"))
    assert registry.first_available() == "torch"
    assert registry.first_available(need="train") == "torch"
    monkeypatch.setattr(registry, "_module_exists", lambda module: False)
    with pytest.raises(BackendError, match=r'can do .inference. is installed: pip install "lipread\[onnx\]"'):
        registry.first_available()


def test_third_party_entry_point(monkeypatch: pytest.MonkeyPatch, fresh_registry: None) -> None:
    fake = SimpleNamespace(name="mine", capabilities=frozenset({"inference"}))
    entry = SimpleNamespace(name="mine", value="mine_backend:backend", load=lambda: fake)
    monkeypatch.setattr(registry, "_third_party", lambda: {"mine": entry})
    infos = {info.name: info for info in registry.backend_infos()}
    assert infos["mine"].module == "mine_backend"
    assert lipread.get_backend("mine") is fake
    with pytest.raises(BackendError, match="known backends: mine, onnx, tensorflow, torch"):
        lipread.get_backend("theirs")


def test_backend_module_without_backend_object(monkeypatch: pytest.MonkeyPatch, fresh_registry: None) -> None:
    info = registry.BackendInfo("empty", "json", ("json",), "empty", ("inference",), "test")
    monkeypatch.setitem(registry.BUILTIN, "empty", info)
    with pytest.raises(BackendError, match=r"module json defines no 'backend'"):
        lipread.get_backend("empty")


@pytest.mark.parity
def test_parity_environment_has_every_backend() -> None:
    """Where every framework is installed, the registry finds all three built-in backends."""
    missing = [m for m in ("torch", "tensorflow", "onnxruntime") if not _found(m)]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")
    assert lipread.available_backends()[:3] == ["onnx", "torch", "tensorflow"]


def test_a_backend_is_named_by_a_string() -> None:
    from lipread.backend import resolve_backend_name
    from lipread.errors import BackendError

    assert resolve_backend_name(" TF ") == "tensorflow"
    with pytest.raises(BackendError, match="a backend is named by a string such as 'onnx', not NoneType"):
        resolve_backend_name(None)  # type: ignore[arg-type]
