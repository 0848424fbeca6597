#!/usr/bin/env python3
"""The original package's way of publishing: Python stdlib urllib, one new connection per message,
one message after the other. Standard library only.

    python3 bench/apps/urllib_publish.py <publisher url> <server: nchan|push-stream> <count> <max seconds> <channels>

Publishes `count` messages (or stops after `max seconds`) round-robin to `channels` channels named
like the Node variants, and prints one JSON line: {"done": n, "failures": n, "seconds": s, "error": ...}.
"""
import json
import sys
import time
import urllib.request

url, server, count, max_seconds, channels = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
data = {"message": ["Foobar"]}


def channel(i):
    return "bench__c__%d" % (i % channels)


def body(i):
    if server == "nchan":
        return json.dumps({"channel": channel(i), "text": data, "eventid": "", "type": ""}).encode("utf-8")
    return json.dumps(data).encode("utf-8")


headers = {"Content-Type": "application/json", "Accept": "application/json"}
done = failures = 0
error = None
start = time.perf_counter()
deadline = start + max_seconds
for i in range(count):
    if time.perf_counter() > deadline:
        break
    req = urllib.request.Request("%s?id=%s" % (url, channel(i)), data=body(i), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as res:
            res.read()
            if res.status in (200, 201, 202):
                done += 1
            else:
                failures += 1
    except Exception as exc:  # noqa: BLE001 - counted and reported
        failures += 1
        error = error or repr(exc)
seconds = time.perf_counter() - start
print(json.dumps({"done": done, "failures": failures, "seconds": seconds, "error": error}))
