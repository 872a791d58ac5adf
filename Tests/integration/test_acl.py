"""ACL users, rules and checks: Tern vs a stock Redis 7.0 given the same commands, on private servers
(ACL state is global to a server). Replies are compared exactly unless a comment says why not."""

import os
import time

import pytest

from conftest import REDIS_BIN, ServerProcess, make_tern, redis_argv
from respwire import ConnectionClosed, RawConnection, is_error, sort_reply


def norm_rules(text):
    """Sorts each run of single-command rules ("+get +set") in an ACL description. Redis emits them in its
    command dict's hash order, Tern in name order; everything else (flags, passwords, patterns, the +@all/-@all
    start and the category choice) keeps its order and is compared as is."""
    out, seg = [], ""
    for ch in text + "\0":
        if ch in "()\0":
            tokens = seg.split(" ")
            i = 0
            while i < len(tokens):
                j = i
                while j < len(tokens) and len(tokens[j]) > 1 and tokens[j][0] in "+-" and tokens[j][1] != "@":
                    j += 1
                tokens[i:j] = sorted(tokens[i:j])
                i = j + 1 if j == i else j
            out.append(" ".join(tokens))
            if ch != "\0":
                out.append(ch)
            seg = ""
        else:
            seg += ch
    return "".join(out)


def norm_reply(reply):
    t, v = reply
    if t in "$+" and isinstance(v, bytes):
        return (t, norm_rules(v.decode("latin-1")).encode("latin-1"))
    if t in "*~>" and isinstance(v, list):
        return (t, [norm_reply(x) for x in v])
    if t == "%" and isinstance(v, list):
        return (t, [(norm_reply(a), norm_reply(b)) for a, b in v])
    return reply


def make_redis_with(extra=()):
    return ServerProcess("redis", lambda port: redis_argv(port) + list(extra), executable=REDIS_BIN)


@pytest.fixture(scope="module")
def servers():
    t = make_tern().start()
    r = make_redis_with().start()
    yield t, r
    t.cleanup()
    r.cleanup()


class Both:
    """Admin connections to both servers; `cmd` asserts identical replies."""

    def __init__(self, t, r, protocol=2):
        self.ts, self.rs = t, r
        self.t, self.r = t.connect(protocol=protocol), r.connect(protocol=protocol)

    def cmd(self, *args, unordered=False):
        a, b = self.t.call(*args), self.r.call(*args)
        if args and str(args[0]).upper() == "ACL":
            a, b = norm_reply(a), norm_reply(b)
        if unordered:
            a, b = sort_reply(a), sort_reply(b)
        assert a == b, "%r\n  tern:  %r\n  redis: %r" % (args, a, b)
        return b

    def users(self, *names, protocol=2, password="pw"):
        """Connections authenticated as `name` on both servers."""
        out = []
        for name in names:
            ct, cr = self.ts.connect(protocol=protocol), self.rs.connect(protocol=protocol)
            for c in (ct, cr):
                assert c.call("AUTH", name, password) == ("+", b"OK")
            out.append((ct, cr))
        return out

    def close(self):
        self.t.close()
        self.r.close()


@pytest.fixture
def both(servers):
    b = Both(*servers)
    yield b
    # Leave only the default user, as it started.
    for conn in (b.t, b.r):
        names = [n[1].decode() for n in conn.call("ACL", "USERS")[1]]
        others = [n for n in names if n != "default"]
        if others:
            conn.call("ACL", "DELUSER", *others)
        conn.call("ACL", "SETUSER", "default", "reset", "on", "nopass", "~*", "&*", "+@all")
        conn.call("ACL", "LOG", "RESET")
    b.close()


def test_setuser_getuser_list_are_redis_replies(both):
    rules = [
        ("alice", "on", ">pw", "~app:*", "+@read", "-keys", "&news"),
        ("bob", "on", "nopass", "%R~r:*", "%W~w:*", "%RW~rw:*", "+get", "+set", "+config|get"),
        ("carol", "off", "#" + "a" * 64, "allkeys", "allchannels", "+@all", "-@dangerous"),
        ("dave", "on", ">x", "(~sel:* +get)", "(%R~ro:* +@read)", "+ping"),
        ("erin", "on", ">x", "+select|0", "+select|1", "resetchannels", "&a*", "&b"),
        ("frank", "on", ">one", ">two", "<one", "nocommands", "+@string", "-append"),
        ("gina", "on", ">p", "allcommands", "-debug", "-flushall"),
    ]
    for r in rules:
        both.cmd("ACL", "SETUSER", *r)
    for r in rules:
        both.cmd("ACL", "GETUSER", r[0])
    both.cmd("ACL", "LIST")
    both.cmd("ACL", "USERS")
    both.cmd("ACL", "GETUSER", "nosuchuser")
    # Changing an existing user adds to its rules; a failing rule changes nothing.
    both.cmd("ACL", "SETUSER", "alice", "~other:*", "+incr")
    both.cmd("ACL", "SETUSER", "alice", "-@all", "+nosuchcommand")
    both.cmd("ACL", "GETUSER", "alice")
    both.cmd("ACL", "SETUSER", "alice", "reset")
    both.cmd("ACL", "GETUSER", "alice")


def test_rule_errors_are_redis_errors(both):
    bad = [
        ("u", "badop"), ("u", "+nosuch"), ("u", "+@nosuch"), ("u", "-nosuch"), ("u", "#abc"), ("u", "!" + "z" * 64),
        ("u", "<notset"), ("u", "allkeys", "~x"), ("u", "&*", "&x"), ("u", "+config|get|x"), ("u", "+get|"),
        ("u", "+config|nosuch"), ("u", "%X~k"), ("u", "(~a +get"), ("u", "(+get", "~x"), ("has space", "on"),
        ("u", "~a b"), ("u", "(badop)"),
    ]
    for args in bad:
        r = both.cmd("ACL", "SETUSER", *args)
        assert is_error(r), args
    both.cmd("ACL", "USERS")
    both.cmd("ACL", "DELUSER", "default")
    both.cmd("ACL", "DELUSER", "nosuch", "other")
    both.cmd("ACL", "GENPASS", "0")
    both.cmd("ACL", "GENPASS", "4097")
    both.cmd("ACL", "GENPASS", "x")
    both.cmd("ACL", "CAT", "nosuch")
    both.cmd("ACL", "LOG", "x")
    both.cmd("ACL", "NOSUCH")
    both.cmd("ACL", "DRYRUN", "nouser", "get", "k")
    both.cmd("ACL", "LOAD")
    both.cmd("ACL", "SAVE")
    both.cmd("ACL", "HELP")


def test_genpass_lengths(both):
    for bits, chars in [(None, 64), ("1", 1), ("5", 2), ("128", 32), ("4096", 1024)]:
        args = ("ACL", "GENPASS") + ((bits,) if bits else ())
        for conn in (both.t, both.r):
            kind, v = conn.call(*args)
            assert kind == "$" and len(v) == chars and all(c in b"0123456789abcdef" for c in v), (bits, v)
    assert both.t.call("ACL", "GENPASS")[1] != both.t.call("ACL", "GENPASS")[1]


def test_cat_lists_the_same_commands(both):
    both.cmd("ACL", "CAT")
    tern_commands = set()
    for entry in both.t.call("COMMAND")[1]:
        name = entry[1][0][1].decode()
        tern_commands.add(name)
        for sub in entry[1][9][1]:
            tern_commands.add(sub[1][0][1].decode())
    for cat in [c[1].decode() for c in both.r.call("ACL", "CAT")[1]]:
        t = {x[1].decode() for x in both.t.call("ACL", "CAT", cat)[1]}
        r = {x[1].decode() for x in both.r.call("ACL", "CAT", cat)[1]}
        # Redis lists commands Tern doesn't have yet; of Tern's own, exactly the same ones.
        assert t == r & tern_commands, (cat, sorted(t ^ (r & tern_commands)))


def test_denials_and_log_match_redis(both):
    both.cmd("ACL", "SETUSER", "alice", "on", ">pw", "~app:*", "+@read", "+@write", "-flushall", "&news", "+publish",
             "+subscribe", "+psubscribe")
    (ct, cr), = both.users("alice")
    cases = [
        ("GET", "app:1"), ("GET", "other"), ("SET", "app:1", "v"), ("SET", "app:1", "v", "GET"),
        ("MSET", "app:1", "a", "other", "b"), ("MGET", "app:1", "nope"), ("FLUSHALL",), ("CONFIG", "GET", "port"),
        ("PUBLISH", "news", "m"), ("PUBLISH", "sports", "m"), ("KEYS", "*"), ("ACL", "WHOAMI"), ("DEL", "app:1"),
        ("COPY", "app:1", "other"), ("RENAME", "app:1", "app:2"),
    ]
    for args in cases:
        a, b = ct.call(*args), cr.call(*args)
        assert a == b, (args, a, b)
    for args in [("SUBSCRIBE", "sports"), ("PSUBSCRIBE", "n*"), ("PSUBSCRIBE", "news")]:
        a, b = ct.call(*args), cr.call(*args)
        assert a == b, (args, a, b)
    log_t, log_r = both.t.call("ACL", "LOG"), both.r.call("ACL", "LOG")
    assert len(log_t[1]) == len(log_r[1]) > 0

    def fields(entry):
        d = dict((entry[1][i][1], entry[1][i + 1]) for i in range(0, len(entry[1]), 2))
        cinfo = dict(kv.split(b"=", 1) for kv in d.pop(b"client-info")[1].split(b" "))
        d.pop(b"age-seconds")
        return d, cinfo[b"user"], cinfo[b"cmd"]

    for et, er in zip(log_t[1], log_r[1]):
        assert fields(et) == fields(er)
    two_t, two_r = both.t.call("ACL", "LOG", "2"), both.r.call("ACL", "LOG", "2")
    assert [fields(e) for e in two_t[1]] == [fields(e) for e in two_r[1]] and len(two_r[1]) == 2
    both.cmd("ACL", "LOG", "RESET")
    both.cmd("ACL", "LOG")
    ct.close()
    cr.close()


def test_selectors_first_args_and_dryrun(both):
    both.cmd("ACL", "SETUSER", "sel", "on", ">pw", "+get", "~a:*", "(+set ~b:*)", "(%R~c:* +@read)", "+select|0",
             "+client|id")
    for args in [("get", "a:1"), ("get", "b:1"), ("set", "b:1", "x"), ("set", "a:1", "x"), ("get", "c:1"),
                 ("strlen", "c:1"), ("set", "c:1", "x"), ("select", "0"), ("select", "1"), ("client", "id"),
                 ("client", "list"), ("nosuch",), ("get",), ("client", "nosuch"), ("publish", "ch", "m")]:
        both.cmd("ACL", "DRYRUN", "sel", *args)
    (ct, cr), = both.users("sel")
    for args in [("GET", "b:1"), ("SET", "b:1", "x"), ("SELECT", "0"), ("SELECT", "2"), ("CLIENT", "ID")]:
        a, b = ct.call(*args), cr.call(*args)
        assert (a[0], a[1] if a[0] != ":" else 0) == (b[0], b[1] if b[0] != ":" else 0), (args, a, b)


def test_auth_hello_and_whoami(both):
    both.cmd("ACL", "SETUSER", "u1", "on", ">secret", "+@all", "~*")
    both.cmd("ACL", "SETUSER", "off1", "off", ">secret", "+@all", "~*")
    for protocol in (2, 3):
        ct, cr = both.ts.connect(protocol=protocol), both.rs.connect(protocol=protocol)
        for args in [("AUTH", "u1", "wrong"), ("AUTH", "off1", "secret"), ("AUTH", "nobody", "x"),
                     ("ACL", "WHOAMI"), ("AUTH", "u1", "secret"), ("ACL", "WHOAMI"), ("AUTH", "secret"),
                     ("HELLO", str(protocol), "AUTH", "u1", "bad"), ("HELLO", str(protocol), "AUTH", "default", "x"),
                     ("ACL", "WHOAMI")]:
            a, b = ct.call(*args), cr.call(*args)
            if args[0] == "HELLO":  # the connection ids differ
                a, b = _without_id(a), _without_id(b)
            assert a == b, (protocol, args, a, b)
        ct.close()
        cr.close()
    # An auth failure is an ACL LOG entry with reason auth.
    entries = both.t.call("ACL", "LOG")[1]
    reasons = [dict((e[1][i][1], e[1][i + 1]) for i in range(0, len(e[1]), 2))[b"reason"] for e in entries]
    assert ("$", b"auth") in reasons


def _without_id(reply):
    t, v = reply
    if t == "*":
        return (t, [x for i, x in enumerate(v) if not (i % 2 == 1 and v[i - 1] == ("$", b"id"))])
    if t == "%":
        return (t, [(k, x) for k, x in v if k != ("$", b"id")])
    return reply


def test_deluser_disconnects_its_clients(both):
    both.cmd("ACL", "SETUSER", "temp", "on", ">pw", "+@all", "~*")
    (ct, cr), = both.users("temp")
    both.cmd("ACL", "DELUSER", "temp")
    for c in (ct, cr):
        with pytest.raises((ConnectionClosed, OSError)):
            c.call("PING")
            c.call("PING")
    both.cmd("CLIENT", "KILL", "USER", "temp")
    both.cmd("ACL", "SETUSER", "temp2", "on", ">pw", "+@all", "~*")
    (ct, cr), = both.users("temp2")
    assert both.t.call("CLIENT", "KILL", "USER", "temp2") == both.r.call("CLIENT", "KILL", "USER", "temp2") == (":", 1)
    for c in (ct, cr):
        with pytest.raises((ConnectionClosed, OSError)):
            c.call("PING")
            c.call("PING")


def test_narrowed_channels_disconnect_subscribers(both):
    both.cmd("ACL", "SETUSER", "sub", "on", ">pw", "+@all", "~*", "resetchannels", "&news", "&sports")
    (ct, cr), = both.users("sub")
    (kt, kr), = both.users("sub")
    for c in (ct, cr):
        assert c.call("SUBSCRIBE", "sports")[0] == "*"
    for c in (kt, kr):
        assert c.call("SUBSCRIBE", "news")[0] == "*"
    both.cmd("ACL", "SETUSER", "sub", "resetchannels", "&news")
    for c in (ct, cr):  # subscribed to a channel no longer allowed: disconnected
        with pytest.raises((ConnectionClosed, OSError)):
            c.call("PING")
            c.call("PING")
    for c in (kt, kr):  # still allowed: stays
        assert c.call("PING")[0] == "*"


def test_multi_checks_at_queue_and_at_exec(both):
    both.cmd("ACL", "SETUSER", "tx", "on", ">pw", "+@all", "~*")
    (ct, cr), = both.users("tx")
    for args in [("MULTI",), ("SET", "k", "1"), ("INCR", "k")]:
        assert ct.call(*args) == cr.call(*args)
    both.cmd("ACL", "SETUSER", "tx", "-incr", "resetkeys", "~k")
    for args in [("GET", "other"), ("EXEC",)]:
        a, b = ct.call(*args), cr.call(*args)
        assert a == b, (args, a, b)
    for args in [("MULTI",), ("SET", "k", "2"), ("GET", "k")]:
        assert ct.call(*args) == cr.call(*args)
    both.cmd("ACL", "SETUSER", "tx", "resetkeys", "~z")
    a, b = ct.call("EXEC"), cr.call("EXEC")
    assert a == b, (a, b)
    assert both.t.call("ACL", "LOG")[1] and both.r.call("ACL", "LOG")[1]


def test_requirepass_is_the_default_users_password(both):
    both.cmd("CONFIG", "SET", "requirepass", "s3cret")
    both.cmd("ACL", "GETUSER", "default")
    ct, cr = both.ts.connect(), both.rs.connect()
    for args in [("GET", "k"), ("AUTH", "wrong"), ("AUTH", "s3cret"), ("GET", "k"), ("AUTH", "default", "s3cret")]:
        a, b = ct.call(*args), cr.call(*args)
        assert a == b, (args, a, b)
    both.cmd("CONFIG", "SET", "requirepass", "")
    both.cmd("ACL", "GETUSER", "default")
    a, b = both.t.call("CONFIG", "GET", "acl*"), both.r.call("CONFIG", "GET", "acl*")
    as_dict = lambda r: dict(zip(r[1][::2], r[1][1::2]))  # noqa: E731 (Redis returns its dict's order)
    assert as_dict(a) == as_dict(b) and len(a[1]) == 6
    both.cmd("CONFIG", "SET", "acllog-max-len", "2")
    both.cmd("CONFIG", "SET", "acl-pubsub-default", "allchannels")
    both.cmd("ACL", "SETUSER", "chans", "on")
    both.cmd("ACL", "GETUSER", "chans")
    both.cmd("CONFIG", "SET", "acl-pubsub-default", "resetchannels")
    both.cmd("CONFIG", "SET", "acllog-max-len", "128")
    both.cmd("CONFIG", "SET", "aclfile", "/tmp/x.acl")
    ct.close()
    cr.close()


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def test_aclfile_load_save_and_errors(tmp_path):
    t_file, r_file = str(tmp_path / "tern.acl"), str(tmp_path / "redis.acl")
    content = "user default on nopass ~* &* +@all\nuser app on #%s ~app:* resetchannels -@all +get +set\n" % ("b" * 64)
    _write(t_file, content)
    _write(r_file, content)
    t = make_tern(["--aclfile", t_file]).start()
    r = make_redis_with(["--aclfile", r_file]).start()
    try:
        b = Both(t, r)
        b.cmd("ACL", "LIST")
        b.cmd("ACL", "SETUSER", "new", "on", ">pw", "+@read", "~r:*", "(~s:* +set)")
        b.cmd("ACL", "SAVE")
        assert [norm_rules(line) for line in open(t_file).read().splitlines()] == \
            [norm_rules(line) for line in open(r_file).read().splitlines()]
        # A bad file changes nothing; the error names the file, line and problem.
        bad = "user default on nopass ~* &* +@all\nuser x on +nosuchcmd\nnotauser y\nuser x on\n"
        _write(t_file, bad)
        _write(r_file, bad)
        et, er = b.t.call("ACL", "LOAD"), b.r.call("ACL", "LOAD")
        assert et[0] == er[0] == "-"
        assert et[1].replace(t_file.encode(), b"F") == er[1].replace(r_file.encode(), b"F"), (et, er)
        b.cmd("ACL", "USERS")
        # A good file replaces the users.
        good = "user default on nopass ~* &* +@all\nuser only on >pw ~* +@all\n"
        _write(t_file, good)
        _write(r_file, good)
        b.cmd("ACL", "LOAD")
        b.cmd("ACL", "LIST")
        b.close()
    finally:
        t.cleanup()
        r.cleanup()


def test_user_lines_in_config_and_their_errors(tmp_path):
    conf = tmp_path / "tern.conf"
    conf.write_text("user default on >dpw ~* &* +@all\nuser reader on >rpw ~* +@read\n")
    # The config file first, then the harness's command-line directives (as redis-server takes them).
    from conftest import TERN_BIN, backend_args
    t = ServerProcess("tern", lambda port: [TERN_BIN, str(conf), "--port", str(port), "--bind", "127.0.0.1",
                                            *backend_args()])
    t.start()
    try:
        c = t.connect()
        assert c.call("GET", "k")[1].startswith(b"NOAUTH")
        assert c.call("AUTH", "reader", "rpw") == ("+", b"OK")
        assert c.call("SET", "k", "v") == ("-", b"NOPERM this user has no permissions to run the 'set' command")
        assert c.call("GET", "k") == ("$", None)
        c.close()
    finally:
        t.cleanup()
    import subprocess
    for text, needle in [("user bad on +nosuch\n", b"Unknown command or category name in ACL"),
                         ("user bad on (~x\n", b"Unmatched parenthesis"),
                         ("user bad on badrule\n", b"Error in user declaration 'badrule': Syntax error"),
                         ("user a on\nuser a off\n", b"Duplicate user"),
                         ("user a on #zz\n", b"password hash must be exactly 64")]:
        conf.write_text(text)
        p = subprocess.run([TERN_BIN, str(conf), "--port", "0"], capture_output=True, timeout=30)
        assert p.returncode != 0 and needle in p.stdout + p.stderr, (text, p.stdout, p.stderr)
    conf.write_text("user a on\naclfile %s\n" % (tmp_path / "x.acl"))
    p = subprocess.run([TERN_BIN, str(conf), "--port", "0"], capture_output=True, timeout=30)
    assert p.returncode != 0 and b"either an ACL file or declare users" in p.stdout + p.stderr


def _wait(cond, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for %s" % what)


def _info(conn, section):
    text = conn.call("INFO", section)[1].decode()
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


@pytest.mark.parametrize("direction", ["stock_replica_of_tern", "tern_replica_of_stock"])
def test_replication_with_an_acl_user(direction):
    rules = ["user default on nopass ~* &* +@all", "user repl on >rpw +psync +replconf +ping"]
    if direction == "stock_replica_of_tern":
        master = make_tern().start()
        replica_proc = make_redis_with(["--masteruser", "repl", "--masterauth", "rpw"])
    else:
        master = make_redis_with().start()
        replica_proc = make_tern(["--masteruser", "repl", "--masterauth", "rpw"])
    replica = None
    try:
        m = master.connect()
        assert m.call("ACL", "SETUSER", "repl", "on", ">rpw", "+psync", "+replconf", "+ping") == ("+", b"OK")
        assert m.call("SET", "before", "1") == ("+", b"OK")
        replica = replica_proc.start()
        rc = replica.connect()
        rc.call("REPLICAOF", "127.0.0.1", str(master.port))
        _wait(lambda: _info(rc, "replication").get("master_link_status") == "up", what="link up")
        m.call("SET", "after", "2")
        _wait(lambda: rc.call("GET", "after") == ("$", b"2"), what="stream")
        assert rc.call("GET", "before") == ("$", b"1")
        # The replication user can't run anything else on the master.
        u = master.connect()
        assert u.call("AUTH", "repl", "rpw") == ("+", b"OK")
        assert u.call("GET", "before")[1].startswith(b"NOPERM")
        u.close()
        # A wrong password: the master logs the failed AUTH (a positive event), and the link stays down.
        rc.call("CONFIG", "SET", "masterauth", "wrong")
        m.call("ACL", "LOG", "RESET")
        rc.call("CLIENT", "KILL", "TYPE", "master")

        def auth_failed():
            for e in m.call("ACL", "LOG")[1]:
                d = dict((e[1][i][1], e[1][i + 1]) for i in range(0, len(e[1]), 2))
                if d[b"reason"] == ("$", b"auth") and d[b"username"] == ("$", b"repl"):
                    return True
            return False
        _wait(auth_failed, what="the master to refuse the wrong password")
        assert _info(rc, "replication").get("master_link_status") == "down"
        m.call("SET", "marker", "4")
        rc.call("CONFIG", "SET", "masterauth", "rpw")
        _wait(lambda: rc.call("GET", "marker") == ("$", b"4"), what="resumed stream")
        rc.close()
        m.close()
    finally:
        if replica is not None:
            replica.cleanup()
        master.cleanup()
