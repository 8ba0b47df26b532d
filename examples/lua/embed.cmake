# embed.cmake — writes app.lua into a C header as a byte array, so the guest
# carries its script (it has no files at deploy: no preopens).
#   cmake -DIN=app.lua -DOUT=app_lua.h -P embed.cmake
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR size "${hex_length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n  " bytes "${bytes}")
file(WRITE ${OUT}.tmp
  "/* Generated from examples/lua/app.lua by embed.cmake; do not edit. */\n"
  "#include <stddef.h>\n"
  "static const char wp_app_lua[] = {\n  ${bytes}0};\n"
  "static const size_t wp_app_lua_size = ${size};\n")
file(RENAME ${OUT}.tmp ${OUT})
