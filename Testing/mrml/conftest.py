"""Real MRML nodes without the Slicer application, from the ``slicer-core`` wheel.

The session fixture wires a scene the way the application does (application logic, colour logic
with default colour tables, module logics), sets ``slicer.mrmlScene`` and a small ``slicer.modules``
shim, because ``slicer.util`` segmentation helpers look logics up there. ``mrml_scene`` gives each
test that scene, cleared. Everything skips with a reason when ``import slicer`` fails.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import types
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
MODULE_DIRS = [REPO_ROOT / "SpineQuantCore", REPO_ROOT / "ParaspinalFat", REPO_ROOT / "VBQScore"]

try:
    import slicer
    import vtk

    SLICER_ERROR = ""
except Exception as exc:  # ImportError, or a broken VTK/slicer-core install
    slicer = None
    vtk = None
    SLICER_ERROR = f"{type(exc).__name__}: {exc}"

# Slicer puts every scripted module folder on sys.path; do the same for the adapters and the core.
for _folder in MODULE_DIRS:
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))


class _ModuleShim:
    """Stands in for slicer.modules.<name>: only .logic() is used by slicer.util."""

    def __init__(self, logic):
        self._logic = logic

    def logic(self):
        return self._logic


def _build_application():
    scene = slicer.vtkMRMLScene()
    app_logic = slicer.vtkSlicerApplicationLogic()
    app_logic.SetMRMLScene(scene)
    # vtkMRMLColorLogic needs no home directory (vtkSlicerColorLogic looks for colour files on disk).
    colors = slicer.vtkMRMLColorLogic()
    colors.SetMRMLApplicationLogic(app_logic)
    colors.SetMRMLScene(scene)
    colors.AddDefaultColorNodes()
    app_logic.SetColorLogic(colors)
    app_logic.SetModuleLogic("Colors", colors)
    app_logic.SetSliceLogics(vtk.vtkCollection())
    app_logic.SetViewLogics(vtk.vtkCollection())
    logics = {"colors": colors}
    for key, module_name, cls in (
        ("volumes", "Volumes", slicer.vtkSlicerVolumesLogic),
        # Its constructor registers the segmentation converter rules AddEmptySegment relies on.
        ("segmentations", "Segmentations", slicer.vtkSlicerSegmentationsModuleLogic),
        ("tables", "Tables", slicer.vtkSlicerTablesLogic),
        ("markups", "Markups", slicer.vtkSlicerMarkupsLogic),
    ):
        logic = cls()
        logic.SetMRMLApplicationLogic(app_logic)
        logic.SetMRMLScene(scene)
        app_logic.SetModuleLogic(module_name, logic)
        logics[key] = logic
    return scene, app_logic, logics


@pytest.fixture(scope="session")
def slicer_app():
    """(scene, application logic, {name: logic}) shared by the session."""
    if slicer is None:
        message = f"slicer-core is not importable ({SLICER_ERROR}); pip install slicer-core==5.12.4.0"
        if os.environ.get("SPINEQUANT_REQUIRE_MRML"):  # CI must run this tier, not skip it
            pytest.fail(message)
        pytest.skip(message)
    scene, app_logic, logics = _build_application()
    previous_scene = getattr(slicer, "mrmlScene", None)
    previous_modules = getattr(slicer, "modules", None)
    slicer.mrmlScene = scene
    slicer.modules = types.SimpleNamespace(**{name: _ModuleShim(logic) for name, logic in logics.items()})
    yield scene, app_logic, logics
    slicer.mrmlScene = previous_scene
    if previous_modules is None:
        del slicer.modules
    else:
        slicer.modules = previous_modules


@pytest.fixture
def mrml_scene(slicer_app):
    """The session scene, cleared before each test (singleton/default colour nodes stay)."""
    scene = slicer_app[0]
    scene.Clear(0)
    slicer.mrmlScene = scene
    yield scene
    scene.Clear(0)


# --- Loading a scripted module file without the Qt application --------------------------------------

def _stub_gui_modules():
    """Minimal stand-ins for the Qt-only parts of slicer a module file imports at load time."""
    stubs = {}

    scripted = types.ModuleType("slicer.ScriptedLoadableModule")

    class ScriptedLoadableModule:
        def __init__(self, parent=None):
            self.parent = parent if parent is not None else types.SimpleNamespace()

    class ScriptedLoadableModuleWidget:
        def __init__(self, parent=None):
            self.parent = parent

    class ScriptedLoadableModuleLogic:
        def __init__(self, parent=None):
            self.parent = parent

    class ScriptedLoadableModuleTest:
        pass

    for cls in (ScriptedLoadableModule, ScriptedLoadableModuleWidget, ScriptedLoadableModuleLogic,
                ScriptedLoadableModuleTest):
        setattr(scripted, cls.__name__, cls)
    scripted.__all__ = [c.__name__ for c in (ScriptedLoadableModule, ScriptedLoadableModuleWidget,
                                             ScriptedLoadableModuleLogic, ScriptedLoadableModuleTest)]
    stubs["slicer.ScriptedLoadableModule"] = scripted

    i18n = types.ModuleType("slicer.i18n")
    i18n.tr = lambda text: text
    i18n.translate = lambda context, text: text
    stubs["slicer.i18n"] = i18n

    wrapper = types.ModuleType("slicer.parameterNodeWrapper")
    wrapper.parameterNodeWrapper = lambda cls: cls

    class _Annotation:
        def __init__(self, *args, **kwargs):
            self.args = args

    for name in ("WithinRange", "Choice", "Default", "Minimum", "Maximum", "NotNone", "Decimals"):
        setattr(wrapper, name, type(name, (_Annotation,), {}))
    stubs["slicer.parameterNodeWrapper"] = wrapper
    return stubs


@pytest.fixture(scope="session")
def load_module_file(slicer_app):
    """load_module_file('ParaspinalFat') -> the module object of ParaspinalFat/ParaspinalFat.py.

    GUI-only parts of slicer are stubbed only where slicer-core lacks them, and removed afterwards.
    """
    added = []
    for name, module in _stub_gui_modules().items():
        if name not in sys.modules:
            sys.modules[name] = module
            setattr(slicer, name.split(".", 1)[1], module)
            added.append(name)
    loaded = {}

    def load(module_name: str):
        if module_name not in loaded:
            path = REPO_ROOT / module_name / f"{module_name}.py"
            spec = importlib.util.spec_from_file_location(f"_spinequant_test_{module_name}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            loaded[module_name] = module
        return loaded[module_name]

    yield load
    for name in added:
        sys.modules.pop(name, None)
        if hasattr(slicer, name.split(".", 1)[1]):
            delattr(slicer, name.split(".", 1)[1])
