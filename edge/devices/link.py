"""The node's MQTT client on the station broker: feeds device states in, sends commands out."""

from __future__ import annotations

import logging
import threading
from typing import Any

import paho.mqtt.client as mqtt

from edge.devices.config import DevicesConfig, RulesConfig, StationBrokerConfig
from edge.devices.holds import FireHolds
from edge.devices.model import DeviceRegistry, DoorLock, Environment, Relays
from edge.devices.rules import DeviceEventSink, SafetyRules
from station.mqtt import BrokerLogin, make_client, stop_loop

log = logging.getLogger(__name__)


class StationDevices:
    """The typed devices of one station, built from the `devices` configuration."""

    def __init__(self, config: DevicesConfig) -> None:
        """Create the devices; nothing connects before a DeviceLink starts."""
        self.config = config
        self.link = DeviceLink(config.broker)
        send = self.link.send
        timeout = config.command_timeout_s
        self.door = DoorLock(config.door, send, timeout_s=timeout)
        self.environment = Environment(config.environment)
        self.sockets = Relays(config.sockets, config.socket_names, send, metered=True)
        self.fan = Relays(config.fan, ["fan"], send)
        devices = [self.door, self.environment, self.sockets, self.fan]
        self.registry = DeviceRegistry(devices)
        self.link.registry = self.registry

    def start(self, timeout_s: float = 10.0) -> bool:
        """Connect to the station broker; True once subscribed within `timeout_s`."""
        return self.link.start(timeout_s)

    def stop(self) -> None:
        """Disconnect."""
        self.link.stop()


class DeviceLink:
    """A paho client on the station broker; reconnects by itself and subscribes again."""

    def __init__(self, config: StationBrokerConfig) -> None:
        """Prepare the client; `registry` must be set before start()."""
        self._config = config
        self.registry: DeviceRegistry | None = None
        self._subscribed = threading.Event()
        self._stopping = False
        password = config.password.get_secret_value() if config.password else None
        login = BrokerLogin(config.host, config.port, config.username, password, config.tls_ca_file)
        # ESPHome and Tasmota speak MQTT 3.1.1; the node meets them there.
        self._client = make_client(login, v5=False, clean_session=True, reconnect_s=(1, 10))
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.on_disconnect = self._on_disconnect

    def start(self, timeout_s: float = 10.0) -> bool:
        """Connect in the background and wait up to `timeout_s` for the subscription."""
        if self.registry is None:
            raise RuntimeError("DeviceLink.registry must be set before start()")
        self._client.connect_async(self._config.host, self._config.port, self._config.keepalive_s)
        self._client.loop_start()
        return self._subscribed.wait(timeout_s)

    def stop(self) -> None:
        """Disconnect and stop the network thread."""
        self._stopping = True
        self._client.disconnect()
        stop_loop(self._client)

    def send(self, topic: str, payload: str) -> None:
        """Publish a command: QoS 1, never retained (a retained unlock would replay)."""
        if not self._client.is_connected():
            # Dropped, not queued: an unlock sent minutes late would open the door to nobody.
            # The rules re-assert their safe state from the retained states on reconnect.
            log.warning("command on %s dropped: station broker not connected", topic)
            return
        info = self._client.publish(topic, payload, qos=1, retain=False)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            log.warning("command on %s not sent (rc=%s)", topic, info.rc)

    def _on_connect(
        self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            log.warning("station broker refused the connection: %s", reason)
            return
        assert self.registry is not None
        client.subscribe([(topic, 1) for topic in self.registry.subscriptions()])
        self._subscribed.set()
        log.info("connected to the station broker")

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        self._subscribed.clear()
        if not self._stopping:
            log.warning("station broker link down: %s", reason)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        assert self.registry is not None
        self.registry.handle(msg.topic, bytes(msg.payload), retained=bool(msg.retain))


class LocalSafety:
    """The station's devices and the safety rules on them, started and stopped together."""

    def __init__(
        self,
        devices: DevicesConfig,
        rules: RulesConfig,
        emit: DeviceEventSink,
        holds: FireHolds | None = None,
    ) -> None:
        """Wire the rules to the devices; start() connects. `holds` keeps camera fires across
        a restart."""
        self.devices = StationDevices(devices)
        self.holds = holds
        self.rules = SafetyRules(
            config=rules,
            door=self.devices.door,
            environment=self.devices.environment,
            sockets=self.devices.sockets,
            fan=self.devices.fan,
            emit=emit,
            holds=holds,
        )
        self.devices.registry.listen(self.rules.on_change)

    def start(self, timeout_s: float = 10.0) -> bool:
        """Start the rules, then connect; True once subscribed (it keeps trying if not)."""
        self.rules.start()
        connected = self.devices.start(timeout_s)
        if not connected and timeout_s > 0:
            log.warning("station broker not reachable yet; the device link keeps trying")
        return connected

    def stop(self) -> None:
        """Disconnect and stop the rules."""
        self.devices.stop()
        self.rules.stop()
        if self.holds is not None:
            self.holds.close()
