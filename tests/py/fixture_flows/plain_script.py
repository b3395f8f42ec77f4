import sys

print("plain script start")
sys.stderr.write("to stderr\n")
print("done")
sys.exit(3)
