#!/bin/sh
# Checks that a Lua C module exports only its luaopen_ function and does not link liblua, like
# Prosody's own util/*.so: the Lua API must come from the program that loads it.
set -eu
so="$1"
exported=$(nm -D --defined-only "$so" | awk '{ print $3 }')
if [ "$exported" != "luaopen_turnpike" ]; then
  echo "$so exports more than luaopen_turnpike:"; echo "$exported"; exit 1
fi
if readelf -d "$so" | grep -q 'NEEDED.*liblua'; then
  echo "$so links liblua; it must take the Lua API from the program that loads it"; exit 1
fi
if ! nm -D --undefined-only "$so" | grep -q ' lua_newuserdatauv$'; then
  echo "$so does not leave the Lua API undefined"; exit 1
fi
echo "ok: $so exports only luaopen_turnpike and leaves the Lua API to its host"
