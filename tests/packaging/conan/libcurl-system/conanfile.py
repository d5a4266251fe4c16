# Test fixture: libcurl from the system's packages, described by pkg-config, under the names
# ConanCenter's libcurl recipe gives consumers (CURLConfig.cmake, CURL::libcurl).
from conan import ConanFile
from conan.tools.gnu import PkgConfig
from conan.tools.system.package_manager import Apt


class LibcurlSystemConan(ConanFile):
    name = "libcurl"
    version = "system"
    package_type = "shared-library"
    settings = "os", "arch", "compiler", "build_type"

    def package_id(self):
        self.info.clear()

    def system_requirements(self):
        Apt(self).install_substitutes(["libcurl4-openssl-dev"], ["libcurl4-gnutls-dev"],
                                      ["libcurl4-nss-dev"])

    def package_info(self):
        self.cpp_info.bindirs = []
        self.cpp_info.set_property("cmake_file_name", "CURL")
        self.cpp_info.set_property("cmake_target_name", "CURL::libcurl")
        self.cpp_info.set_property("pkg_config_name", "libcurl")
        PkgConfig(self, "libcurl").fill_cpp_info(self.cpp_info, is_system=True)
