# mneme's check program: runs inside the sandbox. Placeholders are JSON literals.
import ast as _ast
import sys as _sys

_PROMPT = __PROMPT__
_CANDIDATE = __CANDIDATE__
_ENTRY = __ENTRY__
_MODE = __MODE__          # "hidden": run check(candidate); "internal": run the internal tests
_HIDDEN = __HIDDEN__      # source defining check(candidate), hidden mode only
_EXAMPLES = __EXAMPLES__  # internal mode: [[expression, expected], ...]
_ASSERTS = __ASSERTS__    # internal mode: ["assert ...", ...]

# Only definitions count: imports, functions, classes, assignments. Demo code a
# model appends (prints, its own asserts, __main__ blocks) is dropped unrun.
_KEEP = (_ast.Import, _ast.ImportFrom, _ast.FunctionDef, _ast.AsyncFunctionDef,
         _ast.ClassDef, _ast.Assign, _ast.AnnAssign)


def _definitions(tree, name):
    tree.body = [n for n in tree.body if isinstance(n, _KEEP)]
    return compile(tree, name, "exec")


_ns = {"__name__": "solution"}
try:
    exec(_definitions(_ast.parse(_PROMPT, "prompt.py"), "prompt.py"), _ns)
except SyntaxError:
    pass  # a prompt that is not a whole program only provides text
_tree = _ast.parse(_CANDIDATE, "solution.py")
if not any(isinstance(n, (_ast.FunctionDef, _ast.AsyncFunctionDef)) and n.name == _ENTRY for n in _tree.body):
    raise NameError("the solution does not define %s()" % _ENTRY)
exec(_definitions(_tree, "solution.py"), _ns)

if _MODE == "hidden":
    exec(compile(_HIDDEN, "hidden_test.py", "exec"), _ns)
    _ns["check"](_ns[_ENTRY])
    _sys.exit(0)

_BUILTINS = set(dir(__builtins__)) if not isinstance(__builtins__, dict) else set(__builtins__)


def _readable(src, want):
    """An example is judged only if its call names nothing undefined and its
    expected value is Python (or a bare word); docstrings hold prose too."""
    try:
        names = {n.id for n in _ast.walk(_ast.parse(src, mode="eval")) if isinstance(n, _ast.Name)}
        _ast.parse(want, mode="eval")
    except SyntaxError:
        return False
    return all(n in _ns or n in _BUILTINS for n in names)


_failures = []
_skipped = 0
_judged = []
for _src, _want in _EXAMPLES:
    if _want.strip() in ("true", "false"):
        _want = _want.strip().capitalize()
    if not _readable(_src, _want):
        _skipped += 1
        continue
    _judged.append((_src, _want))
for _src, _want in _judged:
    try:
        _got = eval(_src, _ns)
    except Exception as _e:
        _failures.append("%s raised %s: %s" % (_src, type(_e).__name__, _e))
        continue
    try:
        _ok = _got == eval(_want, dict(_ns))
    except Exception:
        _ok = repr(_got) == _want.strip() or str(_got) == _want.strip()
    if not _ok:
        _failures.append("%s returned %r, expected %s" % (_src, _got, _want))
for _stmt in _ASSERTS:
    try:
        exec(compile(_stmt, "test.py", "exec"), _ns)
    except AssertionError as _e:
        _detail = ""
        try:
            _node = _ast.parse(_stmt).body[0]
            if isinstance(_node, _ast.Assert) and isinstance(_node.test, _ast.Compare):
                _detail = " (left side was %r)" % (eval(compile(_ast.Expression(_node.test.left), "test.py", "eval"), _ns),)
        except Exception:
            pass
        _failures.append("%s failed%s%s" % (_stmt.strip(), _detail, (": %s" % _e) if str(_e) else ""))
    except Exception as _e:
        _failures.append("%s raised %s: %s" % (_stmt.strip(), type(_e).__name__, _e))
_total = len(_judged) + len(_ASSERTS)
print("%d/%d internal tests passed" % (_total - len(_failures), _total))
if _skipped:
    print("(%d docstring example(s) could not be read as Python and were skipped)" % _skipped)
for _f in _failures:
    print("FAILED:", _f)
_sys.exit(1 if _failures else 0)
