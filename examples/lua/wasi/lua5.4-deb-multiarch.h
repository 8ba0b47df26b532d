/* lua5.4-deb-multiarch.h — Debian's lua5.4 patch has luaconf.h include this
 * header (its own build generates it) for the triplet in the C module path,
 * which this guest never searches (no package library). */
#define DEB_HOST_MULTIARCH "wasm32-wasi"
