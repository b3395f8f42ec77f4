
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/supervisor/base/clock.cc" "supervisor/base/CMakeFiles/hero_base.dir/clock.cc.o" "gcc" "supervisor/base/CMakeFiles/hero_base.dir/clock.cc.o.d"
  "/work/main/supervisor/base/json_writer.cc" "supervisor/base/CMakeFiles/hero_base.dir/json_writer.cc.o" "gcc" "supervisor/base/CMakeFiles/hero_base.dir/json_writer.cc.o.d"
  "/work/main/supervisor/base/log.cc" "supervisor/base/CMakeFiles/hero_base.dir/log.cc.o" "gcc" "supervisor/base/CMakeFiles/hero_base.dir/log.cc.o.d"
  "/work/main/supervisor/base/run_status.cc" "supervisor/base/CMakeFiles/hero_base.dir/run_status.cc.o" "gcc" "supervisor/base/CMakeFiles/hero_base.dir/run_status.cc.o.d"
  "/work/main/supervisor/base/status.cc" "supervisor/base/CMakeFiles/hero_base.dir/status.cc.o" "gcc" "supervisor/base/CMakeFiles/hero_base.dir/status.cc.o.d"
  "/work/main/supervisor/base/unique_fd.cc" "supervisor/base/CMakeFiles/hero_base.dir/unique_fd.cc.o" "gcc" "supervisor/base/CMakeFiles/hero_base.dir/unique_fd.cc.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
