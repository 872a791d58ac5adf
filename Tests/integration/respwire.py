"""A tiny raw RESP2/RESP3 client for the integration tests.

Replies are returned as typed trees so that two servers can be compared exactly, type markers included
(a simple string "+OK" differs from a bulk string "$2\\r\\nOK"):

    ('+', b'OK')   ('-', b'ERR ...')   (':', 5)   ('$', b'v') / ('$', None)   ('*', [..]) / ('*', None)
    RESP3: ('_', None) (',', b'3.14') ('#', True) ('(', b'123') ('=', b'txt:...') ('!', b'ERR ...')
           ('%', [(k, v), ...]) ('~', [..]) ('>', [..]) ('|', [(k, v), ...])

Every socket operation is bounded by a timeout.
"""

import socket
import time

DEFAULT_TIMEOUT = 10.0


class ConnectionClosed(Exception):
    pass


def encode(*args):
    """Encodes one request as a RESP multibulk."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, bytes):
            b = a
        elif isinstance(a, str):
            b = a.encode()
        elif isinstance(a, (int, float)):
            b = repr(a).encode() if isinstance(a, float) else str(a).encode()
        else:
            raise TypeError("unsupported argument %r" % (a,))
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class RawConnection:
    def __init__(self, port, host="127.0.0.1", timeout=DEFAULT_TIMEOUT, protocol=2):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(timeout)
        self.buf = bytearray()
        self.protocol = 2
        if protocol == 3:
            reply = self.call("HELLO", "3")
            if reply[0] in ("-", "!"):
                raise RuntimeError("HELLO 3 failed: %r" % (reply,))
            self.protocol = 3

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- sending
    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, *args):
        self.sock.sendall(encode(*args))

    def call(self, *args):
        self.send(*args)
        return self.read_reply()

    # -- receiving
    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionClosed("connection closed by server (buffered: %r)" % bytes(self.buf[:200]))
        self.buf += chunk

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[: i + 2]
                return line
            self._fill()

    def _exact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data = bytes(self.buf[:n])
        if self.buf[n : n + 2] != b"\r\n":
            raise AssertionError("bulk payload not terminated by CRLF: %r" % bytes(self.buf[: n + 2]))
        del self.buf[: n + 2]
        return data

    def read_reply(self):
        line = self._line()
        if not line:
            raise AssertionError("empty reply line")
        t, rest = chr(line[0]), line[1:]
        if t in "+-":
            return (t, rest)
        if t == ":":
            return (t, int(rest))
        if t in "$!=":
            n = int(rest)
            if n < 0:
                return (t, None)
            return (t, self._exact(n))
        if t in "*~>":
            n = int(rest)
            if n < 0:
                return (t, None)
            return (t, [self.read_reply() for _ in range(n)])
        if t in "%|":
            n = int(rest)
            return (t, [(self.read_reply(), self.read_reply()) for _ in range(n)])
        if t == "_":
            return (t, None)
        if t == ",":
            return (t, rest)
        if t == "#":
            return (t, rest == b"t")
        if t == "(":
            return (t, rest)
        raise AssertionError("unknown reply type %r in line %r" % (t, line))

    def read_raw_available(self, timeout=1.0, until_closed=False, quiet=0.2):
        """Reads what arrives within `timeout`; returns (bytes, closed-by-peer).

        Stops early when the peer closes, or (unless `until_closed`) once data has arrived and nothing more
        came for `quiet` seconds. With `until_closed`, a connection that stays open and quiet for `quiet`
        seconds after some data also ends the read (reported as not closed)."""
        deadline = time.monotonic() + timeout
        data = bytes(self.buf)
        self.buf.clear()
        closed = False
        while True:
            now = time.monotonic()
            if now >= deadline:
                break
            wait = deadline - now
            if data:
                wait = min(wait, quiet)
            self.sock.settimeout(max(0.005, wait))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                if data:
                    break
                continue
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            data += chunk
        self.sock.settimeout(DEFAULT_TIMEOUT)
        return data, closed


def is_error(reply):
    return reply[0] in ("-", "!")


def value(reply):
    """The plain Python value of a typed reply (for assertions that don't care about the type marker)."""
    t, v = reply
    if t in "*~>" and v is not None:
        return [value(x) for x in v]
    if t in "%|":
        return [(value(k), value(x)) for k, x in v]
    return v


def sort_reply(reply, pairs=False):
    """Sorts an aggregate reply (for commands whose element order is unspecified). `pairs=True` is for
    map-like replies (HGETALL, CONFIG GET...): a RESP2 flat array is sorted as (field, value) pairs, so a
    value swapped between two fields is still a difference. A RESP3 map is always sorted by pairs."""
    t, v = reply
    if t in "*~" and v is not None:
        if pairs:
            assert len(v) % 2 == 0, "a map-like reply has an even number of elements: %r" % (reply,)
            items = sorted(zip(v[0::2], v[1::2]), key=repr)
            return (t, [x for kv in items for x in kv])
        return (t, sorted(v, key=repr))
    if t == "%":
        return (t, sorted(v, key=repr))
    return reply


def wait_for_ping(port, deadline, proc=None):
    """Waits until the server on `port` answers PING with +PONG (or a NOAUTH/MASTERDOWN error), bounded."""
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("server exited with status %s before answering PING" % proc.returncode)
        try:
            with RawConnection(port, timeout=1.0) as c:
                r = c.call("PING")
                if r == ("+", b"PONG") or (r[0] == "-" and r[1].startswith((b"NOAUTH", b"MASTERDOWN"))):
                    return
                last = r
        except (OSError, ConnectionClosed, AssertionError) as e:
            last = e
        time.sleep(0.05)
    raise RuntimeError("server on port %d did not answer PING in time (last: %r)" % (port, last))
