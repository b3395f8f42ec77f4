# Writes ${OUT} (supervisor/cli/version.h in the build tree) with the project version and the
# git commit of SRC. Run at every build (target hero_version); configure_file rewrites the file
# only when its content changes, so an unchanged commit rebuilds nothing.
set(HERO_COMMIT "unknown")
find_package(Git QUIET)
if(GIT_FOUND)
  execute_process(COMMAND ${GIT_EXECUTABLE} -C ${SRC} rev-parse --short=12 HEAD
                  OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE rc ERROR_QUIET)
  if(rc EQUAL 0 AND commit)
    set(HERO_COMMIT ${commit})
    execute_process(COMMAND ${GIT_EXECUTABLE} -C ${SRC} status --porcelain --untracked-files=no
                    OUTPUT_VARIABLE dirty OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    if(dirty)
      string(APPEND HERO_COMMIT "-dirty")
    endif()
  endif()
endif()
configure_file(${SRC}/supervisor/cli/version.h.in ${OUT} @ONLY)
