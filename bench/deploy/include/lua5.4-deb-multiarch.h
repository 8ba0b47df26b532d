/* lua5.4-deb-multiarch.h — Debian's lua5.4 patch has luaconf.h include this
 * (its build generates it); it names the triplet in Lua's C module path,
 * which a WASI program never searches. Used only by bench/deploy.sh. */
#define DEB_HOST_MULTIARCH "wasm32-wasi"
