"""A plain script with no SDK: runs as __main__ under one root span; its output becomes logs."""

import sys

print("hello from a plain script")
print("python", sys.version.split()[0])
total = sum(range(10))
print("sum of 0..9 is", total)
sys.exit(0)
