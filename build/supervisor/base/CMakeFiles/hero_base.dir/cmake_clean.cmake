file(REMOVE_RECURSE
  "CMakeFiles/hero_base.dir/clock.cc.o"
  "CMakeFiles/hero_base.dir/clock.cc.o.d"
  "CMakeFiles/hero_base.dir/json_writer.cc.o"
  "CMakeFiles/hero_base.dir/json_writer.cc.o.d"
  "CMakeFiles/hero_base.dir/log.cc.o"
  "CMakeFiles/hero_base.dir/log.cc.o.d"
  "CMakeFiles/hero_base.dir/run_status.cc.o"
  "CMakeFiles/hero_base.dir/run_status.cc.o.d"
  "CMakeFiles/hero_base.dir/status.cc.o"
  "CMakeFiles/hero_base.dir/status.cc.o.d"
  "CMakeFiles/hero_base.dir/unique_fd.cc.o"
  "CMakeFiles/hero_base.dir/unique_fd.cc.o.d"
  "libhero_base.a"
  "libhero_base.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/hero_base.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
