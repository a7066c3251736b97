"""ament_python packaging of rltrack_ros (built with colcon; ``ros2 run rltrack_ros mirror``)."""

from setuptools import setup

package_name = "rltrack_ros"

setup(
    name=package_name,
    version="0.1.0",
    packages=[package_name],
    data_files=[
        # The marker registers the package in the ament index: this is how `ros2 run` finds it.
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="rltrack developers",
    maintainer_email="rltrack@example.org",
    description="Mirror robot telemetry into rltrack runs, live (rclpy) or from rosbag2 files.",
    license="Apache-2.0",
    entry_points={"console_scripts": ["mirror = rltrack_ros.node:main"]},
)
