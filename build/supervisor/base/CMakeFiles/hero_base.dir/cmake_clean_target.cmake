file(REMOVE_RECURSE
  "libhero_base.a"
)
