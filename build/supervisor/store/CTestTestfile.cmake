# CMake generated Testfile for 
# Source directory: /work/main/supervisor/store
# Build directory: /work/main/build/supervisor/store
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
