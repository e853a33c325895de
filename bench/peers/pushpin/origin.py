#!/usr/bin/env python3
# origin.py — the GRIP origin (backend) behind Pushpin for the ringcast benchmarks, python3
# standard library only. Pushpin keeps no history, so this process does:
#   GET  /sub/<topic>   -> tells Pushpin to hold the request as an SSE stream on channel <topic>
#                          (Grip-Hold: stream, Grip-Channel, Grip-Keep-Alive every 15 s). With
#                          Last-Event-ID: <n> (or Pushpin's Grip-Last on a next-link request) the
#                          body first replays the topic's stored events with id > n, and the hold
#                          uses Pushpin's reliable mode (prev-id + next link) so no event published
#                          during the hand-over is lost.
#   POST /pub/<topic>   -> body = the event data (one line; the benchmark sends
#                          {"topic":..,"seq":N,"sent_us":..,"pad":..}). id = that "seq" (else a
#                          per-topic counter); stored in the topic's history (last --history
#                          events) and forwarded to Pushpin's HTTP publish endpoint over a
#                          keep-alive connection; answers 200 after Pushpin accepted it.
#   DELETE /pub/<topic> -> forgets the topic's history (the start script's readiness probe).
#   GET  /healthz       -> 200.
#   GET  /stats         -> JSON counters: subscribes, resumes, next_link (hand-over recoveries
#                          Pushpin asked for), replayed events, publishes, forward errors, topics.
# Started by bench/peers/pushpin/start; its PID is one of the peer's "pids". With --watch-pid (the
# pushpin runner's PID) it also exits within 0.5 s once the runner is gone, so stopping the runner
# alone leaves no orphan.
import argparse
import base64
import collections
import http.client
import http.server
import json
import os
import re
import sys
import threading
import time
import urllib.parse

SEQ_RE = re.compile(rb'"seq"\s*:\s*(\d+)')
LINE_RE = re.compile(rb"\r\n|\r|\n")


class Topic:
    __slots__ = ("lock", "events", "last_id")

    def __init__(self, history):
        self.lock = threading.Lock()  # orders store + forward per topic (prev-id chain)
        self.events = collections.deque(maxlen=history)  # (id, SSE bytes "id: ..\ndata: ..\n\n")
        self.last_id = None


class Origin:
    def __init__(self, history, publish_host, publish_port, keepalive_s, next_link):
        self.history = history
        self.topics = {}
        self.topics_lock = threading.Lock()
        self.publish_host, self.publish_port = publish_host, publish_port
        self.local = threading.local()  # one keep-alive connection to Pushpin per handler thread
        self.keepalive_s = keepalive_s
        self.next_link = next_link
        self.counters = dict.fromkeys(
            ("subscribes", "resumes", "next_link", "replayed_events", "publishes", "forward_errors"), 0)
        self.counters_lock = threading.Lock()

    def count(self, key, n=1):
        with self.counters_lock:
            self.counters[key] += n

    def stats(self):
        with self.counters_lock:
            out = dict(self.counters)
        out["topics"] = len(self.topics)
        return out

    def topic(self, name, create=True):
        t = self.topics.get(name)
        if t is None and create:
            with self.topics_lock:
                t = self.topics.setdefault(name, Topic(self.history))
        return t

    def forward(self, item):
        """POSTs one item to Pushpin's /publish/; retries once on a fresh connection."""
        body = json.dumps({"items": [item]}, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json"}
        for attempt in (0, 1):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = http.client.HTTPConnection(self.publish_host, self.publish_port, timeout=10)
                self.local.conn = conn
            try:
                conn.request("POST", "/publish/", body, headers)
                r = conn.getresponse()
                answer = r.read()
                if r.status == 200:
                    return None
                return f"pushpin answered {r.status}: {answer[:200]!r}"
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                self.local.conn = None
                if attempt:
                    return f"pushpin publish failed: {e}"
        return "unreachable"

    def publish(self, name, data):
        m = SEQ_RE.search(data)
        t = self.topic(name)
        lines = LINE_RE.split(data)
        with t.lock:
            eid = int(m.group(1)) if m else (t.last_id or 0) + 1
            sse = b"id: %d\n" % eid + b"".join(b"data: " + line + b"\n" for line in lines) + b"\n"
            prev = t.last_id
            t.events.append((eid, sse))
            t.last_id = eid
            item = {"channel": name, "id": str(eid)}
            if prev is not None and self.next_link:
                item["prev-id"] = str(prev)
            try:
                item["formats"] = {"http-stream": {"content": sse.decode("utf-8")}}
            except UnicodeDecodeError:
                item["formats"] = {"http-stream": {"content-bin": base64.b64encode(sse).decode()}}
            return eid, self.forward(item)

    def replay(self, name, after):
        """(bytes of the events with id > after, newest id) — a consistent snapshot."""
        t = self.topic(name, create=False)
        if t is None:
            return b"", None
        with t.lock:
            return b"".join(sse for eid, sse in t.events if eid > after), t.last_id

    def forget(self, name):
        with self.topics_lock:
            self.topics.pop(name, None)


def make_handler(origin):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive with zurl and with publishers
        disable_nagle_algorithm = True

        def log_message(self, fmt, *args):  # no access log (see pushpin.conf.in log_level)
            pass

        def answer(self, code, headers=(), body=b""):
            out = [f"HTTP/1.1 {code} {http.HTTPStatus(code).phrase}\r\n".encode()]
            for k, v in headers:
                out.append(f"{k}: {v}\r\n".encode("latin-1"))
            out.append(b"Content-Length: %d\r\n\r\n" % len(body))
            self.wfile.write(b"".join(out) + body)  # one write: no Nagle/delayed-ACK stall

        def topic_of(self, prefix):
            path = self.path.split("?", 1)[0]
            if not path.startswith(prefix) or len(path) == len(prefix):
                return None
            return urllib.parse.unquote(path[len(prefix):])

        def do_GET(self):
            if self.path == "/healthz":
                return self.answer(200, [("Content-Type", "text/plain")], b"ok\n")
            if self.path == "/stats":
                return self.answer(200, [("Content-Type", "application/json")],
                                   json.dumps(origin.stats()).encode() + b"\n")
            name = self.topic_of("/sub/")
            if name is None:
                return self.answer(404, [("Content-Type", "text/plain")], b"not found\n")
            # Resume point: Pushpin's Grip-Last (a next-link request after a gap) or the client's
            # Last-Event-ID. Ids are integers (the publisher's seq); anything else = live only.
            after = None
            grip_last = self.headers.get("Grip-Last")
            if grip_last:
                m = re.search(r"last-id=([0-9]+)", grip_last)
                after = int(m.group(1)) if m else None
                origin.count("next_link")
            else:
                leid = (self.headers.get("Last-Event-ID") or "").strip()
                after = int(leid) if leid.isdigit() else None
                origin.count("resumes" if after is not None else "subscribes")
            body, last = b"", None
            if after is not None:
                body, last = origin.replay(name, after)
                if body:
                    origin.count("replayed_events", body.count(b"\n\n"))
            headers = [
                ("Content-Type", "text/event-stream"),
                ("Cache-Control", "no-cache"),
                ("Grip-Hold", "stream"),
                # Idle heartbeat, like ringcast's: ": heartbeat" after 15 s without data.
                ("Grip-Keep-Alive", f": heartbeat\\n\\n; format=cstring; timeout={origin.keepalive_s}"),
            ]
            channel = name
            if after is not None and last is not None and origin.next_link:
                # Reliable hand-over: Pushpin checks each published item's prev-id against this;
                # on a mismatch (an event published while this response was in flight) it asks
                # the next link again with Grip-Last and gets what was missed.
                channel += f"; prev-id={last}"
                headers.append(("Grip-Link", f"</sub/{urllib.parse.quote(name, safe='')}>; rel=next"))
            headers.append(("Grip-Channel", channel))
            self.answer(200, headers, body)

        def do_POST(self):
            name = self.topic_of("/pub/")
            n = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(n) if n else b""
            if name is None:
                return self.answer(404, [("Content-Type", "text/plain")], b"not found\n")
            eid, err = origin.publish(name, data)
            origin.count("publishes")
            if err:
                origin.count("forward_errors")
                print(f"origin: {name} id {eid}: {err}", file=sys.stderr, flush=True)
                return self.answer(502, [("Content-Type", "text/plain")], err.encode() + b"\n")
            self.answer(200, [("Content-Type", "application/json")], b'{"id":"%d"}\n' % eid)

        def do_DELETE(self):
            name = self.topic_of("/pub/")
            if name is None:
                return self.answer(404, [("Content-Type", "text/plain")], b"not found\n")
            origin.forget(name)
            self.answer(204)

    return Handler


def watch(pid):
    """Exits the process once pid no longer exists or is a zombie."""
    while True:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    os._exit(0)
        except OSError:
            os._exit(0)
        time.sleep(0.5)


def main():
    p = argparse.ArgumentParser(description="GRIP origin with per-topic history for Pushpin.")
    p.add_argument("--listen", default="127.0.0.1:7998", help="host:port to serve on")
    p.add_argument("--publish", default="127.0.0.1:5561", help="host:port of Pushpin's HTTP publish endpoint")
    p.add_argument("--history", type=int, default=1000,
                   help="events kept per topic (ringcast-node's --buffer_max_events default)")
    p.add_argument("--keepalive", type=int, default=15, help="idle heartbeat seconds (ringcast default)")
    p.add_argument("--no-next-link", dest="next_link", action="store_false",
                   help="resume without prev-id/next link (a publish racing the hand-over can be lost)")
    p.add_argument("--watch-pid", type=int, default=0, help="exit once this process (the pushpin runner) is gone")
    a = p.parse_args()
    host, port = a.listen.rsplit(":", 1)
    phost, pport = a.publish.rsplit(":", 1)
    origin = Origin(a.history, phost, int(pport), a.keepalive, a.next_link)

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 4096  # subscribe storms: Python's default listen backlog is 5

    server = Server((host, int(port)), make_handler(origin))
    if a.watch_pid:
        threading.Thread(target=watch, args=(a.watch_pid,), daemon=True).start()
    print(f"origin: serving on {a.listen}, publishing to {a.publish}", file=sys.stderr, flush=True)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
