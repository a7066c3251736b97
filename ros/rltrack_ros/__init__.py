"""rltrack_ros: robot telemetry into rltrack runs, live (rclpy node) or from rosbag2 files.

Importing this package needs no ROS: decoding is pure Python on rosbags typestores. Only
``rltrack_ros.node`` imports rclpy.
"""

from __future__ import annotations

from .bag import BagImportResult, import_bag
from .decode import Decoder, FieldFilter, make_typestore
from .errors import BagImportError, DecodeError, TopicConfigError
from .mirror import Mirror
from .topics import MirrorConfig, TopicConfig, load_config, parse_config

__all__ = [
    "BagImportError",
    "BagImportResult",
    "DecodeError",
    "Decoder",
    "FieldFilter",
    "Mirror",
    "MirrorConfig",
    "TopicConfig",
    "TopicConfigError",
    "import_bag",
    "load_config",
    "make_typestore",
    "parse_config",
]
__version__ = "0.1.0"
