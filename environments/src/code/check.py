# mneme's check program: runs inside the sandbox, one job per check.
#
# Trust. The candidate (model-written code) never runs in this process. It is loaded in a child
# process of its own; the tests run here against a proxy that sends the arguments of each call to
# the child and receives the return value back as plain data (None, bools, ints, floats, complex
# numbers, strings, bytes, and lists, tuples, dicts, sets and frozensets of them). So a candidate
# cannot exit the checker, patch the builtins or helpers the tests use, read the tests, or return
# an object whose __eq__ lies.
#
# Input, on stdin, as three frames (a decimal length, a newline, that many bytes of JSON):
#   1. {"prompt", "candidate", "entry"}   read before the candidate's process is forked;
#   2. {"mode", "hidden", "examples", "asserts"}   read after it, so the candidate never holds it;
#   3. {"token"}   read after every test has run.
# Output: "\n<token> <report>\n" (the report is JSON), printed only by this process and only once
# every test has run to its end. The scorer counts nothing without that line.
import ast as _ast
import builtins as _builtins
import json as _json
import os as _os
import signal as _signal
import struct as _struct
import sys as _sys

_STDIN = 0
_MAX_DEPTH = 200


def _read_exact(fd, n):
    chunks = []
    while n > 0:
        chunk = _os.read(fd, n)
        if not chunk:
            raise EOFError("input ended early")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _read_frame():
    """One frame of stdin, read without read-ahead: nothing of a later frame enters memory."""
    header = b""
    while not header.endswith(b"\n"):
        byte = _os.read(_STDIN, 1)
        if not byte or len(header) > 20:
            raise EOFError("no frame header on stdin")
        header += byte
    return _json.loads(_read_exact(_STDIN, int(header)))


# ---- plain data, the only thing that crosses between the processes ----

class _NotPlain(Exception):
    pass


_TAGS = {"l": list, "t": tuple, "s": set, "fs": frozenset}


def _enc(value, depth=0):
    if depth > _MAX_DEPTH:
        raise _NotPlain("nested more than %d levels deep" % _MAX_DEPTH)
    kind = type(value)
    if value is None or kind in (bool, int, float, str):
        return value
    if kind is complex:
        return {"c": [value.real, value.imag]}
    if kind is bytes:
        return {"b": value.hex()}
    for tag, container in _TAGS.items():
        if kind is container:
            return {tag: [_enc(v, depth + 1) for v in value]}
    if kind is dict:
        return {"d": [[_enc(k, depth + 1), _enc(v, depth + 1)] for k, v in value.items()]}
    raise _NotPlain("a %s.%s object" % (kind.__module__, kind.__qualname__))


def _dec(data, depth=0):
    if depth > _MAX_DEPTH:
        raise _NotPlain("nested too deep")
    if data is None or type(data) in (bool, int, float, str):
        return data
    if type(data) is not dict or len(data) != 1:
        raise _NotPlain("malformed value")
    ((tag, body),) = data.items()
    if tag in _TAGS and type(body) is list:
        return _TAGS[tag](_dec(v, depth + 1) for v in body)
    if tag == "d" and type(body) is list:
        return {_dec(k, depth + 1): _dec(v, depth + 1) for k, v in body}
    if tag == "c" and type(body) is list and len(body) == 2:
        return complex(float(body[0]), float(body[1]))
    if tag == "b" and type(body) is str:
        return bytes.fromhex(body)
    raise _NotPlain("malformed value")


def _send(fd, message):
    data = _json.dumps(message).encode()
    _os.write(fd, _struct.pack(">Q", len(data)))
    view = memoryview(data)
    while view:
        view = view[_os.write(fd, view):]


def _recv(fd):
    """The next message, or None when the other side has gone."""
    try:
        (size,) = _struct.unpack(">Q", _read_exact(fd, 8))
        if size > 256 << 20:
            raise ValueError("message too large")
        return _json.loads(_read_exact(fd, size))
    except (EOFError, OSError, ValueError):
        return None


# ---- definitions ----

# Only definitions count: imports, functions, classes, assignments. Demo code a model
# appends (prints, its own asserts, __main__ blocks) is dropped unrun.
_KEEP = (_ast.Import, _ast.ImportFrom, _ast.FunctionDef, _ast.AsyncFunctionDef,
         _ast.ClassDef, _ast.Assign, _ast.AnnAssign)


def _definitions(source, name):
    import linecache
    linecache.cache[name] = (len(source), None, source.splitlines(True), name)  # for tracebacks
    tree = _ast.parse(source, name)
    tree.body = [n for n in tree.body if isinstance(n, _KEEP)]
    return tree


def _load_prompt(prompt, ns):
    """The task's own helpers (trusted text). A prompt that is not a whole program only
    provides text."""
    try:
        exec(compile(_definitions(prompt, "prompt.py"), "prompt.py", "exec"), ns)
    except SyntaxError:
        pass


# ---- the candidate's process ----

def _serve(setup, requests, replies):
    """Loads the candidate and answers calls until the checker closes the pipe. Never returns."""
    ns = {"__name__": "solution"}
    try:
        _load_prompt(setup["prompt"], ns)
        tree = _definitions(setup["candidate"], "solution.py")
        entry = setup["entry"]
        if not any(isinstance(n, (_ast.FunctionDef, _ast.AsyncFunctionDef)) and n.name == entry
                   for n in tree.body):
            raise _LoadProblem("the solution does not define %s()" % entry)
        exec(compile(tree, "solution.py", "exec"), ns)
        function = ns[entry]
        if not callable(function):
            raise _LoadProblem("%s is not a function" % entry)
        _send(replies, {"ready": True})
    except BaseException as error:
        _send(replies, {"load_error": _describe(error)})
        _os._exit(0)
    while True:
        request = _recv(requests)
        if request is None:
            _os._exit(0)
        try:
            args = _dec(request["args"])
            kwargs = _dec(request["kwargs"])
            value = function(*args, **kwargs)
            try:
                reply = {"value": _enc(value)}
            except _NotPlain as error:
                reply = {"not_plain": str(error)}
        except BaseException as error:
            reply = {"raised": type(error).__name__, "message": _message(error)}
        _send(replies, reply)


def _message(error):
    try:
        return str(error)[:2000]
    except BaseException:
        return "(no message)"


def _describe(error):
    """An exception as a traceback's last lines read, with the checker's own frames left out."""
    import traceback
    try:
        if isinstance(error, _LoadProblem):
            return str(error)
        summary = traceback.TracebackException.from_exception(error)
        summary.stack = traceback.StackSummary.from_list(
            [f for f in summary.stack if f.filename in ("solution.py", "prompt.py")])
        return "".join(summary.format()).strip()
    except BaseException:
        return "%s: %s" % (type(error).__name__, _message(error))


class _LoadProblem(Exception):
    """The solution loaded but cannot be checked (no entry point)."""


# ---- the checker's side ----

class _Fault(BaseException):
    """The candidate misbehaved in a way no test may excuse (it exited, died, or returned
    something that is not plain data). A BaseException, so a test's `except Exception`
    does not swallow it; a bare `except` would, which is why faults are also recorded."""


class _CandidateError(Exception):
    """An exception of the candidate's own class, raised again here by name."""


_EXITS = ("SystemExit", "KeyboardInterrupt", "GeneratorExit")


class _Candidate:
    def __init__(self, pid, requests, replies, entry):
        self.pid, self.requests, self.replies, self.entry = pid, requests, replies, entry
        self.calls = 0
        self.faults = []       # reasons, for the report
        self.fault_kinds = set()  # how the candidate misbehaved: failed, timeout, memory, killed
        self.ended = None      # why its process is gone, once it is
        self.ended_kind = None

    def _fault(self, reason, kind="failed"):
        self.faults.append(reason)
        self.fault_kinds.add(kind)
        raise _Fault(reason)

    def _call_text(self, args, kwargs):
        parts = [_short(repr(a)) for a in args] + ["%s=%s" % (k, _short(repr(v))) for k, v in kwargs.items()]
        return "%s(%s)" % (self.entry, ", ".join(parts))

    def __call__(self, *args, **kwargs):
        call = self._call_text(args, kwargs)
        if self.ended:
            self._fault("%s was not run: %s" % (call, self.ended), self.ended_kind)
        try:
            request = {"args": _enc(list(args)), "kwargs": _enc(dict(kwargs))}
        except _NotPlain as error:
            self._fault("checker: a test passed %s to %s, which cannot be sent to the solution" % (error, self.entry))
        self.calls += 1
        try:
            _send(self.requests, request)
        except OSError:
            pass  # the reply (none) says what happened
        reply = _recv(self.replies)
        if reply is None:
            status, self.ended_kind = self._end_status()
            self.ended = "the solution's process ended during %s (%s)" % (call, status)
            self._fault(self.ended, self.ended_kind)
        if "value" in reply:
            try:
                return _dec(reply["value"])
            except (_NotPlain, TypeError, ValueError):
                self._fault("%s sent back an unreadable value" % call)
        if "not_plain" in reply:
            self._fault("%s returned %s, not plain data (numbers, strings, bools, None, and "
                        "lists, tuples, dicts and sets of them)" % (call, reply["not_plain"]))
        name, message = str(reply.get("raised")), str(reply.get("message", ""))
        if name in _EXITS:
            self._fault("the solution raised %s during %s" % (name, call))
        if name == "MemoryError":
            self._fault("the solution ran out of memory during %s" % call, "memory")
        error_class = getattr(_builtins, name, None)
        error = None
        if isinstance(error_class, type) and issubclass(error_class, Exception):
            try:
                error = error_class(message)
            except Exception:
                pass
        raise error or _CandidateError("%s: %s" % (name, message))

    def _end_status(self):
        """How the candidate's process ended, in words, and as a fault kind."""
        try:
            pid, status = _os.waitpid(self.pid, 0)
        except ChildProcessError:
            return "already reaped", "failed"
        if _os.WIFSIGNALED(status):
            number = _os.WTERMSIG(status)
            name = _signal.Signals(number).name if number in _signal.valid_signals() else "?"
            kind = "timeout" if number == _signal.SIGXCPU else "killed"
            return "killed by signal %d, %s" % (number, name), kind
        return "exit status %d" % _os.WEXITSTATUS(status), "failed"

    def stop(self):
        try:
            _os.kill(self.pid, _signal.SIGKILL)
        except OSError:
            pass
        try:
            _os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


def _short(text, limit=120):
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _start(setup):
    requests_r, requests_w = _os.pipe()
    replies_r, replies_w = _os.pipe()
    pid = _os.fork()
    if pid == 0:
        try:
            _os.close(requests_w)
            _os.close(replies_r)
            null = _os.open(_os.devnull, _os.O_RDONLY)
            _os.dup2(null, _STDIN)  # later frames stay out of the candidate's reach
            _os.close(null)
            _serve(setup, requests_r, replies_w)
        finally:
            _os._exit(0)
    _os.close(requests_r)
    _os.close(replies_w)
    candidate = _Candidate(pid, requests_w, replies_r, setup["entry"])
    ready = _recv(replies_r)
    return candidate, ready


def _check_hidden(candidate, tests, ns):
    exec(compile(tests["hidden"], "hidden_test.py", "exec"), ns)
    try:
        ns["check"](candidate)
    except _Fault:
        pass  # recorded by the proxy
    except AssertionError as error:
        return ["a hidden test failed%s%s" % (_test_line(error, tests["hidden"]), ": %s" % error if str(error) else "")], 1, 0
    except Exception as error:
        return ["a hidden test raised %s: %s" % (type(error).__name__, _message(error))], 1, 0
    return [], 1, 0


def _test_line(error, source):
    """Where in the hidden tests an assertion failed (for the run's records; never shown to the agent)."""
    import traceback
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == "hidden_test.py"]
    if not frames or not frames[-1].lineno:
        return ""
    lines = source.splitlines()
    line = lines[frames[-1].lineno - 1].strip() if frames[-1].lineno <= len(lines) else ""
    return " at line %d: %s" % (frames[-1].lineno, _short(line))


_BUILTIN_NAMES = set(dir(_builtins))


def _readable(src, want, ns):
    """An example is judged only if its call names nothing undefined and its
    expected value is Python (or a bare word); docstrings hold prose too."""
    try:
        names = {n.id for n in _ast.walk(_ast.parse(src, mode="eval")) if isinstance(n, _ast.Name)}
        _ast.parse(want, mode="eval")
    except SyntaxError:
        return False
    return all(n in ns or n in _BUILTIN_NAMES for n in names)


def _check_example(src, want, ns):
    try:
        got = eval(src, ns)
    except _Fault:
        return None
    except Exception as error:
        return "%s raised %s: %s" % (src, type(error).__name__, error)
    try:
        ok = got == eval(want, dict(ns))
    except Exception:
        ok = repr(got) == want.strip() or str(got) == want.strip()
    return None if ok else "%s returned %r, expected %s" % (src, got, want)


def _check_assert(stmt, ns):
    try:
        exec(compile(stmt, "test.py", "exec"), ns)
    except _Fault:
        return None
    except AssertionError as error:
        detail = ""
        try:
            node = _ast.parse(stmt).body[0]
            if isinstance(node, _ast.Assert) and isinstance(node.test, _ast.Compare):
                left = eval(compile(_ast.Expression(node.test.left), "test.py", "eval"), ns)
                detail = " (left side was %r)" % (left,)
        except BaseException:
            pass
        return "%s failed%s%s" % (stmt.strip(), detail, (": %s" % error) if str(error) else "")
    except Exception as error:
        return "%s raised %s: %s" % (stmt.strip(), type(error).__name__, error)
    return None


def _check_internal(tests, ns):
    judged, skipped = [], 0
    for src, want in tests["examples"]:
        if want.strip() in ("true", "false"):
            want = want.strip().capitalize()
        if _readable(src, want, ns):
            judged.append((src, want))
        else:
            skipped += 1
    failures = [f for f in (_check_example(s, w, ns) for s, w in judged) if f]
    failures += [f for f in (_check_assert(a, ns) for a in tests["asserts"]) if f]
    return failures, len(judged) + len(tests["asserts"]), skipped


def _verdict(candidate, failures):
    """The report's verdict: a fault of the candidate's process names how it ended."""
    for kind in ("timeout", "memory", "killed", "failed"):
        if kind in candidate.fault_kinds:
            return kind
    return "failed" if failures else "passed"


def main():
    setup = _read_frame()
    candidate, ready = _start(setup)
    tests = _read_frame()
    report = {"mode": tests["mode"], "loaded": False, "tests": 0, "passed": 0, "skipped": 0,
              "calls": 0, "failures": []}
    if not ready or "ready" not in ready:
        reason = "the solution failed to load: " + (
            (ready or {}).get("load_error") or "its process ended while loading")
        report.update(verdict="failed", reason=reason, failures=[reason])
    else:
        ns = {"__name__": "tests"}
        _load_prompt(setup["prompt"], ns)
        ns[setup["entry"]] = candidate
        if tests["mode"] == "hidden":
            failures, total, skipped = _check_hidden(candidate, tests, ns)
        else:
            failures, total, skipped = _check_internal(tests, ns)
        failures = failures + candidate.faults
        report.update(loaded=True, tests=total, passed=max(0, total - len(failures)),
                      skipped=skipped, failures=failures, verdict=_verdict(candidate, failures),
                      reason=failures[0] if failures else None)
    report["calls"] = candidate.calls
    candidate.stop()
    token = _read_frame()["token"]  # read only now: nothing that ran before could know it
    _sys.stdout.write("\n%s %s\n" % (token, _json.dumps(report)))
    _sys.stdout.flush()
    _os._exit(0)


main()
