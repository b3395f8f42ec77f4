# Empty compiler generated dependencies file for hero_base.
# This may be replaced when dependencies are built.
