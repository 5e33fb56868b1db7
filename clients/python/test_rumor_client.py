#!/usr/bin/env python3
"""Runs the Python client against a real node.

Usage: python3 test_rumor_client.py PATH/TO/rumor

Starts `rumor node --listen 127.0.0.1:0` on a temporary data directory, reads
its address from the "serving on HOST:PORT;" log line, runs the tests, then
stops the node (SIGTERM, SIGKILL after 10 s) and removes the directory. Exits
non-zero when a test fails. Needs python3 and the `capnp` tool only.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rumor_client  # noqa: E402
from rumor_client import Client, Outcome, RumorError, RefusedError  # noqa: E402

RUMOR = None          # path of the rumor binary (argv[1])
NODE = None           # the node process
ADDRESS = None        # "127.0.0.1:PORT"
TMPDIR = None


def note(text):
    print("NOTE: " + text, file=sys.stderr, flush=True)


def start_node():
    global NODE, ADDRESS, TMPDIR
    TMPDIR = tempfile.mkdtemp(prefix="rumor-pyclient-")
    log_path = os.path.join(TMPDIR, "node.log")
    with open(log_path, "wb") as log:
        NODE = subprocess.Popen([RUMOR, "node", "--listen", "127.0.0.1:0",
                                 "--data", os.path.join(TMPDIR, "data")],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open(log_path, "rb") as f:
            m = re.search(rb"serving on (127\.0\.0\.1:\d+);", f.read())
        if m:
            ADDRESS = m.group(1).decode()
            return
        if NODE.poll() is not None:
            break
        time.sleep(0.05)
    with open(log_path, "rb") as f:
        log_text = f.read().decode(errors="replace")
    raise RuntimeError("the node did not report its address within 10 s:\n" + log_text)


def stop_node():
    if NODE is not None and NODE.poll() is None:
        NODE.send_signal(signal.SIGTERM)
        try:
            NODE.wait(timeout=10)
        except subprocess.TimeoutExpired:
            NODE.kill()
            NODE.wait(timeout=10)
    if TMPDIR is not None:
        shutil.rmtree(TMPDIR, ignore_errors=True)


class ClientTest(unittest.TestCase):
    def setUp(self):
        self.c = Client(ADDRESS, timeout=10)

    def tearDown(self):
        self.c.close()

    def assertError(self, code, fn, *args, **kw):
        with self.assertRaises(RumorError) as cm:
            fn(*args, **kw)
        self.assertEqual(cm.exception.code, code, str(cm.exception))
        return cm.exception

    def test_handshake(self):
        self.assertIn("hello", {"hello": self.c.server_hello})
        self.assertEqual(self.c.server_hello["version"], 5)
        self.assertFalse(self.c.server_hello.get("refusal"))

    def test_pn_counter(self):
        self.assertEqual(self.c.incr("pn", 5).value, 5)
        self.assertEqual(self.c.decr("pn", 7).value, -2)
        e = self.c.get("pn")
        self.assertEqual((e.key, e.type, e.value), (b"pn", "pnCounter", -2))

    def test_g_counter(self):
        self.assertEqual(self.c.add("g", 4, type="gCounter").value, 4)
        self.assertEqual(self.c.add("g", 3, type="gCounter").value, 7)
        self.assertEqual(self.c.get("g").value, 7)
        self.assertError("invalidArgument", self.c.add, "g", -1, type="gCounter")

    def test_register(self):
        self.c.set("reg", "one")
        self.c.set("reg", b"two\x00\xff")
        e = self.c.get("reg")
        self.assertEqual((e.type, e.value), ("lwwRegister", b"two\x00\xff"))

    def test_set(self):
        self.assertEqual(self.c.sadd("set", "a", "b", "c"), Outcome(3, 3))
        self.assertEqual(self.c.sadd("set", "c", "d"), Outcome(1, 4))
        self.assertEqual(self.c.srem("set", "b", "zz"), Outcome(1, 3))
        self.assertEqual(self.c.srem("set", "d", return_value=True).value, [b"a", b"c"])
        self.assertEqual(self.c.get("set").value, [b"a", b"c"])

    def test_set_views(self):
        members = ["m%03d" % i for i in range(250)]
        self.c.sadd("big", *members)
        self.assertTrue(self.c.sismember("big", "m007"))
        self.assertFalse(self.c.sismember("big", "m999"))
        self.assertEqual(self.c.scard("big"), 250)
        self.assertEqual(self.c.scard("absent"), 0)
        items, more = self.c.page("big", after="m100", limit=3)
        self.assertEqual((items, more), ([b"m101", b"m102", b"m103"], True))
        self.assertEqual(list(self.c.smembers("big", page_size=64)), [m.encode() for m in members])
        self.c.incr("count")
        self.assertError("typeMismatch", self.c.scard, "count")

    def test_flag(self):
        self.assertIs(self.c.flag("flag", True).value, True)
        self.assertIs(self.c.get("flag").value, True)
        self.c.flag("flag", False)
        e = self.c.get("flag")
        self.assertTrue(e is None or e.value is False, e)

    def test_mv_register(self):
        first = self.c.mvput("mv", "v1")
        self.assertEqual(first.value, [b"v1"])
        self.assertEqual(self.c.get("mv").value, [b"v1"])
        read = self.c.get("mv")
        self.assertIsNotNone(read.context, "an mvRegister value comes with its context")
        self.assertError("invalidArgument", self.c.mvput, "mv", "x", conditional=True)  # no context
        after = self.c.mvput("mv", "v2", context=read.context, conditional=True)
        self.assertEqual(after.value, [b"v2"])
        self.assertEqual(self.c.get("mv").value, [b"v2"])
        # The first read's context is stale now: conflict, with the current siblings.
        err = self.assertError("conflict", self.c.mvput, "mv", "v3",
                               context=read.context, conditional=True)
        self.assertEqual([e.value for e in err.values], [[b"v2"]])
        # An unconditional put with a stale context keeps both as siblings.
        self.assertEqual(self.c.mvput("mv", "v3", context=read.context).value, [b"v2", b"v3"])

    def test_nested_map_and_remove(self):
        self.c.update("map", "counterAdd", "pnCounter", path=["a", "b"], amount=7)
        self.c.update("map", "registerSet", "lwwRegister", path=["x"], value="y")
        e = self.c.get("map")
        self.assertEqual((e.type, e.value), ("orMap", {b"a": {b"b": 7}, b"x": b"y"}))
        self.assertEqual([e.value for e in self.c.get_field("map", ["a", "b"])], [7])
        self.assertEqual(self.c.scard("map"), 2)
        self.assertTrue(self.c.sismember("map", "x"))
        items, more = self.c.page("map", limit=10)
        self.assertEqual([(n, e.value) for n, e in items], [(b"a", {b"b": 7}), (b"x", b"y")])
        self.assertFalse(more)
        self.assertEqual(self.c.delete("map", type="lwwRegister", path=["x"]), Outcome(1, 1))
        self.assertEqual(self.c.get("map").value, {b"a": {b"b": 7}})
        self.c.set("gone", "soon")
        self.c.delete("gone")
        e = self.c.get("gone")
        self.assertTrue(e is None or e.value is None, e)
        # Observed: for ~0.1 s after the delete the node may still list the key (and get
        # returns its empty value); wait for it to go, at most 5 s.
        deadline = time.monotonic() + 5
        while b"gone" in [k for k, _ in self.c.keys()] and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertNotIn(b"gone", [k for k, _ in self.c.keys()])

    def test_text(self):
        self.assertEqual(self.c.splice("txt", 0, 0, "héllo wörld"), Outcome(11, 11))
        self.assertEqual(self.c.splice("txt", 5, 0, ","), Outcome(1, 12))
        e = self.c.get("txt")
        self.assertEqual((e.type, e.value), ("text", "héllo, wörld"))
        # Conditional: with the read's context it applies; the same context again is stale.
        self.assertEqual(self.c.splice("txt", 0, 5, "HI", context=e.context, conditional=True), Outcome(7, 9))
        err = self.assertError("conflict", self.c.splice, "txt", 0, 0, "x", context=e.context, conditional=True)
        self.assertIn("changed", str(err))
        self.assertEqual(self.c.splice("txt", 2, 0, "!", return_value=True).value, "HI!, wörld")
        self.assertError("invalidArgument", self.c.splice, "txt", 99, 0, "x")
        self.c.incr("pn-for-text")
        self.assertError("typeMismatch", self.c.splice, "pn-for-text", 0, 0, "x")

    def test_keys(self):
        self.c.set("k/1", "a")
        self.c.incr("k/2")
        self.c.sadd("k/3", "m")
        self.c.set("other", "b")
        self.assertEqual(self.c.keys("k/"),
                         [(b"k/1", "lwwRegister"), (b"k/2", "pnCounter"), (b"k/3", "orSet")])
        self.assertEqual(len(self.c.keys("k/", limit=2)), 2)

    def test_status_and_members(self):
        s = self.c.status()
        self.assertEqual(s["readiness"], "ready")
        self.assertEqual(s["address"], ADDRESS)
        self.assertIsInstance(s["keys"], int)
        members = self.c.members()
        self.assertEqual([(m["id"], m["address"], m["status"]) for m in members],
                         [(s["node"], ADDRESS, "alive")])

    def test_errors(self):
        self.c.incr("counter")
        err = self.assertError("typeMismatch", self.c.sadd, "counter", "x")
        self.assertTrue(err.message)
        self.assertIsNone(self.c.get("missing"))
        self.assertEqual(self.c.get_all("missing"), [])
        self.assertError("invalidArgument", self.c.set, "", "empty key")
        # An op whose type is not the one it implies; an unknown type (decodeError).
        self.assertError("invalidArgument", self.c.update, "x", "setAdd", "pnCounter",
                         members=["m"])
        self.assertError("decodeError", self.c.update, "x", "setAdd", "unknown", members=["m"])
        # The connection goes on after errors.
        self.assertEqual(self.c.get("counter").value, 1)

    def test_cas_lane_disabled(self):
        # This node runs without --cas-voters: the lane answers `unavailable`.
        self.assertError("unavailable", self.c.cas, "lane", None, "v")
        self.assertError("unavailable", self.c.lget, "lane")

    def test_pipelined_requests(self):
        ids = [self.c._send({"update": {"key": list(b"pipe"), "op": "counterAdd",
                                        "type": "pnCounter", "amount": "1"}})
               for _ in range(5)]
        for rid in reversed(ids):           # waited for out of order
            self.c._wait(rid)
        self.assertEqual(self.c.get("pipe").value, 5)

    def test_watch(self):
        wid = self.c.watch("w/")
        with Client(ADDRESS) as other:
            other.set("w/a", "1")
            other.set("not-watched", "x")
            other.incr("w/b", 2)
            other.delete("w/a")
        seen = [self.c.next_event(timeout=10) for _ in range(3)]
        self.assertEqual([(e.watch_id, e.key, e.value) for e in seen],
                         [(wid, b"w/a", b"1"), (wid, b"w/b", 2), (wid, b"w/a", None)])
        self.assertTrue(all(e.origin == self.c.status()["node"] for e in seen))
        self.c.unwatch(wid)
        self.c.set("w/c", "after")
        with self.assertRaises(socket.timeout):
            self.c.next_event(timeout=0.5)

    def test_watch_set_changes(self):
        wid = self.c.watch("ws/", set_changes=True)
        big = [b"m%04d" % i for i in range(1001)]
        with Client(ADDRESS) as other:
            other.sadd("ws/small", b"a", b"b")
            other.sadd("ws/big", *big)
            other.srem("ws/big", b"m0000")
            other.sadd("ws/big", b"new")
            other.incr("ws/counter", 1)
        small, grown, shrunk, added, counter = [self.c.next_event(timeout=10) for _ in range(5)]
        self.assertEqual((small.watch_id, small.key, small.type, small.value, small.value_omitted),
                         (wid, b"ws/small", "orSet", [b"a", b"b"], False))
        self.assertEqual((small.set.size, sorted(small.set.added), small.set.removed, small.set.complete),
                         (2, [b"a", b"b"], [], True))
        # 1,001 members: the value is omitted, and at most 1,000 members are listed.
        self.assertEqual((grown.key, grown.type, grown.value, grown.value_omitted), (b"ws/big", "orSet", None, True))
        self.assertEqual((grown.set.size, len(grown.set.added), grown.set.complete), (1001, 1000, False))
        # 1,000 members: the whole value again.
        self.assertEqual((shrunk.value_omitted, shrunk.set.size, shrunk.set.added, shrunk.set.removed,
                          shrunk.set.complete), (False, 1000, [], [b"m0000"], True))
        self.assertEqual(shrunk.value, big[1:])
        self.assertEqual((added.value_omitted, added.set.size, added.set.added, added.set.removed),
                         (True, 1001, [b"new"], []))
        self.assertEqual((counter.key, counter.value, counter.set, counter.value_omitted), (b"ws/counter", 1, None, False))
        self.c.unwatch(wid)

    def test_watch_map_field_changes(self):
        wid = self.c.watch("wm/", set_changes=True)
        with Client(ADDRESS) as other:
            other.update("wm/doc", "counterAdd", "pnCounter", path=["a"], amount=1)
            other.update("wm/doc", "counterAdd", "pnCounter", path=["a"], amount=2)
            other.update("wm/doc", "registerSet", "lwwRegister", path=["b"], value=b"x")
            other.update("wm/doc", "removeKey", "pnCounter", path=["a"])
        appeared, written, second, gone = [self.c.next_event(timeout=10) for _ in range(4)]
        self.assertEqual((appeared.type, appeared.set.type, appeared.set.size, appeared.set.added, appeared.set.changed),
                         ("orMap", "orMap", 1, [b"a"], []))
        self.assertEqual((written.set.size, written.set.added, written.set.changed, written.set.removed),
                         (1, [], [b"a"], []))
        self.assertEqual((second.set.size, second.set.added), (2, [b"b"]))
        self.assertEqual((gone.set.size, gone.set.removed, gone.value_omitted), (1, [b"a"], False))
        self.c.unwatch(wid)

    def test_refused_cluster(self):
        try:
            with Client(ADDRESS, cluster="no-such-cluster", timeout=10) as c:
                c.status()
        except RefusedError as e:
            self.assertEqual(e.code, "invalidArgument")  # wire.capnp: another cluster name
            self.assertIn("no-such-cluster", e.message)
            return
        self.fail("a client naming another cluster was accepted")


class TLSTest(unittest.TestCase):
    """A node with TLS and client tokens (README "Security"): certificates from `rumor certs`."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="rumor-pyclient-tls-")
        certs = os.path.join(cls.dir, "certs")
        run = lambda *args: subprocess.run([RUMOR, "certs", *args], check=True, timeout=30,
                                           stdout=subprocess.DEVNULL)
        run("init-ca", "--dir", certs)
        run("node", "--ca", certs, "--name", "n1", "--host", "127.0.0.1")
        run("client", "--ca", certs, "--name", "py")
        cls.token = "python-test-token-0123456789"
        tokens = os.path.join(cls.dir, "tokens")
        with open(tokens, "w") as f:
            f.write(cls.token + "\n")
        cls.ca = os.path.join(certs, "ca.crt")
        cls.cert = os.path.join(certs, "py.crt")
        cls.key = os.path.join(certs, "py.key")
        log_path = os.path.join(cls.dir, "node.log")
        with open(log_path, "wb") as log:
            cls.node = subprocess.Popen(
                [RUMOR, "node", "--listen", "127.0.0.1:0", "--data", os.path.join(cls.dir, "data"),
                 "--tls-ca", cls.ca, "--tls-cert", os.path.join(certs, "n1.crt"),
                 "--tls-key", os.path.join(certs, "n1.key"), "--client-token-file", tokens],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        cls.address = None
        while time.monotonic() < deadline and cls.address is None:
            with open(log_path, "rb") as f:
                m = re.search(rb"serving on (127\.0\.0\.1:\d+);", f.read())
            if m:
                cls.address = m.group(1).decode()
            elif cls.node.poll() is not None:
                break
            else:
                time.sleep(0.05)
        if cls.address is None:
            cls.tearDownClass()
            raise RuntimeError("the TLS node did not report its address within 10 s")

    @classmethod
    def tearDownClass(cls):
        if cls.node.poll() is None:
            cls.node.send_signal(signal.SIGTERM)
            try:
                cls.node.wait(timeout=10)
            except subprocess.TimeoutExpired:
                cls.node.kill()
                cls.node.wait(timeout=10)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_client_certificate(self):
        with Client(self.address, tls_ca=self.ca, tls_cert=self.cert, tls_key=self.key) as c:
            c.set("tls/k", "v")
            self.assertEqual(c.get("tls/k").value, b"v")
            self.assertEqual(c.status()["security"], "tls+token")

    def test_token(self):
        with Client(self.address, tls_ca=self.ca, token=self.token) as c:
            c.incr("tls/n", 2)
            self.assertEqual(c.get("tls/n").value, 2)

    def test_refusals(self):
        with self.assertRaises(RefusedError) as cm:
            Client(self.address, tls_ca=self.ca, token="a-wrong-token-0123456789")
        self.assertEqual(cm.exception.code, "unauthenticated")
        with self.assertRaises(RefusedError) as cm:
            Client(self.address)                      # plaintext at a TLS port
        self.assertEqual(cm.exception.code, "unavailable")
        self.assertIn("requires TLS", cm.exception.message)


class OfflineTest(unittest.TestCase):
    """The client's own parts, without a node: values, framing, a refusing hello."""

    def setUp(self):
        self.capnp = rumor_client.Capnp()

    def value_bytes(self, value, packed=True):
        binary = self.capnp.encode(self.capnp.crdt, "Value", value)
        if not packed:
            return binary
        return b"\xff" + subprocess.run(["capnp", "convert", "binary:packed"], input=binary,
                                        stdout=subprocess.PIPE, check=True, timeout=30).stdout

    def test_values_packed_and_unpacked(self):
        dot = lambda n, c: {"node": str(n), "counter": str(c)}  # noqa: E731
        pn = {"formatVersion": 1, "type": "pnCounter", "store": {"pnCounter": [
            {"dot": dot(1, 1), "p": "5", "n": "0"}, {"dot": dot(1, 2), "p": "5", "n": "1"},
            {"dot": dot(2, 1), "p": "10", "n": "3"}]}}
        lww = {"formatVersion": 1, "type": "lwwRegister", "store": {"lwwRegister": [
            {"dot": dot(1, 1), "timestamp": "7", "value": list(b"a")},
            {"dot": dot(2, 1), "timestamp": "7", "value": list(b"b")},
            {"dot": dot(3, 1), "timestamp": "6", "value": list(b"c")}]}}
        for packed in (True, False):
            self.assertEqual(rumor_client.decode_value(self.capnp, self.value_bytes(pn, packed)),
                             ("pnCounter", 11))
            self.assertEqual(rumor_client.decode_value(self.capnp, self.value_bytes(lww, packed)),
                             ("lwwRegister", b"b"))
        with self.assertRaises(rumor_client.ProtocolError):
            rumor_client.decode_value(self.capnp, b"\x80junk")

    def test_frames_cut_from_a_trickling_stream(self):
        frames = [self.capnp.encode(self.capnp.wire, "Message", {"hello": {"version": v}})
                  for v in (1, 2)]
        a, b = socket.socketpair()
        with a, b:
            b.settimeout(5)
            reader = rumor_client.FrameReader(b)
            for byte in b"".join(frames):
                a.sendall(bytes([byte]))
            self.assertEqual([reader.read(), reader.read()], frames)

    def test_refusal(self):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(10)
        refusal = self.capnp.encode(self.capnp.wire, "Message", {"hello": {
            "version": 4, "role": "client", "refusal": "protocol version 3 is too old",
            "refusalCode": 11}})

        def fake_node():
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(10)
                rumor_client.FrameReader(conn).read()   # the client's hello
                conn.sendall(refusal)

        import threading
        t = threading.Thread(target=fake_node)
        t.start()
        try:
            with self.assertRaises(RefusedError) as cm:
                Client("127.0.0.1:%d" % listener.getsockname()[1], timeout=10)
            self.assertEqual(cm.exception.code, "unsupportedVersion")
            self.assertIn("too old", cm.exception.message)
        finally:
            t.join(timeout=10)
            listener.close()


def main():
    global RUMOR
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    RUMOR = os.path.abspath(sys.argv[1])
    if shutil.which("capnp") is None:
        print("the capnp tool is missing (Debian: apt install capnproto)", file=sys.stderr)
        return 2
    try:
        start_node()
        print("node at %s (schemas in %s)" % (ADDRESS, rumor_client.DEFAULT_SCHEMA_DIR),
              file=sys.stderr)
        loader = unittest.defaultTestLoader
        suite = unittest.TestSuite([loader.loadTestsFromTestCase(OfflineTest),
                                    loader.loadTestsFromTestCase(ClientTest),
                                    loader.loadTestsFromTestCase(TLSTest)])
        result = unittest.TextTestRunner(verbosity=2).run(suite)
        return 0 if result.wasSuccessful() else 1
    finally:
        stop_node()


if __name__ == "__main__":
    sys.exit(main())
