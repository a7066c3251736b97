"""The ament_python packaging of ``ros/`` and the "no ROS needed" promise of the decoder."""

from __future__ import annotations

import configparser
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROS = Path(__file__).resolve().parents[2] / "ros"


def test_package_xml_is_format_3_with_exec_depends() -> None:
    root = ET.parse(ROS / "package.xml").getroot()
    assert root.tag == "package" and root.get("format") == "3"
    assert root.findtext("name") == "rltrack_ros"
    assert {e.text for e in root.findall("exec_depend")} == {
        "rclpy", "std_msgs", "sensor_msgs", "nav_msgs", "geometry_msgs", "diagnostic_msgs"}
    assert root.findtext("export/build_type") == "ament_python"


def test_scripts_go_where_ros2_run_looks() -> None:
    cfg = configparser.ConfigParser()
    cfg.read(ROS / "setup.cfg")
    assert cfg["install"]["install_scripts"] == "$base/lib/rltrack_ros"
    assert cfg["develop"]["script_dir"] == "$base/lib/rltrack_ros"
    assert (ROS / "resource" / "rltrack_ros").is_file()
    setup = (ROS / "setup.py").read_text()
    assert '"mirror = rltrack_ros.node:main"' in setup
    assert '("share/ament_index/resource_index/packages", ["resource/" + package_name])' in setup


def test_package_imports_without_rclpy() -> None:
    # A robot install is rltrack + rosbags: everything but the node must import with rclpy absent.
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('rclpy', 'rosidl_runtime_py', 'torch', 'cv2'):\n"
        "            raise ImportError('blocked ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        f"sys.path.insert(0, {str(ROS)!r})\n"
        "import rltrack_ros, rltrack_ros.bag, rltrack_ros.sink, rltrack_ros.images, rltrack_ros.lineage\n"
        "assert 'rclpy' not in sys.modules\n"
        "try:\n"
        "    import rltrack_ros.node\n"
        "except ImportError as err:\n"
        "    assert 'rclpy' in str(err), err\n"
        "else:\n"
        "    raise SystemExit('node imported without rclpy')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
