
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/tests/base/json_writer_test.cc" "tests/base/CMakeFiles/base_test.dir/json_writer_test.cc.o" "gcc" "tests/base/CMakeFiles/base_test.dir/json_writer_test.cc.o.d"
  "/work/main/tests/base/status_test.cc" "tests/base/CMakeFiles/base_test.dir/status_test.cc.o" "gcc" "tests/base/CMakeFiles/base_test.dir/status_test.cc.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/main/build/supervisor/base/CMakeFiles/hero_base.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
