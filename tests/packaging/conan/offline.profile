# The default profile, with libcurl and RapidJSON resolved to the system's packages (fixtures).
include(default)

[replace_requires]
libcurl/*: libcurl/system
rapidjson/*: rapidjson/system
