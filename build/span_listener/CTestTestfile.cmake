# CMake generated Testfile for 
# Source directory: /work/main/span_listener
# Build directory: /work/main/build/span_listener
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
