"""Loading and validating the edge YAML file."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import EdgeConfig, load_config
from edge.errors import ConfigError
from vision.roles import Role

GOOD = """
node_id: demo-node-1
cloud: {host: broker.example, port: 8883, username: node1, password: s3cret, tls_ca_file: ca.pem}
camera: {id: main, source: clips/people1.mp4, loop: true, realtime: true, max_fps: 5}
detector: {model: models/yolov8n_int8.tflite, imgsz: 640, confidence: 0.4, roles: {Fall: fallen}}
analysis:
  hazards: [person]
  zone: room
  polygon: [[0, 0], [1, 0], [1, 1], [0, 1]]
  presence: {confirm_s: 1.0, clear_s: 3.0, update_every_s: 10}
outbox: {path: var/edge/outbox.sqlite}
health: {interval_s: 30}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "edge.yaml"
    path.write_text(text)
    return path


def test_good_file_loads_with_paths_relative_to_it(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert isinstance(config, EdgeConfig)
    assert config.node_id == "demo-node-1"
    assert config.camera.source == str(tmp_path / "clips" / "people1.mp4")
    assert config.detector.model == tmp_path / "models" / "yolov8n_int8.tflite"
    assert config.detector.roles == {"Fall": Role.FALLEN}
    assert config.outbox.path == tmp_path / "var" / "edge" / "outbox.sqlite"
    assert config.cloud.tls_ca_file == tmp_path / "ca.pem"
    assert config.analysis.polygon[1] == (1.0, 0.0)
    assert config.analysis_for(config.camera) == config.analysis


def test_password_never_shows_in_repr(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config.cloud.password is not None
    assert config.cloud.password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(config)
    assert "s3cret" not in str(config.model_dump())


@pytest.mark.parametrize(
    ("source", "expected"),
    [("0", 0), ("'1'", 1), ("rtsp://user:pw@cam/stream", "rtsp://user:pw@cam/stream")],
)
def test_devices_and_urls_are_not_paths(tmp_path: Path, source: str, expected: str | int) -> None:
    config = load_config(write(tmp_path, GOOD.replace("clips/people1.mp4", source)))
    assert config.camera.source == expected
    assert not config.camera.is_file


def test_bad_value_names_file_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("confidence: 0.4", "confidence: 7"))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert str(path) in message
    assert "detector.confidence" in message
    assert "less than or equal to 1" in message


def test_extra_field_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("max_fps: 5", "max_fps: 5, fps_max: 3"))
    with pytest.raises(ConfigError, match=r"camera\.fps_max: Extra inputs are not permitted"):
        load_config(path)


def test_missing_required_field_is_named(tmp_path: Path) -> None:
    text = "\n".join(line for line in GOOD.splitlines() if not line.startswith("detector:"))
    with pytest.raises(ConfigError, match=r"detector: Field required"):
        load_config(write(tmp_path, text))


def test_bad_node_id_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="node_id"):
        load_config(write(tmp_path, GOOD.replace("demo-node-1", "node/+/x")))


def test_bad_polygon_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("[1, 0], [1, 1]", "[1.5, 0], [1, 1]"))
    with pytest.raises(ConfigError, match=r"analysis\.polygon\.1\.0"):
        load_config(path)


def test_broken_yaml_is_a_clear_error(tmp_path: Path) -> None:
    path = write(tmp_path, "node_id: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML") as caught:
        load_config(path)
    assert str(path) in str(caught.value)


def test_missing_file_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(write(tmp_path, "- just\n- a list\n"))


ENTRY = """
devices: {broker: {host: 127.0.0.1}}
entry:
  policy:
    station_id: st-1
    public_key: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
    state_path: e.db
  duty_url: http://127.0.0.1:8000
  duty_token: TOKEN
"""


@pytest.mark.parametrize("token", ["dev-token", "uwss_a-staff-sign-in", "UWM1.a.b", "admin"])
def test_the_node_refuses_any_token_but_its_own_node_credential(tmp_path: Path, token: str) -> None:
    with pytest.raises(ConfigError, match="never an admin, service or user token"):
        load_config(write(tmp_path, GOOD + ENTRY.replace("TOKEN", token)))
    config = load_config(write(tmp_path, GOOD + ENTRY.replace("TOKEN", "uwsn_its-own")))
    assert config.entry is not None
    assert config.entry.duty_token.get_secret_value() == "uwsn_its-own"


def _enrolled(tmp_path: Path) -> str:
    """Write an enrolment's credentials file; return the YAML that names it."""
    from edge.enrol import NodeCredentials, write_credentials

    held = NodeCredentials.model_validate(
        {
            "node_id": "demo-node-1",
            "station_id": "st-7",
            "duty_url": "https://duty.example",
            "duty_token": "uwsn_secret",
            "broker_username": "demo-node-1",
            "broker_password": "broker-secret",
            "entry_public_keys": ["B" * 43],
        }
    )
    write_credentials(tmp_path / "creds.yaml", held)
    text = GOOD.replace("node_id: demo-node-1\n", "credentials: creds.yaml\n")
    return text.replace(", username: node1, password: s3cret", "")


def test_an_enrolled_node_takes_model_updates_from_the_cloud_it_enrolled_with(
    tmp_path: Path,
) -> None:
    config = load_config(write(tmp_path, _enrolled(tmp_path)))
    assert config.rollout is not None
    assert config.rollout.duty_url == "https://duty.example"
    assert config.rollout.duty_token.get_secret_value() == "uwsn_secret"
    # The section's own defaults, the download folder beside the YAML like every path.
    assert (config.rollout.poll_s, config.rollout.tls_ca_file) == (300.0, None)
    assert config.rollout.dir == tmp_path / "var" / "models"
    # What the YAML sets stays; the credentials fill only the rest.
    own = "rollout: {poll_s: 60, rollback: {min_fps_ratio: 0.5}}\n"
    config = load_config(write(tmp_path, _enrolled(tmp_path) + own))
    assert config.rollout is not None
    assert (config.rollout.poll_s, config.rollout.rollback.min_fps_ratio) == (60.0, 0.5)
    assert config.rollout.duty_url == "https://duty.example"
    # Turned off explicitly: no model updates.
    config = load_config(write(tmp_path, _enrolled(tmp_path) + "rollout: null\n"))
    assert config.rollout is None


def test_without_credentials_there_is_no_rollout_unless_configured(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, GOOD)).rollout is None


def test_credentials_fill_the_config_and_must_be_private(tmp_path: Path) -> None:
    from edge.enrol import NodeCredentials, write_credentials

    held = NodeCredentials.model_validate(
        {
            "node_id": "demo-node-1",
            "station_id": "st-7",
            "duty_url": "https://duty.example",
            "duty_token": "uwsn_secret",
            "broker_username": "demo-node-1",
            "broker_password": "broker-secret",
            "entry_public_keys": ["B" * 43, "C" * 43],
        }
    )
    write_credentials(tmp_path / "creds.yaml", held)
    text = GOOD.replace("node_id: demo-node-1\n", "credentials: creds.yaml\n")
    text = text.replace(", username: node1, password: s3cret", "")
    entry = "devices: {broker: {host: 127.0.0.1}}\nentry: {policy: {state_path: e.db}}\n"
    config = load_config(write(tmp_path, text + entry))
    assert config.node_id == "demo-node-1"
    assert config.cloud.password is not None
    assert config.cloud.password.get_secret_value() == "broker-secret"
    assert config.entry is not None
    assert config.entry.policy.station_id == "st-7"
    assert config.entry.policy.previous_public_keys == ["C" * 43]
    assert config.entry.duty_url == "https://duty.example"
    with pytest.raises(ConfigError, match="not the enrolled node"):
        load_config(write(tmp_path, "node_id: other\n" + text + entry))
    (tmp_path / "creds.yaml").chmod(0o640)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_config(write(tmp_path, text + entry))
