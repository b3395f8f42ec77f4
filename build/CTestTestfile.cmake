# CMake generated Testfile for 
# Source directory: /work/main
# Build directory: /work/main/build
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
subdirs("supervisor/base")
subdirs("supervisor/loop")
subdirs("span_listener")
subdirs("sandbox")
subdirs("supervisor/store")
subdirs("supervisor/api")
subdirs("supervisor/core")
subdirs("supervisor")
subdirs("tests")
subdirs("bench")
