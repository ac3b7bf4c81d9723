"""Role mapping and zone geometry."""

from __future__ import annotations

import pytest

from vision.detector import Detection
from vision.roles import Role, RoleMap
from vision.zones import Zone


def _person(box: tuple[float, float, float, float]) -> Detection:
    return Detection(Role.PERSON, "person", 0.9, box)


def test_default_roles_match_names_in_any_case() -> None:
    roles = RoleMap()
    assert roles.role_for("person") is Role.PERSON
    assert roles.role_for("Fall") is Role.FALLEN
    assert roles.role_for("Normal") is Role.PERSON
    assert roles.role_for("FIRE") is Role.FIRE
    assert roles.role_for("smoke") is Role.SMOKE
    assert roles.role_for("bus") is None


def test_overrides_add_and_remove_classes() -> None:
    roles = RoleMap({"Worker": Role.PERSON, "person": None})
    assert roles.role_for("worker") is Role.PERSON
    assert roles.role_for("person") is None
    assert roles.role_for("fire") is Role.FIRE


def test_zone_uses_the_feet_not_the_box_centre() -> None:
    # Left half of a 200 x 100 frame.
    left = Zone.from_points("left", [[0, 0], [0.5, 0], [0.5, 1], [0, 1]])
    assert left.contains(_person((10, 10, 50, 90)), 200, 100)
    assert not left.contains(_person((120, 10, 180, 90)), 200, 100)
    # Box centre at y=25 is in the top strip, but the feet (y=90) are not.
    top = Zone.from_points("top", [[0, 0], [1, 0], [1, 0.5], [0, 0.5]])
    assert not top.contains(_person((10, 0, 50, 90)), 200, 100)
    assert top.select([_person((10, 0, 50, 40)), _person((10, 0, 50, 90))], 200, 100) == [
        _person((10, 0, 50, 40))
    ]


def test_boxes_overshooting_the_frame_still_count_in_an_edge_zone() -> None:
    bottom = Zone.from_points("bottom", [[0, 0.5], [1, 0.5], [1, 1], [0, 1]])
    assert bottom.contains(_person((10, 60, 50, 103)), 200, 100)


def test_whole_frame_zone_contains_everything() -> None:
    zone = Zone.whole_frame("room")
    assert zone.contains(_person((0, 0, 1, 1)), 640, 360)
    assert zone.contains(_person((600, 300, 640, 360)), 640, 360)


@pytest.mark.parametrize(
    "points",
    [
        [[0, 0], [1, 1]],
        [[0, 0], [1.5, 0], [1, 1]],
        [[0, -0.1], [1, 0], [1, 1]],
    ],
)
def test_bad_polygons_are_refused(points: list[list[float]]) -> None:
    with pytest.raises(ValueError, match="zone 'z'"):
        Zone.from_points("z", points)
