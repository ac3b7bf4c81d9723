"""The one way this project builds a paho client: node uplink, station devices and ingest.

Every client here speaks paho's v2 callback API, logs in the same way, turns Nagle off
(acks and commands are tiny packets that Nagle's algorithm would hold ~40 ms) and
reconnects by itself within the bounds its caller chooses.
"""

from __future__ import annotations

import logging
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BrokerLogin:
    """How to reach and log in to one broker."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls_ca_file: Path | str | None = None


@dataclass(frozen=True)
class LastWill:
    """What the broker publishes for a client whose link dies without a DISCONNECT."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


def no_delay(_client: mqtt.Client, _userdata: object, sock: object) -> None:
    """Turn Nagle's algorithm off on the client's socket (paho's on_socket_open hook)."""
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def make_client(
    login: BrokerLogin,
    *,
    client_id: str = "",
    v5: bool = True,
    clean_session: bool | None = None,
    manual_ack: bool = False,
    will: LastWill | None = None,
    reconnect_s: tuple[int, int] = (1, 10),
) -> mqtt.Client:
    """Return a configured, unconnected paho client; the caller wires callbacks and connects."""
    protocol = mqtt.MQTTv5 if v5 else mqtt.MQTTv311
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=protocol,
        # MQTT 5 sets the session in CONNECT's properties; 3.1.1 takes it here.
        clean_session=None if v5 else (True if clean_session is None else clean_session),
        manual_ack=manual_ack,
    )
    if login.username:
        client.username_pw_set(login.username, login.password)
    if login.tls_ca_file is not None:
        client.tls_set(ca_certs=str(login.tls_ca_file))
    if will is not None:
        client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
    client.reconnect_delay_set(min_delay=reconnect_s[0], max_delay=reconnect_s[1])
    client.on_socket_open = no_delay
    return client


def stop_loop(client: mqtt.Client, timeout_s: float = 5.0) -> bool:
    """Stop the client's network thread, waiting at most `timeout_s`; False if it is still
    running then (stuck in a DNS lookup or a connect, say: paho's own loop_stop would wait
    for it without end, and with it whatever process is stopping)."""
    stopper = threading.Thread(target=client.loop_stop, name="mqtt-loop-stop", daemon=True)
    stopper.start()
    stopper.join(timeout_s)
    if stopper.is_alive():
        log.warning("MQTT network thread still busy after %.1f s; left behind", timeout_s)
        return False
    return True
