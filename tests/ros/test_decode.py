from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bagdata import JOINTS, T0_NS, battery, diagnostics, imu, joint_state, odometry, stamp
from rltrack_ros.decode import Decoder, FieldFilter, learn_type, load_msg_dirs, make_typestore, parse_number
from rltrack_ros.errors import DecodeError
from rosbags.typesys import Stores, get_typestore

JAZZY = get_typestore(Stores.ROS2_JAZZY)


def raw(msg: Any, msgtype: str, ts: Any = JAZZY) -> bytes:
    return bytes(ts.serialize_cdr(msg, msgtype))


@pytest.fixture(scope="module")
def decoder() -> Decoder:
    return Decoder.for_distro("jazzy")


def test_odometry_flattens_to_topic_keys_with_header_stamp_as_t_ns(decoder: Decoder) -> None:
    values, t_ns = decoder.flatten(raw(odometry(JAZZY, 3, T0_NS + 7), "nav_msgs/msg/Odometry"),
                                   "nav_msgs/msg/Odometry", topic="/odom")
    assert t_ns == T0_NS + 7
    assert sorted(values) == sorted(
        [f"odom/pose/pose/position/{a}" for a in "xyz"] + [f"odom/pose/pose/orientation/{a}" for a in "xyzw"]
        + [f"odom/twist/twist/{k}/{a}" for k in ("linear", "angular") for a in "xyz"]
    )
    assert values["odom/pose/pose/position/x"] == pytest.approx(0.3)
    assert values["odom/twist/twist/linear/x"] == math.sin(3)


def test_covariance_is_kept_when_include_names_it(decoder: Decoder) -> None:
    flt = FieldFilter(include=("pose/covariance/*",), exclude=())
    values, _ = decoder.flatten(raw(odometry(JAZZY, 0, T0_NS), "nav_msgs/msg/Odometry"), "nav_msgs/msg/Odometry",
                                topic="/cov", flt=flt)
    assert sorted(values) == sorted(f"cov/pose/covariance/{i}" for i in range(36))
    assert set(values.values()) == {0.01}


def test_joint_state_is_keyed_by_joint_name(decoder: Decoder) -> None:
    values, _ = decoder.flatten(raw(joint_state(JAZZY, 2, T0_NS), "sensor_msgs/msg/JointState"),
                                "sensor_msgs/msg/JointState", topic="/joint_states")
    assert values["joint_states/effort/right_knee"] == -1.0
    assert values["joint_states/position/hip"] == 4.0
    assert len(values) == 3 * len(JOINTS)


def test_joint_names_with_spaces_become_safe_key_parts(decoder: Decoder) -> None:
    msg = JAZZY.types["sensor_msgs/msg/JointState"](
        header=odometry(JAZZY, 0, T0_NS).header, name=["front left: wheel"], position=np.array([1.5]),
        velocity=np.array([], dtype=np.float64), effort=np.array([], dtype=np.float64))
    values, _ = decoder.flatten(raw(msg, "sensor_msgs/msg/JointState"), "sensor_msgs/msg/JointState", topic="/js")
    assert values == {"js/position/front_left_wheel": 1.5}


def test_battery_bools_become_integers_and_sequences_are_indexed(decoder: Decoder) -> None:
    values, _ = decoder.flatten(raw(battery(JAZZY, 1, T0_NS), "sensor_msgs/msg/BatteryState"),
                                "sensor_msgs/msg/BatteryState", topic="/battery")
    assert values["battery/present"] == 1 and type(values["battery/present"]) is int
    assert values["battery/cell_voltage/2"] == pytest.approx(4.2)
    assert math.isnan(values["battery/charge"])
    assert values["battery/power_supply_status"] == 2
    assert "battery/location" not in values


def test_diagnostic_key_values_are_parsed_into_numbers(decoder: Decoder) -> None:
    values, _ = decoder.flatten(raw(diagnostics(JAZZY, 2, T0_NS), "diagnostic_msgs/msg/DiagnosticArray"),
                                "diagnostic_msgs/msg/DiagnosticArray", topic="/diagnostics")
    assert values == {
        "diagnostics/motor_left/level": 0,
        "diagnostics/motor_left/temperature": 42.0,
        "diagnostics/battery/level": 1,
        "diagnostics/battery/voltage": 23.5,
    }


@pytest.mark.parametrize(("text", "number"), [("3.5", 3.5), ("-2e3", -2000.0), ("12 V", 12.0), ("80%", 80.0),
                                              ("True", 1), ("false", 0), ("velocity", None), ("", None)])
def test_parse_number(text: str, number: float | None) -> None:
    assert parse_number(text) == number


def test_rename_include_and_exclude_choose_keys(decoder: Decoder) -> None:
    flt = FieldFilter(include=("angular_velocity/*",), exclude=("*/y",), rename={"linear_acceleration/z": "robot/g"})
    values, _ = decoder.flatten(raw(imu(JAZZY, 5, T0_NS), "sensor_msgs/msg/Imu"), "sensor_msgs/msg/Imu",
                                topic="/imu", flt=flt)
    assert values == {"imu/angular_velocity/x": pytest.approx(0.05), "imu/angular_velocity/z": 0.0, "robot/g": 9.81}


def test_sequences_longer_than_max_array_are_skipped(decoder: Decoder) -> None:
    msg = JAZZY.types["std_msgs/msg/Float64MultiArray"](
        layout=JAZZY.types["std_msgs/msg/MultiArrayLayout"](dim=[], data_offset=0), data=np.arange(100.0))
    values, _ = decoder.flatten(raw(msg, "std_msgs/msg/Float64MultiArray"), "std_msgs/msg/Float64MultiArray",
                                topic="/long", flt=FieldFilter(max_array=10))
    assert values == {"long/layout/data_offset": 0}


def test_zero_header_stamp_gives_no_t_ns(decoder: Decoder) -> None:
    _, t_ns = decoder.flatten(raw(imu(JAZZY, 0, 0), "sensor_msgs/msg/Imu"), "sensor_msgs/msg/Imu", topic="/imu")
    assert t_ns is None


def test_time_fields_outside_the_header_become_seconds(decoder: Decoder) -> None:
    t = JAZZY.types
    msg = t["sensor_msgs/msg/TimeReference"](header=odometry(JAZZY, 0, T0_NS).header,
                                            time_ref=t["builtin_interfaces/msg/Time"](sec=3, nanosec=500_000_000),
                                            source="gps")
    values, t_ns = decoder.flatten(raw(msg, "sensor_msgs/msg/TimeReference"), "sensor_msgs/msg/TimeReference",
                                   topic="/gps_time")
    assert values == {"gps_time/time_ref": 3.5}
    assert t_ns == T0_NS


def test_unknown_type_raises_decode_error_naming_it(decoder: Decoder) -> None:
    with pytest.raises(DecodeError, match=r"'my_robot/msg/Wheel'.*msg_dirs"):
        decoder.deserialize(b"\x00\x01\x00\x00", "my_robot/msg/Wheel")


def test_truncated_bytes_raise_decode_error(decoder: Decoder) -> None:
    data = raw(odometry(JAZZY, 0, T0_NS), "nav_msgs/msg/Odometry")
    with pytest.raises(DecodeError, match="cannot decode 40 bytes as 'nav_msgs/msg/Odometry'"):
        decoder.deserialize(data[:40], "nav_msgs/msg/Odometry")


def test_unknown_distro_is_refused() -> None:
    with pytest.raises(DecodeError, match="'melodic'"):
        make_typestore("melodic")


def write_custom_msgs(root: Path) -> Path:
    pkg = root / "share" / "my_robot" / "msg"
    pkg.mkdir(parents=True)
    (pkg / "Wheel.msg").write_text("std_msgs/Header header\nfloat64 speed\nint32 ticks\nbool slipping\nstring id\n")
    (pkg / "Drive.msg").write_text("my_robot/Wheel[2] wheels\ngeometry_msgs/Vector3 cmd\n")
    return root / "share"


def test_user_msg_folders_define_custom_types(tmp_path: Path) -> None:
    decoder = Decoder.for_distro("humble", [write_custom_msgs(tmp_path)])
    ts = decoder.typestore
    wheel = ts.types["my_robot/msg/Wheel"]
    header = odometry(JAZZY, 0, T0_NS).header
    hdr = ts.types["std_msgs/msg/Header"](stamp=ts.types["builtin_interfaces/msg/Time"](sec=1, nanosec=2),
                                          frame_id=header.frame_id)
    msg = ts.types["my_robot/msg/Drive"](
        wheels=[wheel(header=hdr, speed=1.5, ticks=7, slipping=True, id="l"),
                wheel(header=hdr, speed=-1.0, ticks=9, slipping=False, id="r")],
        cmd=ts.types["geometry_msgs/msg/Vector3"](x=1.0, y=0.0, z=0.0))
    groups = decoder.flatten_groups(raw(msg, "my_robot/msg/Drive", ts), "my_robot/msg/Drive", topic="/drive")
    # Wheels carry an 'id': keyed by it, each at its own header stamp (1 s + 2 ns).
    assert groups == [
        ({"drive/cmd/x": 1.0, "drive/cmd/y": 0.0, "drive/cmd/z": 0.0}, None),
        ({"drive/wheels/l/speed": 1.5, "drive/wheels/l/ticks": 7, "drive/wheels/l/slipping": 1,
          "drive/wheels/r/speed": -1.0, "drive/wheels/r/ticks": 9, "drive/wheels/r/slipping": 0}, 1_000_000_002),
    ]


def test_bad_msg_file_names_the_file(tmp_path: Path) -> None:
    pkg = tmp_path / "bad_pkg" / "msg"
    pkg.mkdir(parents=True)
    (pkg / "Oops.msg").write_text("float64[ broken\n")
    with pytest.raises(DecodeError, match=r"Oops.msg"):
        load_msg_dirs(get_typestore(Stores.EMPTY), [tmp_path])


def test_missing_msg_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(DecodeError, match=r"'.*nowhere' does not exist"):
        make_typestore("jazzy", [tmp_path / "nowhere"])


@pytest.mark.parametrize("distro", ["humble", "jazzy", "kilted"])
def test_every_distro_store_decodes_the_same_values(distro: str) -> None:
    ts = make_typestore(distro)
    builders = [(odometry, "nav_msgs/msg/Odometry"), (battery, "sensor_msgs/msg/BatteryState"),
                (joint_state, "sensor_msgs/msg/JointState"), (diagnostics, "diagnostic_msgs/msg/DiagnosticArray")]
    got = [Decoder(ts).flatten(raw(b(ts, 4, T0_NS), m, ts), m, topic="/t") for b, m in builders]
    want = [Decoder.for_distro("jazzy").flatten(raw(b(JAZZY, 4, T0_NS), m), m, topic="/t") for b, m in builders]
    assert repr(got) == repr(want)  # repr: NaN battery fields compare equal as text


def test_learn_type_reads_the_ament_share_tree_with_dependencies(tmp_path: Path) -> None:
    share = write_custom_msgs(tmp_path)
    ts = make_typestore("jazzy")
    assert learn_type(ts, "my_robot/msg/Drive", [tmp_path / "elsewhere", share])
    assert {"my_robot/msg/Drive", "my_robot/msg/Wheel"} <= set(ts.fielddefs)
    assert not learn_type(ts, "other_robot/msg/Arm", [share])


# -- identity over position: /tf by frames, other arrays by name/id, nested stamps ----------------


def transform(ts: Any, parent: str, child: str, t_ns: int, x: float) -> Any:
    t = ts.types
    return t["geometry_msgs/msg/TransformStamped"](
        header=t["std_msgs/msg/Header"](
            stamp=t["builtin_interfaces/msg/Time"](sec=t_ns // 1_000_000_000, nanosec=t_ns % 1_000_000_000),
            frame_id=parent),
        child_frame_id=child,
        transform=t["geometry_msgs/msg/Transform"](
            translation=t["geometry_msgs/msg/Vector3"](x=x, y=2 * x, z=0.0),
            rotation=t["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0)),
    )  # fmt: skip


def tf_message(ts: Any, transforms: list[Any]) -> bytes:
    return raw(ts.types["tf2_msgs/msg/TFMessage"](transforms=transforms), "tf2_msgs/msg/TFMessage", ts)


def test_tf_is_keyed_by_parent_and_child_frame_at_each_transform_stamp(decoder: Decoder) -> None:
    data = tf_message(JAZZY, [transform(JAZZY, "odom", "base_link", 5_000, 1.0),
                              transform(JAZZY, "base_link", "wheel", 5_000, 0.25),
                              transform(JAZZY, "map", "odom", 7_000, -3.0)])
    groups = decoder.flatten_groups(data, "tf2_msgs/msg/TFMessage", topic="/tf")
    assert groups[0] == ({}, None)  # TFMessage has no header of its own
    assert groups[1:] == [
        ({"tf/odom/base_link/translation/x": 1.0, "tf/odom/base_link/translation/y": 2.0,
          "tf/odom/base_link/translation/z": 0.0, "tf/odom/base_link/rotation/x": 0.0,
          "tf/odom/base_link/rotation/y": 0.0, "tf/odom/base_link/rotation/z": 0.0,
          "tf/odom/base_link/rotation/w": 1.0,
          "tf/base_link/wheel/translation/x": 0.25, "tf/base_link/wheel/translation/y": 0.5,
          "tf/base_link/wheel/translation/z": 0.0, "tf/base_link/wheel/rotation/x": 0.0,
          "tf/base_link/wheel/rotation/y": 0.0, "tf/base_link/wheel/rotation/z": 0.0,
          "tf/base_link/wheel/rotation/w": 1.0}, 5_000),
        ({"tf/map/odom/translation/x": -3.0, "tf/map/odom/translation/y": -6.0, "tf/map/odom/translation/z": 0.0,
          "tf/map/odom/rotation/x": 0.0, "tf/map/odom/rotation/y": 0.0, "tf/map/odom/rotation/z": 0.0,
          "tf/map/odom/rotation/w": 1.0}, 7_000),
    ]  # fmt: skip


def test_tf_keys_follow_the_frames_not_the_array_order(decoder: Decoder) -> None:
    one = decoder.flatten(tf_message(JAZZY, [transform(JAZZY, "odom", "base_link", 1, 1.0),
                                             transform(JAZZY, "map", "odom", 1, 2.0)]),
                          "tf2_msgs/msg/TFMessage", topic="/tf")[0]
    swapped = decoder.flatten(tf_message(JAZZY, [transform(JAZZY, "map", "odom", 1, 2.0),
                                                 transform(JAZZY, "odom", "base_link", 1, 1.0)]),
                              "tf2_msgs/msg/TFMessage", topic="/tf")[0]
    assert one == swapped
    assert one["tf/map/odom/translation/x"] == 2.0 and one["tf/odom/base_link/translation/x"] == 1.0


def test_a_zero_transform_stamp_goes_with_the_message(decoder: Decoder) -> None:
    groups = decoder.flatten_groups(tf_message(JAZZY, [transform(JAZZY, "map", "odom", 0, 1.0)]),
                                    "tf2_msgs/msg/TFMessage", topic="/tf_static")
    assert len(groups) == 1 and groups[0][1] is None
    assert groups[0][0]["tf_static/map/odom/translation/x"] == 1.0


def test_two_transforms_with_one_identity_are_both_kept(decoder: Decoder) -> None:
    values, _ = decoder.flatten(tf_message(JAZZY, [transform(JAZZY, "map", "odom", 1, 1.0),
                                                   transform(JAZZY, "map", "odom", 1, 2.0)]),
                                "tf2_msgs/msg/TFMessage", topic="/tf")
    assert (values["tf/map/odom/translation/x"], values["tf/map/odom_2/translation/x"]) == (1.0, 2.0)


def markers(ts: Any, ids: list[int]) -> bytes:
    t = ts.types
    marker = t["visualization_msgs/msg/Marker"]
    header = t["std_msgs/msg/Header"](stamp=t["builtin_interfaces/msg/Time"](sec=0, nanosec=0), frame_id="map")
    items = []
    for i in ids:
        items.append(marker(
            header=header, ns="obstacles", id=i, type=1, action=0,
            pose=t["geometry_msgs/msg/Pose"](position=t["geometry_msgs/msg/Point"](x=float(i), y=0.0, z=0.0),
                                             orientation=t["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0)),
            scale=t["geometry_msgs/msg/Vector3"](x=1.0, y=1.0, z=1.0),
            color=t["std_msgs/msg/ColorRGBA"](r=1.0, g=0.0, b=0.0, a=1.0),
            lifetime=t["builtin_interfaces/msg/Duration"](sec=0, nanosec=0), frame_locked=False,
            points=[], colors=[], texture_resource="", texture=t["sensor_msgs/msg/CompressedImage"](
                header=header, format="", data=np.array([], dtype=np.uint8)),
            uv_coordinates=[], text="", mesh_resource="",
            mesh_file=t["visualization_msgs/msg/MeshFile"](filename="", data=np.array([], dtype=np.uint8)),
            mesh_use_embedded_materials=False))  # fmt: skip
    return raw(t["visualization_msgs/msg/MarkerArray"](markers=items), "visualization_msgs/msg/MarkerArray", ts)


def test_arrays_of_messages_with_an_id_are_keyed_by_it(decoder: Decoder) -> None:
    first, _ = decoder.flatten(markers(JAZZY, [7, 3]), "visualization_msgs/msg/MarkerArray", topic="/obstacles")
    later, _ = decoder.flatten(markers(JAZZY, [3]), "visualization_msgs/msg/MarkerArray", topic="/obstacles")
    assert (first["obstacles/7/pose/position/x"], first["obstacles/3/pose/position/x"]) == (7.0, 3.0)
    assert later["obstacles/3/pose/position/x"] == 3.0  # obstacle 3 keeps its key when 7 is gone
    assert not any("/id" in k for k in first)  # the identity is the key, not a value


def test_identity_rules_are_configurable_per_type(tmp_path: Path) -> None:
    from rltrack_ros.topics import parse_config

    config = parse_config({"identity": {"visualization_msgs/Marker": "index",
                                        "geometry_msgs/msg/TransformStamped": ["child_frame_id"]}})
    decoder = Decoder.for_distro("jazzy")
    flat = decoder.flattener("/m", "visualization_msgs/msg/MarkerArray", "m", FieldFilter(), identity=config.identity)
    values, _ = flat(decoder.deserialize(markers(JAZZY, [7, 3]), "visualization_msgs/msg/MarkerArray"))
    assert values["m/markers/0/pose/position/x"] == 7.0 and values["m/markers/1/id"] == 3
    flat = decoder.flattener("/tf", "tf2_msgs/msg/TFMessage", "tf", FieldFilter(), identity=config.identity)
    values, _ = flat(decoder.deserialize(tf_message(JAZZY, [transform(JAZZY, "map", "odom", 1, 2.0)]),
                                         "tf2_msgs/msg/TFMessage"))
    assert values["tf/odom/transform/translation/x"] == 2.0  # no strip rule given: the level stays


def test_bad_identity_config_is_refused() -> None:
    from rltrack_ros.errors import TopicConfigError
    from rltrack_ros.topics import parse_config

    with pytest.raises(TopicConfigError, match=r"identity: 'my/msg/T' must name a field path.*got 3"):
        parse_config({"identity": {"my/msg/T": 3}})


def test_nested_header_stamps_are_kept_as_seconds_values(decoder: Decoder) -> None:
    t = JAZZY.types

    def pose(i: int, t_ns: int) -> Any:
        return t["geometry_msgs/msg/PoseStamped"](header=stamp(JAZZY, t_ns), pose=odometry(JAZZY, i, 0).pose.pose)

    msg = t["nav_msgs/msg/Path"](header=stamp(JAZZY, T0_NS), poses=[pose(1, 2_500_000_000), pose(2, 0)])
    values, t_ns = decoder.flatten(raw(msg, "nav_msgs/msg/Path"), "nav_msgs/msg/Path", topic="/plan")
    assert t_ns == T0_NS
    assert values["plan/poses/0/header/stamp"] == 2.5
    assert "plan/poses/1/header/stamp" not in values  # a zero stamp is no stamp
    assert values["plan/poses/1/pose/position/x"] == pytest.approx(0.2)


# -- legacy type names and .srv definitions (--msg-dir) --------------------------------------------

MSGDEFS = Path(__file__).resolve().parents[1] / "fixtures" / "decode" / "msgdefs"


def basic_types(ts: Any, type_name: str, **values: Any) -> Any:
    fields = {"bool_value": False, "byte_value": 0, "char_value": 0, "float32_value": 0.0, "float64_value": 0.0,
              "int8_value": 0, "uint8_value": 0, "int16_value": 0, "uint16_value": 0, "int32_value": 0,
              "uint32_value": 0, "int64_value": 0, "uint64_value": 0}
    fields.update(values)
    return ts.types[type_name](**fields)


def test_legacy_type_names_decode_with_msg_dir_definitions() -> None:
    decoder = Decoder.for_distro("jazzy", [MSGDEFS])
    data = raw(basic_types(decoder.typestore, "test_msgs/msg/BasicTypes", int32_value=-7, float64_value=1.5),
               "test_msgs/msg/BasicTypes", decoder.typestore)
    assert decoder.knows("test_msgs/BasicTypes")
    assert decoder.resolve("test_msgs/BasicTypes") == "test_msgs/msg/BasicTypes"
    values, _ = decoder.flatten(data, "test_msgs/BasicTypes", topic="topic1")
    assert (values["topic1/int32_value"], values["topic1/float64_value"]) == (-7, 1.5)
    assert decoder.deserialize(data, "test_msgs/BasicTypes").int32_value == -7


def test_srv_definitions_give_request_response_and_event_types() -> None:
    ts = make_typestore("jazzy")
    names = load_msg_dirs(ts, [MSGDEFS])
    assert {"test_msgs/srv/BasicTypes_Request", "test_msgs/srv/BasicTypes_Response",
            "test_msgs/srv/BasicTypes_Event", "test_msgs/msg/BasicTypes"} <= set(names)
    t = ts.types
    event = t["test_msgs/srv/BasicTypes_Event"](
        info=t["service_msgs/msg/ServiceEventInfo"](
            event_type=1, stamp=t["builtin_interfaces/msg/Time"](sec=4, nanosec=0),
            client_gid=np.zeros(16, dtype=np.uint8), sequence_number=3),
        request=[basic_types(ts, "test_msgs/srv/BasicTypes_Request", int16_value=-2, string_value="hi")],
        response=[])  # fmt: skip
    values, _ = Decoder(ts).flatten(raw(event, "test_msgs/srv/BasicTypes_Event", ts), "test_msgs/srv/BasicTypes_Event",
                                    topic="/svc/_service_event", flt=FieldFilter(exclude=("*client_gid*",)))
    assert values["svc/_service_event/request/0/int16_value"] == -2
    assert values["svc/_service_event/info/sequence_number"] == 3
    assert values["svc/_service_event/info/stamp"] == 4.0
    assert not any("response" in k for k in values)


def test_srv_without_separator_names_the_file(tmp_path: Path) -> None:
    srv = tmp_path / "pkg" / "srv"
    srv.mkdir(parents=True)
    (srv / "Half.srv").write_text("int32 a\n")
    with pytest.raises(DecodeError, match=r"Half.srv.*no '---' line"):
        load_msg_dirs(make_typestore("jazzy"), [tmp_path])


def test_learn_type_reads_srv_files_for_service_events(tmp_path: Path) -> None:
    ts = make_typestore("jazzy")
    assert learn_type(ts, "test_msgs/srv/BasicTypes_Event", [MSGDEFS])
    assert learn_type(ts, "test_msgs/BasicTypes", [MSGDEFS])  # legacy spelling, from msg/


# -- integers beyond 2**53 -------------------------------------------------------------------------


def test_int64_beyond_2_53_is_reported_per_key_and_exact_ones_are_not() -> None:
    decoder = Decoder.for_distro("jazzy", [MSGDEFS])
    ts = decoder.typestore
    reports: list[tuple[str, int]] = []
    flat = decoder.flattener("/b", "test_msgs/msg/BasicTypes", "b", FieldFilter(),
                             on_inexact=lambda k, v: reports.append((k, v)))
    for values in ({"int64_value": 2**53, "uint64_value": 2**60},  # both exact in float64
                   {"int64_value": -(2**53) - 1, "uint64_value": 2**64 - 1}):
        msg = ts.deserialize_cdr(raw(basic_types(ts, "test_msgs/msg/BasicTypes", **values),
                                     "test_msgs/msg/BasicTypes", ts), "test_msgs/msg/BasicTypes")
        got, _ = flat(msg)
        assert (got["b/int64_value"], got["b/uint64_value"]) == (values["int64_value"], values["uint64_value"])
    assert reports == [("b/int64_value", -(2**53) - 1), ("b/uint64_value", 2**64 - 1)]


def test_int64_sequences_beyond_2_53_are_reported(decoder: Decoder) -> None:
    reports: list[tuple[str, int]] = []
    msg = JAZZY.types["std_msgs/msg/Int64MultiArray"](
        layout=JAZZY.types["std_msgs/msg/MultiArrayLayout"](dim=[], data_offset=0),
        data=np.array([1, 2**62 + 1], dtype=np.int64))
    flat = Decoder.for_distro("jazzy").flattener("/ids", "std_msgs/msg/Int64MultiArray", "ids", FieldFilter(),
                                                 on_inexact=lambda k, v: reports.append((k, v)))
    values, _ = flat(decoder.deserialize(raw(msg, "std_msgs/msg/Int64MultiArray"), "std_msgs/msg/Int64MultiArray"))
    assert values["ids/data/1"] == 2**62 + 1 and reports == [("ids/data/1", 2**62 + 1)]


def test_an_identity_rule_naming_no_field_is_refused_with_the_fields(tmp_path: Path) -> None:
    from rltrack_ros.decode import IdentityRule

    decoder = Decoder.for_distro("jazzy")
    rule = {"visualization_msgs/msg/Marker": IdentityRule(("pose/label",))}
    with pytest.raises(DecodeError, match=r"identity rule for 'visualization_msgs/msg/Marker': 'pose/label' is not a "
                                          r"string or number field of it \(fields of 'geometry_msgs/msg/Pose': "
                                          r"\['orientation', 'position'\]\)"):  # fmt: skip
        decoder.flattener("/m", "visualization_msgs/msg/MarkerArray", "m", FieldFilter(), identity=rule)


def test_the_mirror_skips_a_topic_whose_identity_rule_is_bad_and_goes_on(tmp_path: Path) -> None:
    from rltrack_ros.mirror import Mirror
    from rltrack_ros.topics import parse_config

    import rltrack
    from rltrack.errors import RltrackWarning

    run = rltrack.init(project="m", dir=tmp_path, source="real", system_metrics=False)
    mirror = Mirror(run, parse_config({"identity": {"visualization_msgs/Marker": "pose/label"}}), Decoder(JAZZY))
    with pytest.warns(RltrackWarning, match=r"topic '/m' is not mirrored: identity rule for"):
        mirror.handle("/m", "visualization_msgs/msg/MarkerArray", markers(JAZZY, [1]), T0_NS)
    mirror.handle("/r", "std_msgs/msg/Float32", raw(JAZZY.types["std_msgs/msg/Float32"](data=2.0),
                                                    "std_msgs/msg/Float32"), T0_NS + 1)  # fmt: skip
    mirror.close()
    run.finish()
    assert rltrack.Api(dir=tmp_path).run(run.id).keys(source="real") == ["r/data"]
