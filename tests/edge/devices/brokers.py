"""Start the shipped broker configurations with a test's own paths, ports, users and CA."""

from __future__ import annotations

import getpass
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from devkit.localbroker import LocalBroker, free_port

FIRMWARE = Path(__file__).resolve().parents[3] / "firmware-configs"


@dataclass(frozen=True)
class TlsFiles:
    """A CA and a broker certificate signed by it, for 127.0.0.1/localhost."""

    ca: Path
    cert: Path
    key: Path


def make_ca(folder: Path) -> TlsFiles:
    """Create a self-signed CA and a broker certificate with the openssl command."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key, csr, cert = (
        folder / n for n in ("ca.key", "ca.pem", "broker.key", "broker.csr", "broker.pem")
    )

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
        "-keyout", str(ca_key), "-out", str(ca))  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
        "-keyout", str(key), "-out", str(csr))  # fmt: skip
    ext = folder / "san.ext"
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(cert))  # fmt: skip
    return TlsFiles(ca, cert, key)


def make_passwords(path: Path, users: dict[str, str]) -> None:
    """Write a mosquitto password file with mosquitto_passwd."""
    path.unlink(missing_ok=True)
    for user, password in users.items():
        flags = ["-b"] if path.exists() else ["-c", "-b"]
        subprocess.run(
            ["mosquitto_passwd", *flags, str(path), user, password], check=True, capture_output=True
        )


def shipped_broker(
    name: str, workdir: Path, users: dict[str, str], tls: TlsFiles
) -> tuple[LocalBroker, int]:
    """Run firmware-configs/mosquitto/<name>.conf and .acl as shipped, paths swapped for tmp."""
    workdir.mkdir(parents=True, exist_ok=True)
    make_passwords(workdir / "passwd", users)
    port, tls_port = free_port(), free_port()
    text = (FIRMWARE / "mosquitto" / f"{name}.conf").read_text()
    swaps = {
        r"^password_file .*$": f"password_file {workdir / 'passwd'}",
        r"^acl_file .*$": f"acl_file {FIRMWARE / 'mosquitto' / f'{name}.acl'}",
        r"^listener 8883$": f"listener {tls_port} 127.0.0.1",
        r"^listener 1883 127\.0\.0\.1$": f"listener {port} 127.0.0.1",
        r"^cafile .*$": f"cafile {tls.ca}",
        r"^certfile .*$": f"certfile {tls.cert}",
        r"^keyfile .*$": f"keyfile {tls.key}",
        r"^persistence_location .*$": f"persistence_location {workdir}/",
        r"^log_dest syslog$": f"log_dest file {workdir / 'mosquitto.log'}",
    }
    for pattern, line in swaps.items():
        text, count = re.subn(pattern, line, text, flags=re.MULTILINE)
        assert count == 1, f"{name}.conf has no line matching {pattern}"
    # As root mosquitto would switch to a user that cannot read the test's files.
    text += f"\nuser {getpass.getuser()}\n"
    return LocalBroker(workdir, port=port, config_text=text), tls_port
