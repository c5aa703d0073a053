# mneme's sandbox fork server. Runs inside bubblewrap as an unprivileged user.
#
# Protocol: one JSON request per line on stdin, one JSON reply per line on stdout.
# Request:  {"code": str, "filename": str, "timeout_s": float, "cpu_s": int,
#            "memory_mb": int, "max_output": int, "file_size_mb": int, "stdin": str|null,
#            "trusted": bool}   trusted: the host's own program (never model-written), compiled
#                               once by this server and reused; other code is compiled in the job
# Reply:    {"exit_code": int|null, "signal": int|null, "timed_out": bool,
#            "stdout_truncated": bool, "stderr_truncated": bool,
#            "stdout": str, "stderr": str, "duration_ms": float}
#
# Each job runs in a freshly forked child (a clean copy of this warm interpreter)
# in a fresh directory under the scratch root (/tmp inside the sandbox), with its own session, CPU, address-space,
# file-size and core-dump limits. When the job ends, every other process in the
# sandbox's PID namespace is killed and reaped, so nothing a job started, detached
# or not, outlives it; the scratch root is emptied between jobs.
import ctypes, json, os, select, shutil, signal, sys, time, traceback, resource

# Warm the modules solutions commonly import, so a job pays only for fork().
import math, re, collections, itertools, functools, heapq, bisect, string, typing  # noqa: F401
import random, statistics, fractions, decimal, hashlib, operator, copy, ast  # noqa: F401

_libc = ctypes.CDLL(None, use_errno=True)
_libc.prctl(4, 0, 0, 0, 0)   # PR_SET_DUMPABLE = 0: jobs cannot open our /proc/<pid>/fd
_libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: orphans of a job come to us

_proto_in = os.fdopen(os.dup(0), "rb")
_proto_out = os.fdopen(os.dup(1), "wb")
_devnull = os.open("/dev/null", os.O_RDWR)
os.dup2(_devnull, 0)
os.dup2(_devnull, 1)
os.dup2(_devnull, 2)
_MAXFD = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
_SELF = os.getpid()
# argv: SCRATCH_ROOT OWN_PID_NAMESPACE(0|1). The sweep of /proc is only safe, and only
# done, when this server is alone in a PID namespace of its own (bubblewrap mode).
_SCRATCH = sys.argv[1] if len(sys.argv) > 1 else "/tmp"
_OWN_PIDNS = len(sys.argv) > 2 and sys.argv[2] == "1" and _SELF <= 3


def _stdin_fd(text):
    """The job's stdin: an anonymous in-memory file (no path anyone else could open), or /dev/null."""
    if text is None:
        return None
    fd = os.memfd_create("stdin")
    view = memoryview(text.encode("utf-8"))
    while view:
        view = view[os.write(fd, view):]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


_COMPILED = {}  # (filename, source) of trusted programs -> code object


def _trusted_code(req):
    """The compiled code of a trusted program, compiled here once (never model-written code:
    that is compiled inside its job, under the job's limits)."""
    if not req.get("trusted"):
        return None
    key = (req.get("filename", "main.py"), req["code"])
    if key not in _COMPILED:
        if len(_COMPILED) >= 8:
            _COMPILED.clear()
        _COMPILED[key] = compile(req["code"], key[0], "exec")
    return _COMPILED[key]


def _child(req, workdir, out_w, err_w, in_fd, code=None):
    status = 1
    try:
        os.setsid()
        os.chdir(workdir)
        os.dup2(_devnull if in_fd is None else in_fd, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        os.closerange(3, _MAXFD)
        cpu = max(1, int(req["cpu_s"]))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        mem = int(req["memory_mb"]) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        fsize = int(req["file_size_mb"]) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        sys.stdin = open(0, "r", closefd=False)
        sys.stdout = open(1, "w", closefd=False)
        sys.stderr = open(2, "w", closefd=False)
        sys.argv = [req.get("filename", "main.py")]
        if code is None:
            code = compile(req["code"], req.get("filename", "main.py"), "exec")
        exec(code, {"__name__": "__main__", "__builtins__": __builtins__})
        status = 0
    except SystemExit as e:
        if e.code is None:
            status = 0
        elif isinstance(e.code, int):
            status = e.code & 0xFF
        else:
            try:
                print(e.code, file=sys.stderr)
            except BaseException:
                pass
            status = 1
    except BaseException:
        try:
            traceback.print_exc()
        except BaseException:
            pass
        status = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    os._exit(status)


def _kill_everything_else(job_pid):
    """SIGKILL every process in our PID namespace except ourselves and the namespace's init.

    Without a namespace of our own only the job's session is killed."""
    if not _OWN_PIDNS:
        if job_pid is not None:
            try:
                os.killpg(job_pid, signal.SIGKILL)
            except OSError:
                pass
        _reap()
        return
    # kill(-1) signals every process of the namespace this server may signal (the job's all
    # run as its uid) but itself and init, in one call; a process with SIGKILL pending cannot
    # fork, so repeating until /proc lists nobody else ends even a fork bomb.
    give_up = time.monotonic() + 5.0
    _reap()
    while _others() and time.monotonic() < give_up:
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        time.sleep(0.001)
        _reap()


def _others():
    """Whether any process but init and this server is left in the PID namespace."""
    return any(n.isdigit() and int(n) not in (1, _SELF) for n in os.listdir("/proc"))


def _reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _clear_scratch():
    for name in os.listdir(_SCRATCH):
        path = os.path.join(_SCRATCH, name)
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
        except OSError:
            pass


def _run(req, seq):
    code = _trusted_code(req)  # first: a program that does not compile leaves nothing open
    workdir = os.path.join(_SCRATCH, "job-%d" % seq)
    os.mkdir(workdir, 0o700)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    started = time.monotonic()
    deadline = started + float(req["timeout_s"])
    cap = int(req["max_output"])
    in_fd = _stdin_fd(req.get("stdin"))
    pid = os.fork()
    if pid == 0:
        _child(req, workdir, out_w, err_w, in_fd, code)
    os.close(out_w)
    os.close(err_w)
    if in_fd is not None:
        os.close(in_fd)
    bufs = {out_r: bytearray(), err_r: bytearray()}
    truncated = {out_r: False, err_r: False}
    open_fds = [out_r, err_r]
    status = None
    timed_out = False
    exited_at = None
    while True:
        if status is None:
            try:
                wpid, wstatus = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                wpid, wstatus = pid, 0
            if wpid == pid:
                status = wstatus
                exited_at = time.monotonic()
        now = time.monotonic()
        if status is not None and (not open_fds or now - exited_at > 0.05):
            break  # done; a detached process may hold the pipes, it is killed below
        if status is None and now >= deadline:
            timed_out = True
            break
        if any(truncated.values()):
            break
        if open_fds:
            ready, _, _ = select.select(open_fds, [], [], 0.01)
            for fd in ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    open_fds.remove(fd)
                    continue
                room = cap - len(bufs[fd])
                if len(chunk) > room:
                    bufs[fd] += chunk[:max(room, 0)]
                    truncated[fd] = True
                else:
                    bufs[fd] += chunk
        else:
            time.sleep(0.001)
    duration_ms = (time.monotonic() - started) * 1000.0
    if status is None:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            status = None
    _kill_everything_else(pid)
    for fd in (out_r, err_r):
        os.close(fd)
    _clear_scratch()
    exit_code = sig = None
    if status is not None:
        if os.WIFEXITED(status):
            exit_code = os.WEXITSTATUS(status)
        elif os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
    return {
        "exit_code": exit_code,
        "signal": sig,
        "timed_out": timed_out,
        "stdout_truncated": truncated[out_r],
        "stderr_truncated": truncated[err_r],
        "stdout": bufs[out_r].decode("utf-8", "replace"),
        "stderr": bufs[err_r].decode("utf-8", "replace"),
        "duration_ms": duration_ms,
    }


def main():
    _proto_out.write(b'{"ready": true}\n')
    _proto_out.flush()
    seq = 0
    while True:
        line = _proto_in.readline()
        if not line:
            return
        seq += 1
        try:
            reply = _run(json.loads(line), seq)
        except BaseException as e:  # report, never die silently
            reply = {"error": "%s: %s" % (type(e).__name__, e)}
            _kill_everything_else(None)
        _proto_out.write(json.dumps(reply).encode() + b"\n")
        _proto_out.flush()


main()
