"""Static checks of the Slicer module files (ast and text only: no Slicer, Qt or VTK needed).

These catch what would otherwise only fail inside a Slicer build or at module load: missing
classes or metadata, CMake lists out of step with the files, .ui widgets bound to parameters that do
not exist, packages installed at import time, and GUI/VTK imports leaking into the pure core.
"""

# Optional[...] rather than X | None: the code base targets Python 3.9 (Slicer 5.6/5.8).
# ruff: noqa: UP045
from __future__ import annotations

import ast
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Dict, List, Optional, Set

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
GUI_MODULES = ["ParaspinalFat", "VBQScore"]
CORE_DIR = REPO_ROOT / "SpineQuantCore"
FORBIDDEN_IN_CORE = {"slicer", "vtk", "vtkmodules", "qt", "ctk", "PythonQt", "mrml"}
METADATA_FIELDS = ["title", "categories", "dependencies", "contributors", "helpText", "acknowledgementText"]


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def classes(tree: ast.Module) -> Dict[str, ast.ClassDef]:
    return {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}


def parent_assignments(class_node: ast.ClassDef) -> Dict[str, ast.AST]:
    """self.parent.<field> = <value> inside the class's __init__."""
    found = {}
    for node in ast.walk(class_node):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Attribute)
                        and target.value.attr == "parent"):
                    found[target.attr] = node.value
    return found


def literal_text(node: ast.AST) -> str:
    """Text of a string literal, also when wrapped in _("...") or translate(ctx, "...")."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Call) and node.args:
        return literal_text(node.args[-1])
    if isinstance(node, ast.JoinedStr):
        return "f-string"
    return ""


def cmake_list(text: str, variable: str) -> List[str]:
    """Entries of set(<variable> ...) in a CMakeLists.txt, comments stripped."""
    text = re.sub(r"#[^\n]*", "", text)
    match = re.search(r"set\(\s*" + re.escape(variable) + r"\s+(.*?)\)", text, re.S)
    return match.group(1).split() if match else []


def expand(entry: str, module: str) -> str:
    return entry.replace("${MODULE_NAME}", module)


def wrapper_fields(tree: ast.Module) -> Optional[Set[str]]:
    """Annotated fields of the class decorated with @parameterNodeWrapper."""
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names = {d.id if isinstance(d, ast.Name) else getattr(d, "attr", "") for d in node.decorator_list}
            if "parameterNodeWrapper" in names:
                return {item.target.id for item in node.body
                        if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)}
    return None


def ui_parameter_names(path: Path) -> Set[str]:
    names = set()
    for prop in ElementTree.parse(path).iter("property"):
        if prop.get("name") == "SlicerParameterName":
            names.add(prop.findtext("string"))
    return names


def top_level_calls(tree: ast.Module):
    """Calls that run when the module is imported: everything outside function bodies."""
    pending = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Call):
            yield node
        pending.extend(ast.iter_child_nodes(node))


def call_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


# --- module classes and metadata ----------------------------------------------------------------------

@pytest.mark.parametrize("module", GUI_MODULES)
def test_module_classes_present(module):
    tree = parse(REPO_ROOT / module / f"{module}.py")
    found = classes(tree)
    for suffix in ("", "Widget", "Logic", "Test"):
        assert f"{module}{suffix}" in found, f"{module}.py lacks class {module}{suffix}"
    test_methods = {n.name for n in found[f"{module}Test"].body if isinstance(n, ast.FunctionDef)}
    assert "runTest" in test_methods
    assert any(name.startswith("test_") for name in test_methods)
    logic_methods = {n.name for n in found[f"{module}Logic"].body if isinstance(n, ast.FunctionDef)}
    assert "getParameterNode" in logic_methods


@pytest.mark.parametrize("module", GUI_MODULES + ["SpineQuantCore"])
def test_module_metadata_non_empty(module):
    tree = parse(REPO_ROOT / module / f"{module}.py")
    fields = parent_assignments(classes(tree)[module])
    for field in METADATA_FIELDS:
        assert field in fields, f"{module}: parent.{field} is not set"
        if field == "dependencies":
            continue
        value = fields[field]
        if isinstance(value, ast.List):
            assert value.elts and all(literal_text(e) for e in value.elts), f"{module}: empty {field}"
        else:
            assert literal_text(value).strip(), f"{module}: empty {field}"
    categories = [literal_text(e) for e in fields["categories"].elts]
    assert categories == ["Quantification"]


@pytest.mark.parametrize("module", GUI_MODULES)
def test_gui_modules_depend_on_core(module):
    fields = parent_assignments(classes(parse(REPO_ROOT / module / f"{module}.py"))[module])
    assert "SpineQuantCore" in [literal_text(e) for e in fields["dependencies"].elts]


def test_core_module_is_hidden():
    fields = parent_assignments(classes(parse(CORE_DIR / "SpineQuantCore.py"))["SpineQuantCore"])
    assert isinstance(fields.get("hidden"), ast.Constant) and fields["hidden"].value is True


# --- CMake lists --------------------------------------------------------------------------------------

def test_top_level_cmake_adds_core_first():
    text = (REPO_ROOT / "CMakeLists.txt").read_text()
    order = re.findall(r"add_subdirectory\((\w+)\)", text)
    assert order[:3] == ["SpineQuantCore", "ParaspinalFat", "VBQScore"]
    assert "## NEXT_MODULE" in text
    assert re.search(r'EXTENSION_CATEGORY\s+"Quantification"', text)
    for line in ("find_package(Slicer REQUIRED)", "include(${Slicer_USE_FILE})",
                 "include(${Slicer_EXTENSION_GENERATE_CONFIG})", "include(${Slicer_EXTENSION_CPACK})"):
        assert line in text


@pytest.mark.parametrize("module", GUI_MODULES)
def test_cmake_lists_match_module_files(module):
    folder = REPO_ROOT / module
    text = (folder / "CMakeLists.txt").read_text()
    scripts = [expand(e, module) for e in cmake_list(text, "MODULE_PYTHON_SCRIPTS")]
    resources = [expand(e, module) for e in cmake_list(text, "MODULE_PYTHON_RESOURCES")]
    assert f"{module}.py" in scripts
    assert f"Resources/UI/{module}.ui" in resources and f"Resources/Icons/{module}.png" in resources
    lib = folder / f"{module}Lib"
    missing = [e for e in scripts + resources if not (folder / e).is_file()]
    if missing and not lib.exists() and all(m.startswith(f"{module}Lib/") for m in missing):
        pytest.skip(f"{module}Lib/ is not written yet by its owner (listed: {', '.join(missing)})")
    assert not missing, f"{module}/CMakeLists.txt lists files that do not exist: {missing}"
    on_disk = sorted(str(p.relative_to(folder)) for p in folder.rglob("*.py")
                     if "Testing" not in p.relative_to(folder).parts and "__pycache__" not in p.parts)
    unlisted = [p for p in on_disk if p not in scripts]
    assert not unlisted, f"{module}/CMakeLists.txt SCRIPTS misses {unlisted}"
    assert "WITH_GENERIC_TESTS" in text
    assert re.search(r"if\(BUILD_TESTING\).*slicer_add_python_unittest\(SCRIPT \$\{MODULE_NAME\}\.py\)",
                     text, re.S)
    assert (folder / "Testing" / "CMakeLists.txt").is_file()
    assert (folder / "Testing" / "Python" / "CMakeLists.txt").is_file()


def glob_matches(pattern: str, relative: str, recursive: bool) -> bool:
    """CMake file(GLOB[_RECURSE]) semantics for a 'dir/*.ext' pattern relative to the source dir."""
    folder, _, name_pattern = pattern.rpartition("/")
    path = Path(relative)
    inside = path.parent.as_posix() == folder or (recursive and path.as_posix().startswith(folder + "/"))
    return inside and path.match(name_pattern)


def test_core_cmake_glob_covers_the_package():
    text = (CORE_DIR / "CMakeLists.txt").read_text()
    code = re.sub(r"#[^\n]*", "", text)
    globs = {}
    for kind, variable, body in re.findall(r"file\((GLOB_RECURSE|GLOB)\s+(\w+)(.*?)\)", code, re.S):
        assert "RELATIVE" in body, f"{variable}: paths must be relative to keep the package folders"
        patterns = [p.replace("${CMAKE_CURRENT_SOURCE_DIR}/", "") for p in body.split()
                    if p.startswith("${CMAKE_CURRENT_SOURCE_DIR}/")]
        globs[variable] = (kind == "GLOB_RECURSE", patterns)
    scripts = [expand(e, "SpineQuantCore") for e in cmake_list(text, "MODULE_PYTHON_SCRIPTS")]
    resources = cmake_list(text, "MODULE_PYTHON_RESOURCES")
    assert "SpineQuantCore.py" in scripts

    def covered(relative: str, entries: List[str]) -> bool:
        for entry in entries:
            if entry == relative:
                return True
            variable = entry[2:-1] if entry.startswith("${") else None
            if variable in globs:
                recursive, patterns = globs[variable]
                if any(glob_matches(p, relative, recursive) for p in patterns):
                    return True
        return False

    package = [p for p in (CORE_DIR / "spinequant").rglob("*.py") if "__pycache__" not in p.parts]
    assert package, "the core package is empty"
    uncovered = [p.relative_to(CORE_DIR).as_posix() for p in package
                 if not covered(p.relative_to(CORE_DIR).as_posix(), scripts)]
    assert not uncovered, f"SpineQuantCore SCRIPTS do not cover {uncovered}"
    data = [p.relative_to(CORE_DIR).as_posix() for p in (CORE_DIR / "spinequant").rglob("*.json")]
    assert not [d for d in data if not covered(d, resources)], "core data files missing from RESOURCES"


# --- .ui files and parameter wrappers -----------------------------------------------------------------

@pytest.mark.parametrize("module", GUI_MODULES)
def test_ui_parameter_names_match_wrapper_fields(module):
    fields = wrapper_fields(parse(REPO_ROOT / module / f"{module}.py"))
    assert fields, f"{module}.py has no @parameterNodeWrapper class"
    bound = ui_parameter_names(REPO_ROOT / module / "Resources" / "UI" / f"{module}.ui")
    assert bound == fields, f"only in .ui: {bound - fields}; only in wrapper: {fields - bound}"


@pytest.mark.parametrize("module", GUI_MODULES)
def test_ui_has_apply_button_used_by_widget(module):
    root = ElementTree.parse(REPO_ROOT / module / "Resources" / "UI" / f"{module}.ui").getroot()
    names = {w.get("name") for w in root.iter("widget")}
    assert "applyButton" in names
    source = (REPO_ROOT / module / f"{module}.py").read_text()
    assert "self.ui.applyButton.connect(" in source
    assert "tryWithErrorDisplay" in source
    assert f'loadUI(self.resourcePath("UI/{module}.ui"))' in source


def test_paraspinal_method_choices_match_core():
    from spinequant.fat.methods import FAT_METHODS

    tree = parse(REPO_ROOT / "ParaspinalFat" / "ParaspinalFat.py")
    declared = next(ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
                    and any(getattr(t, "id", "") == "FAT_METHODS" for t in n.targets))
    assert tuple(declared) == tuple(FAT_METHODS)
    root = ElementTree.parse(REPO_ROOT / "ParaspinalFat" / "Resources" / "UI" / "ParaspinalFat.ui").getroot()
    combo = next(w for w in root.iter("widget") if w.get("name") == "methodComboBox")
    items = [item.find("property/string").text for item in combo.findall("item")]
    assert tuple(items) == tuple(FAT_METHODS)


# --- import-time behaviour ----------------------------------------------------------------------------

def module_python_files():
    files = []
    for module in GUI_MODULES + ["SpineQuantCore"]:
        files += [p for p in (REPO_ROOT / module).rglob("*.py") if "__pycache__" not in p.parts]
    return files


@pytest.mark.parametrize("path", module_python_files(), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_no_package_install_at_import_time(path):
    offending = [call_name(c) for c in top_level_calls(parse(path))
                 if call_name(c) in {"pip_install", "pip_ensure", "pip_uninstall"}]
    assert not offending, f"{path.name} installs packages at import time: {offending}"


@pytest.mark.parametrize("module", GUI_MODULES)
def test_module_file_does_not_import_qt_at_load(module):
    """qt/ctk are only needed by the widget at run time; a top-level import breaks scripting tests."""
    tree = parse(REPO_ROOT / module / f"{module}.py")
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    assert not names & {"qt", "ctk"}


# --- the pure core ------------------------------------------------------------------------------------

def core_files():
    return sorted(p for p in (CORE_DIR / "spinequant").rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", core_files(), ids=lambda p: str(p.relative_to(CORE_DIR)))
def test_core_never_imports_slicer_vtk_or_qt(path):
    tree = parse(path)
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and call_name(node) in {"import_module", "__import__"} and node.args:
            imported.add(literal_text(node.args[0]).split(".")[0])
    leaked = imported & FORBIDDEN_IN_CORE
    assert not leaked, f"{path.relative_to(REPO_ROOT)} imports {sorted(leaked)}; the core must stay pure"


# --- panels of issue #5: buttons, dependencies, progress, choices ---------------------------------------

PANEL_COMMON = REPO_ROOT / "ParaspinalFat" / "ParaspinalFatLib" / "panel_common.py"


def widget_methods(module: str) -> Dict[str, ast.FunctionDef]:
    """Methods of the panel: those of the shared PanelMixin, overridden by the module's widget class."""
    mixin = classes(parse(PANEL_COMMON))["PanelMixin"]
    widget = classes(parse(REPO_ROOT / module / f"{module}.py"))[f"{module}Widget"]
    return {n.name: n for cls in (mixin, widget) for n in cls.body if isinstance(n, ast.FunctionDef)}


def panel_source(module: str) -> str:
    return (REPO_ROOT / module / f"{module}.py").read_text() + PANEL_COMMON.read_text()


def handlers(module: str) -> Dict[str, ast.FunctionDef]:
    """The button handlers (onXxx) of the panel."""
    return {name: method for name, method in widget_methods(module).items() if name.startswith("on")}


def calls_in(node: ast.AST) -> List[ast.Call]:
    return sorted((n for n in ast.walk(node) if isinstance(n, ast.Call)), key=lambda c: (c.lineno, c.col_offset))


def attribute_chain(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


@pytest.mark.parametrize("module", GUI_MODULES)
def test_every_ui_button_is_connected_and_guarded(module):
    root = ElementTree.parse(REPO_ROOT / module / "Resources" / "UI" / f"{module}.ui").getroot()
    buttons = [w.get("name") for w in root.iter("widget") if w.get("class") == "QPushButton"]
    source = panel_source(module)
    for name in buttons:
        match = re.search(rf"self\.ui\.{name}\.connect\(\"clicked\(bool\)\", self\.(\w+)\)", source)
        assert match, f"{module}: button {name} is not connected"
        handler = widget_methods(module)[match.group(1)]
        assert any(call_name(c) == "tryWithErrorDisplay" for c in calls_in(handler)), \
            f"{module}.{handler.name} does not show errors with tryWithErrorDisplay"


HEAVY_LOGIC_CALLS = {"segmentMuscles", "quantify", "acceptReviewCase", "openReview", "detectLevels", "computeVBQ"}
# The panel's own step that calls the logic (PanelMixin.onAcceptButton -> self._acceptCase -> logic).
HEAVY_PANEL_CALLS = {"_acceptCase"}


def heavy_calls(method: ast.FunctionDef) -> List[ast.Call]:
    found = []
    for call in calls_in(method):
        if not isinstance(call.func, ast.Attribute):
            continue
        chain = attribute_chain(call.func)
        if (call.func.attr in HEAVY_LOGIC_CALLS and chain.startswith("self.logic.")) or (
                call.func.attr in HEAVY_PANEL_CALLS and chain == f"self.{call.func.attr}"):
            found.append(call)
    return found


@pytest.mark.parametrize("module", GUI_MODULES)
def test_panel_steps_that_call_the_logic_are_only_called_by_guarded_handlers(module):
    for name, method in widget_methods(module).items():
        if not name.startswith("on"):
            assert not any(call_name(c) in HEAVY_PANEL_CALLS for c in calls_in(method)), \
                f"{module}.{name} calls a logic step outside a button handler"


@pytest.mark.parametrize("module", GUI_MODULES)
def test_handlers_ensure_dependencies_before_logic(module):
    """Packages Slicer lacks are installed on first use, in the click handler, before the logic runs."""
    checked = 0
    for method in handlers(module).values():
        calls = calls_in(method)
        logic_calls = heavy_calls(method)
        if not logic_calls:
            continue
        ensure = [c for c in calls if call_name(c) == "ensureDependencies"]
        assert ensure, f"{module}.{method.name} runs the logic without ensureDependencies()"
        assert ensure[0].lineno < logic_calls[0].lineno, f"{module}.{method.name}: ensureDependencies comes late"
        checked += 1
    assert checked >= 3


@pytest.mark.parametrize("module", GUI_MODULES)
def test_ensure_dependencies_asks_and_uses_pip_ensure_or_pip_install(module):
    source = (REPO_ROOT / module / f"{module}.py").read_text()
    assert "from ParaspinalFatLib.panel_common import" in source and "ensureDependencies" in source
    tree = parse(PANEL_COMMON)
    function = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "ensureDependencies")
    names = [call_name(c) for c in calls_in(function)]
    assert "pip_ensure" in names and "pip_install" in names
    assert names.index("confirmOkCancelDisplay") < names.index("pip_install"), "ask before pip_install"


@pytest.mark.parametrize("module", GUI_MODULES)
def test_long_operations_run_under_the_progress_dialog(module):
    for method in handlers(module).values():
        for call in heavy_calls(method):
            if call_name(call) in {"segmentMuscles", "quantify", "_acceptCase", "detectLevels", "computeVBQ"}:
                wrapped = [c for c in calls_in(method) if call_name(c) == "runWithProgress"]
                assert wrapped, f"{module}.{method.name} calls {call_name(call)} without the progress dialog"
    panel = (REPO_ROOT / "ParaspinalFat" / "ParaspinalFatLib" / "review_panel.py").read_text()
    assert "createProgressDialog" in panel and "wasCanceled" in panel


@pytest.mark.parametrize("module", GUI_MODULES)
def test_widget_errors_are_translatable(module):
    """User-facing messages raised by the widget go through _()."""
    for method in widget_methods(module).values():
        for node in ast.walk(method):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args:
                message = node.exc.args[0]
                assert isinstance(message, ast.Call) and call_name(message) in {"_", "tr", "format"}, \
                    f"{module}.{method.name}: untranslated message"


def choice_values(module: str) -> Dict[str, List[str]]:
    """{field: Choice([...]) values} of the parameter wrapper, resolved through module-level tuples."""
    tree = parse(REPO_ROOT / module / f"{module}.py")
    constants = {t.id: ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
                 for t in n.targets if isinstance(t, ast.Name) and isinstance(n.value, (ast.Tuple, ast.List))
                 and all(isinstance(e, ast.Constant) for e in n.value.elts)}
    found = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and any(getattr(d, "id", "") == "parameterNodeWrapper"
                                                  for d in node.decorator_list):
            for item in node.body:
                if not isinstance(item, ast.AnnAssign):
                    continue
                for call in (c for c in ast.walk(item.annotation) if isinstance(c, ast.Call)):
                    if call_name(call) == "Choice":
                        argument = call.args[0]
                        if isinstance(argument, ast.Call) and argument.args:  # list(CONSTANT)
                            argument = argument.args[0]
                        values = constants[argument.id] if isinstance(argument, ast.Name) else \
                            ast.literal_eval(argument)
                        found[item.target.id] = list(values)
    return found


@pytest.mark.parametrize("module", GUI_MODULES)
def test_choice_fields_match_combo_items(module):
    choices = choice_values(module)
    assert choices, f"{module} has no Choice field"
    root = ElementTree.parse(REPO_ROOT / module / "Resources" / "UI" / f"{module}.ui").getroot()
    for widget in root.iter("widget"):
        bound = [p.findtext("string") for p in widget.findall("property") if p.get("name") == "SlicerParameterName"]
        if bound and bound[0] in choices:
            assert widget.get("class") == "QComboBox"
            items = [item.find("property/string").text for item in widget.findall("item")]
            assert items == choices[bound[0]], bound[0]


def test_vbq_panel_has_an_exclusion_per_level():
    choices = choice_values("VBQScore")
    for level in ("L1", "L2", "L3", "L4"):
        assert choices[f"exclude{level}"] == ["include", "fracture", "cement", "lesion"]


def test_edit_button_opens_the_segment_editor():
    method = widget_methods("ParaspinalFat")["onEditButton"]
    source = ast.unparse(method)
    assert "selectModule('SegmentEditor')" in source
    assert "setSegmentationNode" in source and "setSourceVolumeNode" in source


@pytest.mark.parametrize("module", GUI_MODULES)
def test_review_buttons_and_path_fields_present(module):
    root = ElementTree.parse(REPO_ROOT / module / "Resources" / "UI" / f"{module}.ui").getroot()
    widgets = {w.get("name"): w.get("class") for w in root.iter("widget")}
    for name in ("openFolderButton", "previousButton", "nextButton", "acceptButton"):
        assert widgets.get(name) == "QPushButton", name
    assert widgets.get("caseTable") == "QTableWidget"
    fields = wrapper_fields(parse(REPO_ROOT / module / f"{module}.py"))
    assert {"reviewFolder", "reviewOutputFolder", "cohortFile"} <= fields
    paths = {w.get("name") for w in root.iter("widget") if w.get("class") == "ctkPathLineEdit"}
    assert len(paths) == 3
