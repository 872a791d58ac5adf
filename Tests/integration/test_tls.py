"""TLS as Redis 7.0 has it: a tls-port listener (client certificates required, optional or not asked),
redis-cli and redis-py over TLS, TLS replication with a stock Redis on either side, bad certificates and
garbage on the TLS port. Certificates are made per run with openssl (CA and server with different subjects)."""

import os
import socket
import ssl
import subprocess
import time

import pytest
import redis

from conftest import REDIS_BIN, ServerProcess, TERN_BIN, backend_args, free_port, make_tern, redis_argv


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _make_cert(d, name, ca, subject):
    _openssl("genrsa", "-out", name + ".key", "2048", cwd=d)
    _openssl("req", "-new", "-key", name + ".key", "-subj", subject, "-out", name + ".csr", cwd=d)
    _openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key", "-CAcreateserial",
             "-days", "2", "-sha256", "-out", name + ".crt", cwd=d)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("tls"))
    for ca in ("ca", "otherca"):
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca + ".key", "-out", ca + ".crt",
                 "-days", "2", "-subj", "/O=Tern test/CN=%s" % ca, cwd=d)
    _make_cert(d, "server", "ca", "/O=Tern test/CN=127.0.0.1")
    _make_cert(d, "client", "ca", "/O=Tern test/CN=client")
    _make_cert(d, "stranger", "otherca", "/O=Tern test/CN=stranger")
    return {k: os.path.join(d, k) for k in ("ca", "otherca", "server", "client", "stranger")}


def tls_args(c, port, auth="yes", extra=()):
    return ["--tls-port", str(port), "--tls-cert-file", c["server"] + ".crt", "--tls-key-file", c["server"] + ".key",
            "--tls-ca-cert-file", c["ca"] + ".crt", "--tls-auth-clients", auth, *extra]


def tern_tls(c, auth="yes", extra=()):
    p = ServerProcess("tern", lambda port: [TERN_BIN, "--port", str(port), "--bind", "127.0.0.1", *backend_args(),
                                            *tls_args(c, p.tls_port, auth, extra)])
    p.tls_port = free_port()
    return p


def redis_tls(c, extra=()):
    p = ServerProcess("redis", lambda port: redis_argv(port) + tls_args(c, p.tls_port, "yes", extra),
                      executable=REDIS_BIN)
    p.tls_port = free_port()
    return p


def client(port, c, cert="client", **kw):
    args = dict(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=c["ca"] + ".crt", ssl_check_hostname=False,
                socket_timeout=10, protocol=2)
    if cert:
        args.update(ssl_certfile=c[cert] + ".crt", ssl_keyfile=c[cert] + ".key")
    args.update(kw)
    return redis.Redis(**args)


def _wait(cond, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for %s" % what)


def test_clients_over_tls(certs):
    t = tern_tls(certs).start()
    try:
        r = client(t.tls_port, certs)
        assert r.set("k", "v") and r.get("k") == b"v"
        r3 = client(t.tls_port, certs, protocol=3)
        assert r3.incr("n") == 1 and r3.hset("h", mapping={"a": "1"}) == 1 and r3.hgetall("h") == {b"a": b"1"}
        big = os.urandom(3 * 1024 * 1024)
        assert r.set("big", big) and r.get("big") == big
        out = subprocess.run(["redis-cli", "-p", str(t.tls_port), "--tls", "--cacert", certs["ca"] + ".crt",
                              "--cert", certs["client"] + ".crt", "--key", certs["client"] + ".key", "get", "k"],
                             capture_output=True, timeout=30)
        assert out.stdout.strip() == b"v", out
        # The plain port serves the same data.
        assert redis.Redis(port=t.port, protocol=2).get("k") == b"v"
    finally:
        t.cleanup()


def test_client_certificates_checked_as_redis(certs):
    for auth, no_cert_ok in [("yes", False), ("optional", True), ("no", True)]:
        t = tern_tls(certs, auth=auth).start()
        rs = redis_tls(certs, extra=["--tls-auth-clients", auth]).start()
        try:
            for server in (t, rs):
                assert client(server.tls_port, certs).ping()
                if no_cert_ok:
                    assert client(server.tls_port, certs, cert=None).ping()
                else:
                    with pytest.raises((redis.ConnectionError, ssl.SSLError, OSError)):
                        client(server.tls_port, certs, cert=None).ping()
                # A certificate another CA signed is refused unless certificates aren't asked for at all.
                if auth == "no":
                    assert client(server.tls_port, certs, cert="stranger").ping()
                else:
                    with pytest.raises((redis.ConnectionError, ssl.SSLError, OSError)):
                        client(server.tls_port, certs, cert="stranger").ping()
            assert t.alive()
        finally:
            t.cleanup()
            rs.cleanup()


def test_garbage_and_plaintext_on_the_tls_port(certs):
    t = tern_tls(certs).start()
    try:
        for payload in [b"PING\r\n", b"*1\r\n$4\r\nPING\r\n", os.urandom(4096), b"\x16\x03\x01\xff\xff" + b"A" * 100]:
            with socket.create_connection(("127.0.0.1", t.tls_port), timeout=5) as s:
                s.sendall(payload)
                try:
                    s.settimeout(5)
                    while s.recv(4096):
                        pass
                except (ConnectionResetError, socket.timeout):
                    pass
        # A client whose handshake stops half-way: the server keeps serving others.
        half = socket.create_connection(("127.0.0.1", t.tls_port), timeout=5)
        half.sendall(b"\x16\x03\x01")
        assert client(t.tls_port, certs).ping()
        half.close()
        assert t.alive() and redis.Redis(port=t.port, protocol=2).ping()
    finally:
        t.cleanup()


def test_bad_certificate_configuration_stops_startup(certs, tmp_path):
    garbage = tmp_path / "garbage.pem"
    garbage.write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    cases = [
        ["--tls-cert-file", str(tmp_path / "missing.crt")],
        ["--tls-cert-file", str(garbage)],
        ["--tls-key-file", certs["client"] + ".key"],  # a key that doesn't match the certificate
        ["--tls-ca-cert-file", str(tmp_path / "missing-ca.crt")],
        ["--tls-protocols", "SSLv3"],
        ["--tls-dh-params-file", str(garbage)],
        ["--tls-ciphersuites", "TLS_AES_128_GCM_SHA256"],
    ]
    for override in cases:
        args = tls_args(certs, free_port())
        for i in range(0, len(override), 2):
            j = args.index(override[i]) if override[i] in args else None
            if j is None:
                args += override[i:i + 2]
            else:
                args[j + 1] = override[i + 1]
        p = subprocess.run([TERN_BIN, "--port", str(free_port()), "--bind", "127.0.0.1", *args],
                           capture_output=True, timeout=30)
        out = p.stdout + p.stderr
        assert p.returncode != 0 and b"Failed to configure TLS" in out, (override, out[-800:])
    # No tls-key-file: Redis's own message.
    p = subprocess.run([TERN_BIN, "--port", str(free_port()), "--tls-port", str(free_port()),
                        "--tls-cert-file", certs["server"] + ".crt"], capture_output=True, timeout=30)
    assert p.returncode != 0 and b"No tls-key-file configured!" in p.stdout + p.stderr


def test_config_set_tls_files(certs, tmp_path):
    t = tern_tls(certs).start()
    try:
        admin = redis.Redis(port=t.port, protocol=2)
        with pytest.raises(redis.ResponseError, match="Unable to update TLS configuration"):
            admin.config_set("tls-cert-file", str(tmp_path / "missing.crt"))
        assert admin.config_get("tls-cert-file")["tls-cert-file"] == certs["server"] + ".crt"
        assert client(t.tls_port, certs).ping()
        admin.config_set("tls-auth-clients", "no")
        assert client(t.tls_port, certs, cert=None).ping()
        admin.config_set("tls-auth-clients", "yes")
        with pytest.raises((redis.ConnectionError, ssl.SSLError, OSError)):
            client(t.tls_port, certs, cert=None).ping()
        with pytest.raises(redis.ResponseError):
            admin.config_set("tls-port", "1234")
    finally:
        t.cleanup()


def _replication_args(c):
    return ["--tls-replication", "yes"]


@pytest.mark.parametrize("direction", ["stock_replica_of_tern", "tern_replica_of_stock"])
def test_tls_replication_with_stock_redis(certs, direction):
    if direction == "stock_replica_of_tern":
        master, replica = tern_tls(certs), redis_tls(certs, extra=_replication_args(certs))
    else:
        master, replica = redis_tls(certs), tern_tls(certs, extra=_replication_args(certs))
    master.start()
    try:
        m = redis.Redis(port=master.port, protocol=2)
        m.set("before", "1")
        replica.start()
        rc = redis.Redis(port=replica.port, protocol=2)
        rc.execute_command("REPLICAOF", "127.0.0.1", str(master.tls_port))
        _wait(lambda: rc.info("replication").get("master_link_status") == "up", what="TLS link up")
        m.set("after", "2")
        _wait(lambda: rc.get("after") == b"2", what="the stream over TLS")
        assert rc.get("before") == b"1"
        # The master sees the replica on its TLS port.
        slaves = [v for k, v in m.info("replication").items() if k.startswith("slave")]
        assert slaves and int(slaves[0]["port"]) == replica.tls_port, slaves
    finally:
        if replica.proc is not None:
            replica.cleanup()
        master.cleanup()


def test_replica_refuses_a_master_with_an_untrusted_certificate(certs):
    # The master presents a certificate of another CA: the Tern replica's link never comes up.
    bad = {**certs, "server": certs["stranger"]}
    master = redis_tls(bad, extra=["--tls-auth-clients", "no"]).start()
    replica = tern_tls(certs, extra=["--tls-replication", "yes"]).start()
    try:
        rc = redis.Redis(port=replica.port, protocol=2)
        rc.execute_command("REPLICAOF", "127.0.0.1", str(master.tls_port))
        # Wait for a positive event: the replica has tried and logged the failure; the link is still down.
        _wait(lambda: open(replica.log_path, "rb").read().count(b"Master link failed") >= 2, what="failed attempts")
        assert rc.info("replication").get("master_link_status") == "down"
        assert replica.alive()
    finally:
        replica.cleanup()
        master.cleanup()
