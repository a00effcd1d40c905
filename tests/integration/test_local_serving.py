"""The local stack's HTTP server: kept-alive connections, resets, and errors that never leak a traceback."""

from __future__ import annotations

import http.client
import json

import pytest
from werkzeug.wrappers import Request, Response

from local.serving import HttpServer, Reset


@Request.application
def echo(request: Request) -> Response:
    if request.path == "/reset":
        raise Reset
    if request.path == "/boom":
        raise RuntimeError("secret detail")
    if request.path == "/stream":
        return Response(iter([b"one,", b"two"]))  # no length known: the connection must end the body
    return Response(json.dumps({"path": request.path, "body": request.get_data(as_text=True)}))


@pytest.fixture
def server():
    http_server = HttpServer(echo, "serving-test").start()
    yield http_server
    http_server.stop()


def connect(server: HttpServer) -> http.client.HTTPConnection:
    host, port = server.url.removeprefix("http://").split(":")
    return http.client.HTTPConnection(host, int(port), timeout=5)


def test_one_connection_carries_a_post_and_the_next_request(server):
    conn = connect(server)
    conn.request("POST", "/first", body=b'{"q": "x"}', headers={"Content-Type": "application/json"})
    first = conn.getresponse()
    assert json.loads(first.read()) == {"path": "/first", "body": '{"q": "x"}'}
    sock = conn.sock
    assert sock is not None, "the server closed a connection it could have kept"

    conn.request("GET", "/second")
    second = conn.getresponse()
    assert json.loads(second.read()) == {"path": "/second", "body": ""}
    assert conn.sock is sock  # the same socket: no reconnect in between
    conn.close()


def test_a_body_without_a_length_ends_with_the_connection(server):
    conn = connect(server)
    conn.request("GET", "/stream")
    response = conn.getresponse()
    assert response.read() == b"one,two"
    assert response.getheader("Connection") == "close"
    conn.close()


def test_a_reset_on_a_kept_alive_connection_answers_nothing(server):
    conn = connect(server)
    conn.request("GET", "/ok")
    conn.getresponse().read()
    conn.request("GET", "/reset")
    with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected)):
        conn.getresponse()
    conn.close()


def test_an_app_error_is_a_bare_500_and_the_server_keeps_serving(server):
    conn = connect(server)
    conn.request("GET", "/boom")
    response = conn.getresponse()
    body = response.read()
    assert response.status == 500
    assert b"secret detail" not in body
    assert b"Traceback" not in body
    conn.close()

    again = connect(server)
    again.request("GET", "/after")
    assert again.getresponse().status == 200
    again.close()
