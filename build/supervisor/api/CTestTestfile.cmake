# CMake generated Testfile for 
# Source directory: /work/main/supervisor/api
# Build directory: /work/main/build/supervisor/api
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
