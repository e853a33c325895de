# peerlib.py — shared helpers for the bench/peers/*/start scripts (python3 standard library only):
# argument parsing, template rendering, spawning a server detached into its own session with its
# output in DIR, waiting for it to answer, an SSE subscribe+publish round-trip probe, process-tree
# discovery via /proc, clean failure (kill only what we started, by PID) and the one JSON line.
# See bench/peers/README.md for the contract every start script follows.
import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

STARTUP_TIMEOUT_S = 20.0

_started = []  # PIDs this start script launched; killed (with their trees) on failure


def parse_args(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--dir", required=True, help="empty writable temp dir for config, logs, pids, sockets")
    p.add_argument("--port", required=True, type=int, help="base TCP port; PORT..PORT+9 may be used")
    a = p.parse_args()
    a.dir = os.path.abspath(a.dir)
    if not os.path.isdir(a.dir) or not os.access(a.dir, os.W_OK):
        fail(f"--dir {a.dir} is not a writable directory")
    if not 1024 <= a.port <= 65535 - 9:
        fail(f"--port {a.port} out of range (1024..65526)")
    return a


def fail(msg, logs=()):
    """Prints a clear message (and the tail of the given logs) to stderr, stops what we started, exits 1."""
    print(f"start: error: {msg}", file=sys.stderr)
    for path in logs:
        try:
            with open(path, "rb") as f:
                tail = f.read()[-3000:].decode("utf-8", "replace")
            print(f"--- tail of {path} ---\n{tail}", file=sys.stderr)
        except OSError:
            pass
    for pid in reversed(_started):
        for p in [pid] + process_tree(pid)[1:]:
            _signal(p, signal.SIGKILL)
    sys.exit(1)


def _signal(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def render(template, out, values):
    """Copies template to out, replacing every @KEY@ by values[KEY]; any @KEY@ left over is an error."""
    with open(template) as f:
        text = f.read()
    for k, v in values.items():
        text = text.replace(f"@{k}@", str(v))
    left = sorted(set(re.findall(r"@[A-Z_]+@", text)))
    if left:
        fail(f"{template}: unrendered placeholders {left}")
    with open(out, "w") as f:
        f.write(text)


def check_port_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # SO_REUSEADDR like the servers themselves: TIME_WAIT leftovers of a previous run are fine,
    # a listener is not.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        s.listen(1)
    except OSError as e:
        fail(f"127.0.0.1:{port} is not free ({e.strerror})")
    finally:
        s.close()


def spawn(argv, log_path, cwd):
    """Starts argv in its own session (so the driver's terminal signals do not reach it), stdin from
    /dev/null and stdout+stderr appended to log_path, so it never holds the caller's stdout open.
    The CPU affinity (taskset) of the caller is inherited untouched."""
    log = open(log_path, "ab")
    try:
        p = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True, close_fds=True)
    except (OSError, subprocess.SubprocessError) as e:
        fail(f"cannot run {argv[0]}: {e}")
    finally:
        log.close()
    _started.append(p.pid)
    return p


def alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def children(pid):
    kids = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return sorted(set(kids))


def process_tree(pid):
    """pid and all its descendants, parents before children."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop(0)
        if p in out:
            continue
        out.append(p)
        todo += children(p)
    return out


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def deadline():
    return time.monotonic() + STARTUP_TIMEOUT_S


def wait_for(what, pred, until, procs=(), logs=()):
    """Polls pred() until it is truthy (returns its value); fails on timeout or if a process died."""
    while True:
        v = pred()
        if v:
            return v
        for p in procs:
            if p.poll() is not None:
                fail(f"while waiting for {what}: {p.args[0]} exited with status {p.returncode}", logs)
        if time.monotonic() > until:
            fail(f"timed out after {STARTUP_TIMEOUT_S:.0f} s waiting for {what}", logs)
        time.sleep(0.05)


def http(method, port, path, body=b"", headers=None, timeout=2.0):
    """One HTTP/1.1 request to 127.0.0.1:port, Connection: close; returns (status, headers, body) or None."""
    h = {"Host": f"127.0.0.1:{port}", "Connection": "close", "Content-Length": str(len(body))}
    h.update(headers or {})
    req = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(req.encode() + body)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return None
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.[01] (\d{3})", lines[0]) if lines else None
    if not m:
        return None
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return int(m.group(1)), hdrs, rest


class SseProbe:
    """An open SSE subscription used to check a publish round-trip during startup."""

    def __init__(self, port, path, last_event_id=None, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        extra = f"Last-Event-ID: {last_event_id}\r\n" if last_event_id else ""
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n"
                          f"{extra}\r\n".encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self._recv()
        head = self.buf.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        if not head.startswith("HTTP/1.1 200") or "text/event-stream" not in head.lower():
            raise OSError(f"subscribe answered: {head.splitlines()[0]!r}")

    def _recv(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise OSError("subscription closed")
        self.buf += chunk

    def wait_for(self, needle, timeout=5.0):
        """Reads until needle (bytes) has arrived; returns everything read so far."""
        end = time.monotonic() + timeout
        while needle not in self.buf:
            self.sock.settimeout(max(0.01, end - time.monotonic()))
            try:
                self._recv()
            except socket.timeout:
                raise OSError(f"no {needle!r} on the stream within {timeout} s") from None
        return self.buf

    def close(self):
        self.sock.close()


def port_answers(port):
    """True once something accepts TCP connections on 127.0.0.1:port."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def version_of(argv, pattern=r"(\S+)$"):
    """The first match of pattern in argv's output (stdout+stderr), or ''."""
    try:
        out = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             timeout=10).stdout.decode("utf-8", "replace")
    except (OSError, subprocess.TimeoutExpired):
        return ""
    m = re.search(pattern, out.strip(), re.M)
    return m.group(1) if m else ""


def dpkg_version(package):
    return version_of(["dpkg-query", "-W", "-f=${Version}", package], r"^(\S+)$")


def emit(record):
    """The one JSON line on stdout."""
    sys.stdout.write(json.dumps(record, separators=(", ", ": ")) + "\n")
    sys.stdout.flush()
