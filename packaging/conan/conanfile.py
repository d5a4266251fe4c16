import os
import re

from conan import ConanFile
from conan.errors import ConanException, ConanInvalidConfiguration
from conan.tools.build import check_min_cppstd
from conan.tools.cmake import CMake, CMakeDeps, CMakeToolchain, cmake_layout
from conan.tools.files import copy, load, rmdir
from conan.tools.gnu import PkgConfig
from conan.tools.system.package_manager import Apt, Dnf, PacMan, Yum, Zypper

required_conan_version = ">=2.0"


class MimcmConan(ConanFile):
    name = "mimcm"
    description = ("Header-only C++17 client SDK for the Microsoft Identity Manager Certificate "
                   "Management (MIM CM) REST API, with PC/SC card reading for smart card enrollment")
    license = "MIT"
    topics = ("mim", "certificate-management", "smartcard", "pcsc", "rest", "header-only")
    package_type = "header-library"
    settings = "os", "arch", "compiler", "build_type"
    options = {
        "with_curl": [True, False],  # the libcurl transport: mimcm::Client, mimcm::CurlTransport
        "with_pcsc": [True, False],  # the PC/SC card layer: mimcm::pcsc (the system's PC/SC)
    }
    default_options = {
        "with_curl": True,
        "with_pcsc": True,
    }
    no_copy_source = True

    # The recipe lives in packaging/conan/ of the source tree it packages.
    def _source_root(self):
        return os.path.join(self.recipe_folder, "..", "..")

    def set_version(self):
        if not self.version:
            header = load(self, os.path.join(self._source_root(), "include", "mimcm", "version.hpp"))
            parts = [re.search(r"^#define MIMCM_VERSION_%s +([0-9]+)$" % part, header, re.M)
                     for part in ("MAJOR", "MINOR", "PATCH")]
            if not all(parts):
                raise ConanException("include/mimcm/version.hpp defines no MIMCM_VERSION_*")
            self.version = ".".join(match.group(1) for match in parts)

    def export_sources(self):
        root = self._source_root()
        for pattern in ("include/*", "src/*", "cmake/*", "CMakeLists.txt", "LICENSE"):
            copy(self, pattern, root, self.export_sources_folder)

    def layout(self):
        cmake_layout(self)

    def requirements(self):
        self.requires("rapidjson/cci.20230929")
        if self.options.with_curl:
            self.requires("libcurl/[>=7.78.0 <9]")
        # PC/SC has no Conan package: WinSCard (Windows) and PCSC.framework (macOS) come with the
        # OS; on Linux pcsc-lite comes from the system's packages (see system_requirements()).

    def package_id(self):
        self.info.clear()

    def validate(self):
        if self.settings.compiler.get_safe("cppstd"):
            check_min_cppstd(self, 17)
        if self.options.with_pcsc and self.settings.os in ("iOS", "Android", "Emscripten"):
            raise ConanInvalidConfiguration("PC/SC is not available on this OS: use with_pcsc=False")

    def system_requirements(self):
        # Checks (or, with tools.system.package_manager:mode=install, installs) pcsc-lite's
        # development files: headers and libpcsclite.pc, which package_info() reads.
        if self.options.with_pcsc and self.settings.os in ("Linux", "FreeBSD"):
            Apt(self).install(["libpcsclite-dev"])
            Dnf(self).install(["pcsc-lite-devel"])
            Yum(self).install(["pcsc-lite-devel"])
            Zypper(self).install(["pcsc-lite-devel"])
            PacMan(self).install(["pcsclite"])

    def generate(self):
        tc = CMakeToolchain(self)
        tc.cache_variables["MIMCM_WITH_CURL"] = bool(self.options.with_curl)
        tc.cache_variables["MIMCM_WITH_PCSC"] = bool(self.options.with_pcsc)
        tc.cache_variables["MIMCM_BUILD_TESTS"] = False
        tc.cache_variables["MIMCM_BUILD_EXAMPLES"] = False
        tc.cache_variables["MIMCM_INSTALL"] = True
        tc.generate()
        CMakeDeps(self).generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()

    def package(self):
        copy(self, "LICENSE", self.source_folder, os.path.join(self.package_folder, "licenses"))
        CMake(self).install()
        # Conan generates the consumers' CMake config and pkg-config files from package_info().
        rmdir(self, os.path.join(self.package_folder, "share"))
        rmdir(self, os.path.join(self.package_folder, "lib"))
        # The compiled mode's source (see <mimcm/mimcm.hpp>): a program that wants it compiles
        # res/mimcm.cpp once, with MIMCM_COMPILED defined in all of its files.
        copy(self, "mimcm.cpp", os.path.join(self.source_folder, "src"),
             os.path.join(self.package_folder, "res"))

    def package_info(self):
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []
        self.cpp_info.resdirs = ["res"]
        self.cpp_info.set_property("cmake_file_name", "mimcm")
        self.cpp_info.set_property("cmake_target_name", "mimcm::mimcm")
        self.cpp_info.set_property("pkg_config_name", "mimcm")

        requires = ["rapidjson::rapidjson"]
        if self.options.with_curl:
            requires.append("libcurl::libcurl")
        else:
            self.cpp_info.defines.append("MIMCM_NO_CURL")
        self.cpp_info.requires = requires

        if not self.options.with_pcsc:
            self.cpp_info.defines.append("MIMCM_NO_PCSC")
        elif self.settings.os == "Windows":
            self.cpp_info.system_libs.append("winscard")
        elif self.settings.os in ("Macos", "iOS"):
            self.cpp_info.frameworks.append("PCSC")
        else:
            # pcsc-lite from the system, as pkg-config describes it.
            try:
                pcsc = PkgConfig(self, "libpcsclite")
                self.cpp_info.includedirs.extend(pcsc.includedirs)
                self.cpp_info.system_libs.extend(pcsc.libs)
                self.cpp_info.libdirs.extend(pcsc.libdirs)
                self.cpp_info.defines.extend(pcsc.defines)
            except ConanException as error:
                raise ConanException(
                    "mimcm with_pcsc=True needs the system's pcsc-lite (Debian/Ubuntu: "
                    "libpcsclite-dev, Fedora/RHEL: pcsc-lite-devel) with libpcsclite.pc on "
                    f"pkg-config's path, or with_pcsc=False: {error}") from error
