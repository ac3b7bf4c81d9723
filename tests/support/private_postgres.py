"""A PostgreSQL cluster of the test's own, on a free port, that the test may kill -9 and start
again (crash recovery and all) without touching the machine's shared server."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from devkit.localbroker import free_port


def _bin_dir() -> Path:
    """The newest installed PostgreSQL server's binaries (Debian's layout, then PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=_major)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("postgres")
    if on_path is None:
        raise FileNotFoundError("no PostgreSQL server (scripts/bootstrap.sh installs it)")
    return Path(on_path).parent


def _major(path: str) -> int:
    return int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0


def _as_postgres(command: list[str]) -> list[str]:
    # The server refuses to run as root; CI runs as root.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class PrivatePostgres:
    """initdb once, then start / kill -9 / start on the same data folder and port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="uws-pg-"))
        self._bin = _bin_dir()
        self._proc: subprocess.Popen[bytes] | None = None
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        data = str(self.folder / "data")
        initdb = [str(self._bin / "initdb"), "-D", data, "-A", "trust", "-U", "postgres"]
        subprocess.run(_as_postgres([*initdb, "-E", "UTF8"]), check=True, capture_output=True)

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of a database on this cluster."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create a database; return its SQLAlchemy URL."""
        admin = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def start(self) -> None:
        """Start the server (after a kill -9 it recovers from its WAL first)."""
        for attempt in range(3):
            proc = self._spawn()
            if self._listening(proc, deadline=time.monotonic() + 60):
                self._proc = proc
                return
            # A postmaster that exits at once (a backend of the killed one still holding
            # its shared memory, say) is worth one more try; its log says why.
            self._proc = proc
            self.kill()
            time.sleep(1.0 + attempt)
        raise RuntimeError(f"PostgreSQL did not start:\n{self._log_tail()}")

    def _spawn(self) -> subprocess.Popen[bytes]:
        server = [str(self._bin / "postgres"), "-D", str(self.folder / "data")]
        server += ["-p", str(self.port), "-k", str(self.folder), "-c", "listen_addresses=127.0.0.1"]
        with (self.folder / "server.log").open("ab") as log:
            # Its own session, so kill -9 takes the postmaster and every backend at once.
            # Started as the postmaster's own parent (not through runuser) so that after a
            # kill -9 this process reaps it: a zombie postmaster keeps its PID alive, and a
            # new one refuses to start beside the PID in postmaster.pid.
            return subprocess.Popen(
                server,
                stdout=log,
                stderr=log,
                start_new_session=True,
                user="postgres" if os.geteuid() == 0 else None,
                group="postgres" if os.geteuid() == 0 else None,
                extra_groups=[] if os.geteuid() == 0 else None,
            )

    def _listening(self, proc: subprocess.Popen[bytes], deadline: float) -> bool:
        """Whether the server came to take queries (crash recovery done) before it exited."""
        admin = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with psycopg.connect(admin, connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return True
            except psycopg.OperationalError:
                time.sleep(0.1)
        return False

    def _log_tail(self) -> str:
        lines = (self.folder / "server.log").read_text(errors="replace").splitlines()
        return "\n".join(lines[-20:])

    def kill(self) -> None:
        """kill -9 the server and all its backends, as a crash would, and wait till all are gone."""
        if self._proc is None:
            return
        group = self._proc.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
        self._proc.wait()
        self._proc = None
        # A backend still exiting holds the shared memory a new postmaster refuses to share.
        deadline = time.monotonic() + 10
        while _live_members(group) and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        """Kill the server and remove its folder."""
        self.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


def _live_members(group: int) -> list[int]:
    """Processes of a process group that have not yet exited (zombies count as gone)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces; the fields follow it.
        fields = text[text.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[2]) == group:
            found.append(int(stat.parent.name))
    return found
