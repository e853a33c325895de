#!/usr/bin/env python3
"""compare_quick_test.py — runs `bench/compare --quick` against ringcast-node, nginx+nchan and
Pushpin (installed by compare if missing) so the benchmark tools cannot rot, and checks what
the run must show whatever the machine's speed: every scenario produced a result for every
server, every subscriber connected, the lowest publish rates lost nothing, the replay storm
caught every subscriber up with no gap and no duplicate, and publishes were accepted. It never
checks a timing.

usage: compare_quick_test.py REPO_ROOT BUILD_DIR
"""
import json
import os
import subprocess
import sys
import tempfile

SERVERS = ["ringcast", "nchan", "pushpin"]


def main():
    root, build_dir = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory(prefix="compare-quick-") as tmp:
        raw = os.path.join(tmp, "raw.jsonl")
        report = os.path.join(tmp, "report.md")
        run = subprocess.run([os.path.join(root, "bench", "compare"), "--quick",
                              "--build-dir", build_dir, "--raw", raw, "--out", report],
                             timeout=600)
        assert run.returncode == 0, f"bench/compare --quick exited {run.returncode}"
        rows = [json.loads(line) for line in open(raw)]
        text = open(report).read()
    failures = []

    def expect(condition, what):
        if not condition:
            failures.append(what)

    def results(scenario, server):
        return [r for r in rows if r["scenario"] == scenario and r["server"] == server]

    for server in SERVERS:
        for r in results("idle", server):
            expect(r["open"] == r["key"]["connections"] and r["failed"] == 0,
                   f"idle {server}: {r['open']} of {r['key']['connections']} open")
        expect(results("idle", server), f"idle {server}: no result")
        for scenario in ("hot", "many"):
            ladder = results(scenario, server)
            expect(ladder, f"{scenario} {server}: no result")
            if ladder:
                first = ladder[0]
                expect(first["open"] == first["subscribers"] and first["lost"] == 0 and
                       first["gaps"] == 0 and first["duplicates"] == 0 and
                       first["accepted"] == first["published"],
                       f"{scenario} {server} at the lowest rate lost events: {first}")
        storm = results("storm", server)
        expect(storm, f"storm {server}: no result")
        for r in storm:
            expect(r["started"] == r["subscribers"] and r["caught_up"] == r["subscribers"] and
                   r["gaps"] == 0 and r["duplicates"] == 0,
                   f"storm {server}: not every subscriber caught up exactly: {r}")
        # ringcast is published to two ways: "ringcast (PublishStream)", "ringcast (PublishBatch)".
        ingest = [r for r in rows if r["scenario"] == "ingest" and
                  r["server"].split(" ")[0] == server]
        expect(ingest and all(r["accepted_per_s"] > 0 and r["rejected"] == 0 for r in ingest),
               f"ingest {server}: {ingest}")
    for workers in ("ringcast-1w", "ringcast-2w"):
        expect(results("scaling", workers), f"scaling {workers}: no result")
    for heading in ("Idle subscribers", "Hot topic", "Many topics", "Replay storm", "Ingestion",
                    "Scaling"):
        expect(heading in text, f"report lacks {heading!r}")
    if failures:
        print("\n".join(failures))
        print(text)
        sys.exit(1)
    print(text)


if __name__ == "__main__":
    main()
