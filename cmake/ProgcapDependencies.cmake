# Third-party packages used by the host (core/) and the tests. Plugins pick
# what they need themselves; the SDK needs none of these.
find_package(Threads REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS filesystem program_options)
find_package(spdlog REQUIRED)
find_package(yaml-cpp REQUIRED)            # 0.7: target is plain `yaml-cpp`
find_package(nlohmann_json 3.10 REQUIRED)
find_package(OpenSSL REQUIRED)             # Debian's cpprest target does not propagate it
find_package(cpprestsdk REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(PQXX REQUIRED IMPORTED_TARGET libpqxx)   # 6.4 ships no CMake config
pkg_check_modules(PQ REQUIRED IMPORTED_TARGET libpq)       # PQconninfoParse (DSN checks)
