# Test fixture: RapidJSON from the system's packages, described by pkg-config, under the names
# ConanCenter's rapidjson recipe gives consumers (RapidJSONConfig.cmake, target rapidjson).
from conan import ConanFile
from conan.tools.gnu import PkgConfig
from conan.tools.system.package_manager import Apt


class RapidjsonSystemConan(ConanFile):
    name = "rapidjson"
    version = "system"
    package_type = "header-library"
    settings = "os", "arch", "compiler", "build_type"

    def package_id(self):
        self.info.clear()

    def system_requirements(self):
        Apt(self).install(["rapidjson-dev"])

    def package_info(self):
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []
        self.cpp_info.set_property("cmake_file_name", "RapidJSON")
        self.cpp_info.set_property("cmake_target_name", "rapidjson")
        self.cpp_info.set_property("pkg_config_name", "RapidJSON")
        PkgConfig(self, "RapidJSON").fill_cpp_info(self.cpp_info, is_system=True)
