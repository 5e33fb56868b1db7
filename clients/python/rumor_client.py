"""A small Python client for a rumor node, written from the schemas alone.

It speaks the client protocol of ``client/client.capnp`` (with the hello of
``replication/wire.capnp``) and reads CRDT values as ``crdt/crdt.capnp``
describes them. It needs nothing but the Python 3 standard library and the
``capnp`` command-line tool (Debian package ``capnproto``): every Cap'n Proto
message is turned into JSON and back by ``capnp convert``, run as a subprocess.
That is slow (two short-lived processes per request) but it proves the point:
the schemas and a stock Cap'n Proto implementation are enough to talk to a node.

Example::

    from rumor_client import Client

    with Client("127.0.0.1:7400") as c:
        c.incr("visits", 3)
        print(c.get("visits").value)          # 3
        print(c.sadd("tags", "a", "b"))       # Outcome(changed=2, size=2)
        print(c.get("tags").value)            # [b'a', b'b']
        print(c.sismember("tags", "a"), c.scard("tags"))   # True 2
        for m in c.smembers("tags"):          # page by page, whatever the size
            print(m)
        e = c.mvput("doc", "v1")
        c.mvput("doc", "v2", context=e.context, conditional=True)

Keys, register values, set members and map field names are bytes on the wire;
the methods accept ``str`` (encoded as UTF-8) or ``bytes`` and always return
``bytes``.
"""

import base64
import json
import os
import re
import socket
import ssl
import struct
import subprocess
from dataclasses import dataclass, field
from typing import Any, List, Optional

__all__ = [
    "Client", "Entry", "Event", "SetChanges", "Outcome", "RumorError", "RefusedError", "ProtocolError", "FrameReader",
    "decode_value", "decode_context", "Capnp",
]

PROTOCOL_VERSION = 5                  # the version this client speaks (wire.capnp hello);
                                      # a node of version 4 answers 4 (then: no splice)
MAX_FRAME_BYTES = 64 * 1024 * 1024    # client.capnp: frames are at most 64 MiB ...
MAX_SEGMENTS = 512                    # ... and at most 512 segments

_HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SCHEMA_DIR = os.path.normpath(os.path.join(_HERE, "..", ".."))


# ---------------------------------------------------------------- errors

class RumorError(Exception):
    """A request failed: ``code`` is the ErrorCode name (e.g. "typeMismatch"),
    ``message`` the node's text. ``values`` holds what the response carried
    (the current siblings for a ``conflict`` of mvPut, as Entry objects, or the
    current raw bytes for a ``conflict`` of cas)."""

    def __init__(self, code, message="", values=None):
        self.code = code
        self.message = message
        self.values = values if values is not None else []
        super().__init__("%s: %s" % (code, message) if message else str(code))


class RefusedError(RumorError):
    """The node refused the connection in its hello (wire.capnp Hello.refusal)."""


class ProtocolError(Exception):
    """The byte stream or a message did not follow the protocol."""


# ---------------------------------------------------------------- the capnp tool

class Capnp:
    """Encodes and decodes Cap'n Proto messages with ``capnp convert``.

    Messages are Python dicts in capnp's JSON form: unions are a one-member
    object, enums are names, 64-bit integers are decimal strings, Data is a list
    of byte numbers (what capnp 0.9 writes; base64 strings are accepted on
    input too), null pointers are left out.
    """

    def __init__(self, schema_dir=None, tool="capnp", timeout=30.0):
        self.schema_dir = schema_dir or os.environ.get("RUMOR_SCHEMA_DIR", DEFAULT_SCHEMA_DIR)
        self.tool = tool
        self.timeout = timeout
        self.client = os.path.join(self.schema_dir, "client", "client.capnp")
        self.wire = os.path.join(self.schema_dir, "replication", "wire.capnp")
        self.crdt = os.path.join(self.schema_dir, "crdt", "crdt.capnp")
        for path in (self.client, self.wire, self.crdt):
            if not os.path.isfile(path):
                raise FileNotFoundError("schema not found: %s (set RUMOR_SCHEMA_DIR)" % path)

    def _run(self, args, data):
        try:
            done = subprocess.run([self.tool, "convert"] + args, input=data,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  timeout=self.timeout)
        except FileNotFoundError:
            raise RuntimeError("the capnp tool is not installed (Debian: apt install capnproto)")
        if done.returncode != 0:
            raise ProtocolError("capnp convert %s failed: %s"
                                % (" ".join(args[:1]), done.stderr.decode(errors="replace").strip()))
        return done.stdout

    def encode(self, schema, root, obj):
        """JSON-able dict -> one standard unpacked message (segment table + segments)."""
        return self._run(["json:binary", schema, root], json.dumps(obj).encode())

    def decode(self, schema, root, data, packed=False):
        """One (packed) message -> dict."""
        fmt = "packed:json" if packed else "binary:json"
        return json.loads(self._run([fmt, "--short", schema, root], data))

    def enumerants(self, schema, enum):
        """Names of an enum of a schema file, by ordinal (read from the schema text)."""
        with open(schema, encoding="utf-8") as f:
            text = f.read()
        body = re.search(r"enum\s+%s\s*\{(.*?)\}" % re.escape(enum), text, re.S)
        if not body:
            raise ProtocolError("enum %s not in %s" % (enum, schema))
        names = {}
        for name, number in re.findall(r"(\w+)\s*@(\d+)\s*;", re.sub(r"#.*", "", body.group(1))):
            names[int(number)] = name
        return names


def to_bytes(x):
    """str (UTF-8) or bytes-like -> bytes."""
    if isinstance(x, str):
        return x.encode("utf-8")
    return bytes(x)


def data_out(x):
    """bytes -> capnp JSON Data (a list of byte numbers)."""
    return list(to_bytes(x))


def data_in(x):
    """capnp JSON Data (list of byte numbers, or base64 text) -> bytes."""
    if x is None:
        return None
    if isinstance(x, str):
        return base64.b64decode(x)
    return bytes(x)


# ---------------------------------------------------------------- CRDT values

def _varint(data, at):
    """LEB128 varint at data[at:] -> (value, next position)."""
    v, shift = 0, 0
    while True:
        if at >= len(data) or shift > 63:
            raise ProtocolError("compact form: varint cut off")
        b = data[at]
        at += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return v, at


def _u64(data, at):
    if at + 8 > len(data):
        raise ProtocolError("compact form: u64 cut off")
    return int.from_bytes(data[at:at + 8], "little"), at + 8


def _bytes(data, at):
    n, at = _varint(data, at)
    if at + n > len(data):
        raise ProtocolError("compact form: value cut off")
    return bytes(data[at:at + n]), at + n


_COMPACT_KINDS = {1: "gCounter", 2: "pnCounter", 3: "lwwRegister", 4: "mvRegister"}


def decode_text(data):
    """A text (0x40, type 8; docs/protocol.md §7, crdt/codec_text.hpp) -> ("text", str). Walks
    the structure to its last field, the UTF-8 content of the live items, which is the text."""
    at = 2
    n, at = _varint(data, at)
    for _ in range(n):                       # the context: version vector ...
        _, at = _u64(data, at)
        _, at = _varint(data, at)
    groups, at = _varint(data, at)
    for _ in range(groups):                  # ... and other dots
        _, at = _u64(data, at)
        k, at = _varint(data, at)
        for _ in range(k):
            _, at = _varint(data, at)
    extra, at = _varint(data, at)           # further nodes
    for _ in range(extra):
        _, at = _u64(data, at)
    for _section in range(2):                # integrated runs, pending runs
        runs, at = _varint(data, at)
        for _ in range(runs):
            head, at = _varint(data, at)
            if head & 1:
                _, at = _varint(data, at)   # node index
            _, at = _varint(data, at)       # counter
            if at >= len(data):
                raise ProtocolError("text: origins cut off")
            codes = data[at]
            at += 1
            if codes % 4 == 3:              # a left origin given in full
                _, at = _varint(data, at)
                _, at = _varint(data, at)
            if codes // 4 == 4:             # a right origin given in full
                _, at = _varint(data, at)
                _, at = _varint(data, at)
    nodes, at = _varint(data, at)           # the delete set
    for _ in range(nodes):
        _, at = _varint(data, at)
        k, at = _varint(data, at)
        for _ in range(2 * k):
            _, at = _varint(data, at)
    content, at = _bytes(data, at)
    if at != len(data):
        raise ProtocolError("text: bytes after the value")
    return "text", content.decode("utf-8")


def decode_compact(data):
    """The compact form (0x40, docs/protocol.md §7) of a counter or register -> (type name,
    plain Python value, as store_to_python reads it)."""
    if len(data) >= 2 and data[1] == 8:
        return decode_text(data)
    if len(data) < 2 or data[1] not in _COMPACT_KINDS:
        raise ProtocolError("compact form: bad type byte")
    kind = _COMPACT_KINDS[data[1]]
    at = 2
    n, at = _varint(data, at)
    vv = []
    for _ in range(n):
        node, at = _u64(data, at)
        counter, at = _varint(data, at)
        vv.append((node, counter))
    groups, at = _varint(data, at)
    for _ in range(groups):               # the context's other dots: not needed for the value
        _, at = _u64(data, at)
        k, at = _varint(data, at)
        for _ in range(k):
            _, at = _varint(data, at)
    entries, at = _varint(data, at)
    total, regs = 0, []
    for _ in range(entries):
        ref, at = _varint(data, at)
        if ref < len(vv):
            back, at = _varint(data, at)  # the dot's counter below the vector entry's
            node, counter = vv[ref][0], vv[ref][1] - back
        else:
            node, at = _u64(data, at)
            counter, at = _varint(data, at)
        if kind == "gCounter":
            t, at = _varint(data, at)
            total += t
        elif kind == "pnCounter":
            p, at = _varint(data, at)
            m, at = _varint(data, at)
            total += p - m
        elif kind == "lwwRegister":
            ts, at = _u64(data, at)
            value, at = _bytes(data, at)
            regs.append(((ts, node, counter), value))
        else:
            value, at = _bytes(data, at)
            regs.append(((node, counter), value))
    if at != len(data):
        raise ProtocolError("compact form: bytes after the value")
    if kind == "lwwRegister":
        return kind, (max(regs)[1] if regs else None)
    if kind == "mvRegister":
        return kind, sorted(v for _, v in regs)
    return kind, total


def _codec_message(capnp, data, root):
    """crdt codec bytes -> the dict of their `root` message (crdt.capnp)."""
    if data[0] == 0xFF:                       # current form: 0xFF + packed message
        return capnp.decode(capnp.crdt, root, data[1:], packed=True)
    if data[0] <= 0x3F:                       # older form: an unpacked framed message
        return capnp.decode(capnp.crdt, root, data)
    raise ProtocolError("not crdt codec bytes (first byte 0x%02x)" % data[0])


def _latest_per_node(entries):
    """Counter stores: per node, the entry of its highest dot."""
    latest = {}
    for e in entries:
        node, counter = int(e["dot"]["node"]), int(e["dot"]["counter"])
        if node not in latest or counter > latest[node][0]:
            latest[node] = (counter, e)
    return [e for _, e in latest.values()]


def store_to_python(store):
    """A crdt.capnp `Store` (as JSON) -> (type name, plain Python value).

    gCounter: int, the sum over nodes of each node's running total.
    pnCounter: int, the sum over nodes of p - n.
    lwwRegister: bytes of the winning write (greatest timestamp, ties broken by
        the dot's node, then counter), None if there is none.
    mvRegister: sorted list of the siblings' bytes.
    orSet: sorted list of members (bytes).
    ewFlag: bool, true while some enabling dot survives.
    orMap: dict field name (bytes) -> the field's value, nested the same way.
    """
    (kind, entries), = store.items()
    entries = entries or []
    if kind == "gCounter":
        return kind, sum(int(e["total"]) for e in _latest_per_node(entries))
    if kind == "pnCounter":
        return kind, sum(int(e["p"]) - int(e["n"]) for e in _latest_per_node(entries))
    if kind == "lwwRegister":
        if not entries:
            return kind, None
        best = max(entries, key=lambda e: (int(e["timestamp"]), int(e["dot"]["node"]),
                                           int(e["dot"]["counter"])))
        return kind, data_in(best.get("value", []))
    if kind == "mvRegister":
        return kind, sorted(data_in(e.get("value", [])) for e in entries)
    if kind == "orSet":
        return kind, sorted(data_in(e["element"]) for e in entries)
    if kind == "ewFlag":
        return kind, len(entries) > 0
    if kind == "orMap":
        return kind, {data_in(f["name"]): store_to_python(f["store"])[1] for f in entries}
    raise ProtocolError("unknown store kind %r" % kind)


def decode_value(capnp, data):
    """crdt codec bytes of a `Value` -> (type name, plain Python value).
    Empty bytes (an Event of a deleted key) -> (None, None)."""
    if not data:
        return None, None
    if data[0] == 0x40:                       # counters and registers: the compact form
        return decode_compact(data)
    value = _codec_message(capnp, data, "Value")
    if value.get("formatVersion") != 1:
        raise ProtocolError("crdt value of format version %r" % value.get("formatVersion"))
    if "store" not in value:
        return value.get("type"), None
    return store_to_python(value["store"])


def decode_context(capnp, data):
    """crdt codec bytes of a `Context` -> its DotContext as a dict (for display)."""
    if not data:
        return {}
    return _codec_message(capnp, data, "Context").get("context", {})


@dataclass
class Entry:
    """One value of a key."""
    key: bytes
    type: Optional[str]           # CrdtType name, e.g. "orSet"; None: no value
    value: Any                    # the plain Python value (see store_to_python)
    context: Optional[bytes]      # pass back as mvput(context=...); None: the node sent none
    raw: bytes = field(repr=False)  # the crdt codec bytes


@dataclass
class Outcome:
    """What an update of a set or map did (client.capnp UpdateOutcome): members (fields) that
    appeared or went, and the collection's size after it."""
    changed: int
    size: int


@dataclass
class SetChanges:
    """What changes of a set did to its members since the key's previous event, or of a map to
    its field names (client.capnp SetChanges): at most 1,000 listed; complete is False when more
    changed. A map's fields written while present are in `changed`; type is "orSet" or "orMap"."""
    size: int
    added: List[bytes]
    removed: List[bytes]
    complete: bool
    changed: List[bytes] = field(default_factory=list)
    type: str = "orSet"


@dataclass
class Event:
    """A change seen by a watch; type and value are None when the key was deleted, and value is
    None with value_omitted when a set of over 1,000 members (a map of over 1,000 fields) changed
    (watch(set_changes=True))."""
    watch_id: int
    key: bytes
    type: Optional[str]
    value: Any
    origin: int                   # node that made the update (0: repair / state transfer)
    raw: bytes = field(repr=False)
    set: Optional[SetChanges] = None
    value_omitted: bool = False


# ---------------------------------------------------------------- framing

def frame_length(buf):
    """Length of the standard framed message at the start of `buf`, or None if `buf`
    does not yet hold its whole segment table. The table is: u32 LE (segments - 1),
    u32 LE size of each segment in words, padding to 8 bytes; the segments follow."""
    if len(buf) < 4:
        return None
    count = struct.unpack_from("<I", buf)[0] + 1
    if count > MAX_SEGMENTS:
        raise ProtocolError("frame of %d segments" % count)
    table = 4 + 4 * count + (4 if count % 2 == 0 else 0)
    if len(buf) < table:
        return None
    total = table + 8 * sum(struct.unpack_from("<%dI" % count, buf, 4))
    if total > MAX_FRAME_BYTES:
        raise ProtocolError("frame of %d bytes" % total)
    return total


class FrameReader:
    """Cuts frames out of a TCP stream. Bytes received stay buffered across a
    socket timeout, so a timed-out read can simply be retried."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def read(self):
        """The next whole frame (bytes)."""
        while True:
            n = frame_length(self.buf)
            if n is not None and len(self.buf) >= n:
                frame = bytes(self.buf[:n])
                del self.buf[:n]
                return frame
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("the node closed the connection")
            self.buf += chunk


# ---------------------------------------------------------------- the client

def _tls_wrap(sock, host, ca, cert, key):
    """The TLS 1.3 client side of a connection to a node (docs/protocol.md)."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    if cert:
        ctx.load_cert_chain(cert, key)
    tls = ctx.wrap_socket(sock, server_hostname=host)
    subject = dict(item for rdn in tls.getpeercert().get("subject", ()) for item in rdn)
    if subject.get("organizationalUnitName") != "rumor-node":
        tls.close()
        raise ProtocolError("the node's certificate is not a node certificate: %s" % subject)
    return tls


class Client:
    """One connection to a node.

    Every request method sends one request and waits for its response (other
    responses and events that arrive meanwhile are kept). ``level`` is the
    consistency ("local", "majority", "all"), ``timeout_ms`` how long the node
    may take for majority/all. Failures raise RumorError.
    """

    def __init__(self, address, cluster="", timeout=10.0, schema_dir=None,
                 tls_ca=None, tls_cert=None, tls_key=None, token=None):
        """``tls_ca``: speak TLS 1.3, trusting the cluster CA in that PEM file; the
        node's certificate must name ``address``'s host and be a node certificate
        (OU rumor-node). ``tls_cert``/``tls_key``: a client certificate of that CA;
        ``token``: a bearer token instead (docs/protocol.md, "TLS and credentials")."""
        host, _, port = address.rpartition(":")
        host = host.strip("[]")
        self.capnp = Capnp(schema_dir)
        self.error_names = self.capnp.enumerants(self.capnp.client, "ErrorCode")
        self.timeout = timeout
        self._next_id = 1
        self._responses = {}      # id -> Response dict, arrived before anyone asked
        self._events = []         # Event, in arrival order
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        try:
            if tls_ca:
                self.sock = _tls_wrap(self.sock, host, tls_ca, tls_cert, tls_key)
            self.sock.settimeout(timeout)
            self.frames = FrameReader(self.sock)
            self.server_hello = self._handshake(cluster, token)
        except BaseException:
            self.sock.close()
            raise

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- handshake

    def _handshake(self, cluster, token=None):
        hello = {"hello": {"cluster": cluster, "node": "0", "version": PROTOCOL_VERSION,
                           "address": "", "role": "client"}}
        if token:
            hello["hello"]["token"] = token
        self.sock.sendall(self.capnp.encode(self.capnp.wire, "Message", hello))
        # The node answers after checking ours (an older node may have sent its hello
        # first): either way the first frame we read is its hello.
        msg = self.capnp.decode(self.capnp.wire, "Message", self.frames.read())
        if "hello" not in msg:
            raise ProtocolError("expected a hello, got %s" % list(msg))
        hello = msg["hello"]
        if hello.get("refusal"):
            code = int(hello.get("refusalCode", 0))
            raise RefusedError(self.error_names.get(code, str(code)), hello["refusal"])
        return hello

    # -- sending and receiving

    def _send(self, body, level="local", timeout_ms=None):
        rid = self._next_id
        self._next_id += 1
        request = {"id": str(rid), "level": level, "body": body}
        if timeout_ms is not None:
            request["timeoutMs"] = int(timeout_ms)
        self.sock.sendall(self.capnp.encode(self.capnp.client, "ClientMessage",
                                            {"request": request}))
        return rid

    def _read_one(self):
        msg = self.capnp.decode(self.capnp.client, "ClientMessage", self.frames.read())
        if "response" in msg:
            r = msg["response"]
            self._responses[int(r["id"])] = r
        elif "event" in msg:
            self._events.append(self._event(msg["event"]))
        else:
            raise ProtocolError("unexpected message from the node: %s" % list(msg))

    def _wait(self, rid):
        while rid not in self._responses:
            self._read_one()
        r = self._responses.pop(rid)
        if r.get("code", "ok") != "ok":
            code = r["code"]
            if isinstance(code, int):
                code = self.error_names.get(code, str(code))
            raise RumorError(code, r.get("message", ""), self._failed_values(r))
        return r

    def _call(self, body, level="local", timeout_ms=None):
        return self._wait(self._send(body, level, timeout_ms))

    def _failed_values(self, r):
        try:
            return self._entries(r)
        except ProtocolError:       # cas conflict: raw register bytes, not crdt values
            return [data_in(kv.get("value")) for kv in r.get("values", [])]

    def _entry(self, kv):
        raw = data_in(kv.get("value", []))
        type_, value = decode_value(self.capnp, raw)
        return Entry(data_in(kv.get("key", [])), type_, value, data_in(kv.get("context")), raw)

    def _entries(self, r):
        return [self._entry(kv) for kv in r.get("values", [])]

    def _event(self, e):
        raw = data_in(e.get("value", []))
        type_, value = decode_value(self.capnp, raw)
        sc = e.get("setChanges")
        changes = None
        if sc is not None:
            kind = sc.get("type", "unknown")
            changes = SetChanges(int(sc.get("size", "0")), [data_in(m) for m in sc.get("added", [])],
                                 [data_in(m) for m in sc.get("removed", [])], bool(sc.get("complete", False)),
                                 [data_in(m) for m in sc.get("changed", [])],
                                 "orSet" if kind == "unknown" else kind)
        omitted = bool(e.get("valueOmitted", False))
        if omitted:
            type_ = changes.type if changes is not None else "orSet"
        return Event(int(e["watchId"]), data_in(e.get("key", [])), type_, value,
                     int(e.get("origin", "0")), raw, changes, omitted)

    # -- updates

    def update(self, key, op, type, path=(), amount=None, value=None, members=None,
               flag=None, context=None, conditional=False, return_value=False, level="local",
               timeout_ms=None, extra=None):
        """One UpdateRequest; returns the Entry of the value after it — for a set or map (or a
        path) only with return_value=True, else the Outcome of the update (None if neither)."""
        u = {"key": data_out(key), "op": op, "type": type}
        if path:
            u["path"] = [data_out(p) for p in path]
        if amount is not None:
            u["amount"] = str(int(amount))
        if value is not None:
            u["value"] = data_out(value)
        if members is not None:
            u["members"] = [data_out(m) for m in members]
        if flag is not None:
            u["flag"] = bool(flag)
        if context is not None:
            u["context"] = data_out(context)
        if conditional:
            u["conditional"] = True
        if return_value:
            u["returnValue"] = True
        if extra:
            u.update(extra)
        r = self._call({"update": u}, level, timeout_ms)
        entries = self._entries(r)
        if entries:
            return entries[0]
        if "outcome" in r:
            o = r["outcome"]
            return Outcome(int(o.get("changed", "0")), int(o.get("size", "0")))
        return None

    def add(self, key, amount, type="pnCounter", **kw):
        """counterAdd on a pnCounter (or type="gCounter", amount >= 0)."""
        return self.update(key, "counterAdd", type, amount=amount, **kw)

    def incr(self, key, n=1, **kw):
        return self.add(key, n, **kw)

    def decr(self, key, n=1, **kw):
        return self.add(key, -n, **kw)

    def set(self, key, value, **kw):
        """registerSet: last writer wins."""
        return self.update(key, "registerSet", "lwwRegister", value=value, **kw)

    def mvput(self, key, value, context=None, conditional=False, **kw):
        """mvPut: supersedes `context` (the Entry.context of an earlier read); with
        conditional=True fails with RumorError("conflict") if the value changed since."""
        return self.update(key, "mvPut", "mvRegister", value=value, context=context,
                           conditional=conditional, **kw)

    def sadd(self, key, *members, **kw):
        return self.update(key, "setAdd", "orSet", members=members, **kw)

    def srem(self, key, *members, **kw):
        return self.update(key, "setRemove", "orSet", members=members, **kw)

    def flag(self, key, on, **kw):
        return self.update(key, "flagSet", "ewFlag", flag=on, **kw)

    def splice(self, key, pos, delete, text="", context=None, conditional=False, **kw):
        """splice on a text: deletes `delete` codepoints at codepoint `pos` and inserts `text`
        there; returns the Outcome (changed codepoints, new length), or with return_value=True
        the Entry. With the Entry.context of a read and conditional=True it fails with
        RumorError("conflict") if the text changed since."""
        if int(self.server_hello.get("version", 0)) < 5:
            raise ProtocolError("the node speaks client protocol %s, which has no text type"
                                % self.server_hello.get("version"))
        u = {"position": str(int(pos)), "deleteCount": str(int(delete))}
        return self.update(key, "splice", "text", value=text.encode("utf-8"), context=context,
                           conditional=conditional, extra=u, **kw)

    def delete(self, key, type="lwwRegister", path=(), **kw):
        """removeKey: the whole key, or with a path its last field (type = the field's
        type). For a whole key the type is not used, but must be a known one."""
        return self.update(key, "removeKey", type, path=path, **kw)

    # -- reads

    def get_all(self, key, level="local", timeout_ms=None):
        """Every value stored under `key` (normally one), as Entry objects."""
        return self._entries(self._call({"get": {"key": data_out(key)}}, level, timeout_ms))

    def get(self, key, level="local", timeout_ms=None):
        """The value of `key` as an Entry, or None if it has none."""
        try:
            entries = self.get_all(key, level, timeout_ms)
        except RumorError as e:
            if e.code == "notFound":
                return None
            raise
        return entries[0] if entries else None

    # -- parts of a set or map (GetRequest path and view); `path` names nested map fields

    def _view(self, key, view, path=(), level="local", timeout_ms=None, **extra):
        g = {"key": data_out(key), "view": view}
        if path:
            g["path"] = [data_out(p) for p in path]
        g.update(extra)
        return self._call({"get": g}, level, timeout_ms).get("collection", {})

    def sismember(self, key, member, path=(), **kw):
        """Is `member` in the set (a field name of the map) at key / path?"""
        return bool(self._view(key, "member", path, member=data_out(member), **kw).get("contains", False))

    def scard(self, key, path=(), **kw):
        """The members of the set (fields of the map) at key / path; 0 when absent."""
        return int(self._view(key, "size", path, **kw).get("size", "0"))

    def page(self, key, after=None, limit=1000, path=(), **kw):
        """One page: (members or [(field name, Entry)], more) after `after`, in byte order."""
        extra = {"limit": int(limit)}
        if after is not None:
            extra["after"] = data_out(after)
        c = self._view(key, "page", path, **extra, **kw)
        if c.get("fields"):
            items = [(data_in(f["key"]), self._entry(f)) for f in c["fields"]]
        else:
            items = [data_in(m) for m in c.get("members", [])]
        return items, bool(c.get("more", False))

    def smembers(self, key, after=None, page_size=1000, path=(), **kw):
        """Every member (or (name, Entry) field) after `after`, fetched a page at a time."""
        while True:
            items, more = self.page(key, after, page_size, path, **kw)
            yield from items
            if not more or not items:
                return
            last = items[-1]
            after = last[0] if isinstance(last, tuple) else last

    def get_field(self, key, path, level="local", timeout_ms=None):
        """Every field called path[-1] in the map at key / path[:-1], as Entry objects."""
        g = {"key": data_out(key), "path": [data_out(p) for p in path]}
        return self._entries(self._call({"get": g}, level, timeout_ms))

    def keys(self, prefix=b"", limit=1000):
        """[(key, type name)] in key order."""
        r = self._call({"keys": {"prefix": data_out(prefix), "limit": int(limit)}})
        return [(data_in(k["key"]), k["type"]) for k in r.get("keyList", [])]

    def members(self):
        """[{"id": int, "address": str, "status": str, "incarnation": int}]"""
        r = self._call({"members": {}})
        return [{"id": int(m["id"]), "address": m.get("address", ""), "status": m["status"],
                 "incarnation": int(m["incarnation"])} for m in r.get("memberList", [])]

    def status(self):
        """The node's NodeStatus as a dict (64-bit numbers as int)."""
        node = self._call({"status": {}}).get("node", {})
        out = {}
        for name, v in node.items():
            if name == "peers":
                v = [{"id": int(p["id"]), "behind": int(p.get("behind", 0)),
                      "lag_ms": int(p.get("lagMs", 0))} for p in v]
            elif isinstance(v, str) and v.isdigit() and name not in ("address", "cluster",
                                                                     "readiness",
                                                                     "writeBehindError",
                                                                     "storageError",
                                                                     "clockError"):
                v = int(v)
            out[name] = v
        return out

    # -- the linearizable compare-and-set lane

    def cas(self, key, expected, value):
        """Sets `key` to `value` iff it holds `expected` (None: absent; value None:
        delete). On a mismatch raises RumorError("conflict") whose values hold the
        current bytes ([] if absent)."""
        c = {"key": data_out(key)}
        if expected is not None:
            c["expected"] = data_out(expected)
        if value is not None:
            c["value"] = data_out(value)
        self._call({"cas": c})

    def lget(self, key):
        """Linearizable read of a lane key: bytes, or None when absent."""
        r = self._call({"lget": {"key": data_out(key)}})
        values = r.get("values", [])
        return data_in(values[0].get("value", [])) if values else None

    # -- watches

    def watch(self, prefix=b"", set_changes=False):
        """Starts a watch; returns its id (pass it to unwatch). set_changes: a set's (and a
        map's) events carry Event.set, and a set of over 1,000 members (a map of over 1,000
        fields) its value no more (value_omitted)."""
        rid = self._send({"watch": {"prefix": data_out(prefix), "setChanges": bool(set_changes),
                                    "fieldChanges": bool(set_changes)}})
        self._wait(rid)
        return rid

    def unwatch(self, watch_id):
        self._call({"unwatch": {"watchId": str(int(watch_id))}})

    def next_event(self, timeout=None):
        """The next Event of any watch; raises socket.timeout (TimeoutError) after
        `timeout` seconds without one (the connection stays usable)."""
        if timeout is not None:
            self.sock.settimeout(timeout)
        try:
            while not self._events:
                self._read_one()
        finally:
            self.sock.settimeout(self.timeout)
        return self._events.pop(0)
