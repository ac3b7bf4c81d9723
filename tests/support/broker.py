"""The tests' broker is the same local Mosquitto runner the demo uses."""

from devkit.localbroker import LocalBroker as MosquittoBroker
from devkit.localbroker import free_port, wait_for_port

__all__ = ["MosquittoBroker", "free_port", "wait_for_port"]
