/* test_registry.c — deployed modules by name: publish, persist (temp file +
 * rename, manifest as commit point), reload, remove; references outlive a
 * removal. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon_test_util.h"
#include "registry.h"

static char dir[256];

static void make_dir(void) {
  snprintf(dir, sizeof dir, "/tmp/wp-registry-test-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void) {
  DIR *d = opendir(dir);
  if (!d)
    return;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.' && (de->d_name[1] == 0 || strcmp(de->d_name, "..") == 0))
      continue;
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    unlink(path);
  }
  closedir(d);
  rmdir(dir);
}

static bool file_exists(const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  struct stat st;
  return stat(path, &st) == 0;
}

TestSuite(registry, .init = make_dir, .fini = remove_dir);

Test(registry, names) {
  cr_assert(wp_name_valid("add", 3));
  cr_assert(wp_name_valid("a.b-c_D9", 8));
  cr_assert_not(wp_name_valid("", 0));
  cr_assert_not(wp_name_valid(".hidden", 7));
  cr_assert_not(wp_name_valid("a/b", 3));
  cr_assert_not(wp_name_valid("a\0b", 3));
  char long_name[200];
  memset(long_name, 'x', sizeof long_name);
  cr_assert(wp_name_valid(long_name, 128));
  cr_assert_not(wp_name_valid(long_name, 129));
}

Test(registry, deploy_get_list_remove_and_files) {
  wp_runtime *rt = test_runtime();
  wp_registry *reg;
  wp_error err = {0};
  cr_assert_eq(wp_registry_create(rt, dir, &reg, &err), 0, "%s", err.message);
  size_t len;
  uint8_t *wasm = read_example("add.wasm", &len);
  bool replaced = true;
  wp_module_meta meta;
  cr_assert_eq(wp_registry_deploy(reg, "add", 3, wasm, len, 0, &replaced, &meta, &err), 0, "%s",
               err.message);
  cr_assert_not(replaced);
  cr_assert_str_eq(meta.name, "add");
  cr_assert_eq(meta.wasm_bytes, len);
  cr_assert_eq(strlen(meta.sha256), 64);
  cr_assert(file_exists("add.wasm") && file_exists("add.json"));
  cr_assert_eq(wp_registry_deploy(reg, "add", 3, wasm, len, 0, &replaced, NULL, &err), 0);
  cr_assert(replaced);
  cr_assert_eq(wp_registry_deploy(reg, "aaa", 3, wasm, len, 0, &replaced, NULL, &err), 0);
  cr_assert_eq(wp_registry_count(reg), 2);

  wp_registry_item *items;
  size_t count;
  cr_assert_eq(wp_registry_list(reg, &items, &count), 0);
  cr_assert_eq(count, 2);
  cr_assert_str_eq(items[0].meta.name, "aaa", "sorted by name");
  cr_assert_str_eq(items[1].meta.name, "add");
  wp_registry_list_free(items, count);

  wp_module *mod;
  cr_assert_eq(wp_registry_get(reg, "add", 3, &mod, &meta), 0);
  cr_assert_eq(wp_registry_get(reg, "ad", 2, &mod, NULL), WP_ENO_MODULE);
  cr_assert_eq(wp_registry_remove(reg, "add", 3, &err), 0);
  cr_assert_not(file_exists("add.json"));
  cr_assert_not(file_exists("add.wasm"));
  cr_assert_eq(wp_registry_remove(reg, "add", 3, &err), WP_ENO_MODULE);
  /* Our reference outlives the removal. */
  cr_assert_not_null(wp_module_find_export(mod, "add", 3));
  wp_module_release(mod);

  free(wasm);
  wp_registry_destroy(reg);
  wp_runtime_destroy(rt);
}

Test(registry, refuses_bad_names_and_modules_without_files) {
  wp_runtime *rt = test_runtime();
  wp_registry *reg;
  wp_error err = {0};
  cr_assert_eq(wp_registry_create(rt, dir, &reg, &err), 0);
  bool replaced;
  static const uint8_t junk[] = "\0asm\x01\0\0\0\xff\xff\xff";
  cr_assert_eq(wp_registry_deploy(reg, "../x", 4, junk, sizeof junk, 0, &replaced, NULL, &err),
               WP_EBAD_REQUEST);
  int rc = wp_registry_deploy(reg, "junk", 4, junk, sizeof junk, 0, &replaced, NULL, &err);
  cr_assert(rc == WP_EMALFORMED || rc == WP_EINVALID_MODULE, "rc %d: %s", rc, err.message);
  cr_assert_not(file_exists("junk.wasm"));
  cr_assert_not(file_exists("junk.json"));
  cr_assert_eq(wp_registry_count(reg), 0);
  wp_registry_destroy(reg);
  wp_runtime_destroy(rt);
}

Test(registry, reload_restores_what_was_deployed) {
  wp_runtime *rt = test_runtime();
  wp_registry *reg;
  wp_error err = {0};
  cr_assert_eq(wp_registry_create(rt, dir, &reg, &err), 0);
  size_t len;
  uint8_t *wasm = read_example("fib.wasm", &len);
  bool replaced;
  wp_module_meta before;
  cr_assert_eq(wp_registry_deploy(reg, "fib", 3, wasm, len, 0, &replaced, &before, &err), 0);
  cr_assert_eq(wp_registry_deploy(reg, "fib2", 4, wasm, len, 0, &replaced, NULL, &err), 0);
  cr_assert_eq(wp_registry_remove(reg, "fib2", 4, &err), 0);
  wp_registry_destroy(reg);

  /* Debris of an interrupted deploy, and a binary whose manifest never
   * landed: neither is a deployed module. */
  char path[512];
  snprintf(path, sizeof path, "%s/.tmp.x.wasm.123456", dir);
  close(open(path, O_WRONLY | O_CREAT, 0600));
  snprintf(path, sizeof path, "%s/orphan.wasm", dir);
  FILE *f = fopen(path, "wb");
  fwrite(wasm, 1, len, f);
  fclose(f);

  cr_assert_eq(wp_registry_create(rt, dir, &reg, &err), 0);
  size_t loaded, failed;
  wp_registry_reload(reg, &loaded, &failed);
  cr_assert_eq(loaded, 1);
  cr_assert_eq(failed, 0);
  cr_assert_not(file_exists(".tmp.x.wasm.123456"));
  wp_module *mod;
  wp_module_meta after;
  cr_assert_eq(wp_registry_get(reg, "fib", 3, &mod, &after), 0);
  cr_assert_eq(after.deployed_at_ms, before.deployed_at_ms);
  cr_assert_str_eq(after.sha256, before.sha256);
  cr_assert(after.cache_hit, "the reload found the compiled artifact");
  wp_module_release(mod);
  cr_assert_eq(wp_registry_get(reg, "orphan", 6, &mod, NULL), WP_ENO_MODULE);
  free(wasm);
  wp_registry_destroy(reg);
  wp_runtime_destroy(rt);
}

/* Issue 12 item 2: a delete whose files cannot be removed leaves the module
 * deployed, in memory and on disk, and names the file that failed. Root
 * ignores directory permissions, so the failure is a directory standing
 * where a file is expected (unlink says EISDIR). */
static void put_dir_in_place_of(const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  cr_assert_eq(unlink(path), 0);
  cr_assert_eq(mkdir(path, 0700), 0);
}

static void take_dir_away(const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  rmdir(path);
}

static wp_registry *registry_with_add(wp_runtime *rt) {
  wp_registry *reg;
  wp_error err = {0};
  cr_assert_eq(wp_registry_create(rt, dir, &reg, &err), 0, "%s", err.message);
  size_t len;
  uint8_t *wasm = read_example("add.wasm", &len);
  bool replaced;
  cr_assert_eq(wp_registry_deploy(reg, "add", 3, wasm, len, 0, &replaced, NULL, &err), 0, "%s",
               err.message);
  free(wasm);
  return reg;
}

Test(registry, remove_keeps_module_when_manifest_cannot_go) {
  wp_runtime *rt = test_runtime();
  wp_registry *reg = registry_with_add(rt);
  put_dir_in_place_of("add.json");
  wp_error err = {0};
  cr_assert_eq(wp_registry_remove(reg, "add", 3, &err), WP_EIO);
  cr_assert(strstr(err.message, "add.json") != NULL, "names the manifest: %s", err.message);
  wp_module *mod;
  cr_assert_eq(wp_registry_get(reg, "add", 3, &mod, NULL), 0, "still deployed in memory");
  wp_module_release(mod);
  cr_assert(file_exists("add.wasm"), "the binary was not touched");
  take_dir_away("add.json");
  wp_registry_destroy(reg);
  wp_runtime_destroy(rt);
}

Test(registry, remove_rolls_back_when_binary_cannot_go) {
  wp_runtime *rt = test_runtime();
  wp_registry *reg = registry_with_add(rt);
  char path[512];
  snprintf(path, sizeof path, "%s/add.json", dir);
  struct stat before;
  cr_assert_eq(stat(path, &before), 0);
  put_dir_in_place_of("add.wasm");
  wp_error err = {0};
  cr_assert_eq(wp_registry_remove(reg, "add", 3, &err), WP_EIO);
  cr_assert(strstr(err.message, "add.wasm") != NULL, "names the binary: %s", err.message);
  wp_module *mod;
  cr_assert_eq(wp_registry_get(reg, "add", 3, &mod, NULL), 0, "still deployed in memory");
  wp_module_release(mod);
  struct stat after;
  cr_assert_eq(stat(path, &after), 0, "the manifest was written back");
  cr_assert_eq(after.st_size, before.st_size);
  /* Once the obstacle is gone the same delete goes through. */
  take_dir_away("add.wasm");
  cr_assert_eq(wp_registry_remove(reg, "add", 3, &err), 0, "%s", err.message);
  cr_assert_not(file_exists("add.json"));
  cr_assert_eq(wp_registry_get(reg, "add", 3, &mod, NULL), WP_ENO_MODULE);
  wp_registry_destroy(reg);
  wp_runtime_destroy(rt);
}

/* Issue 12 item 7: a second registry (daemon) on the same module_dir is
 * refused with a message naming the directory and the holder's pid; the
 * directory is free again once the first one is gone. */
Test(registry, module_dir_is_locked_while_in_use) {
  wp_runtime *rt = test_runtime();
  wp_registry *first, *second = NULL;
  wp_error err = {0};
  cr_assert_eq(wp_registry_create(rt, dir, &first, &err), 0, "%s", err.message);
  cr_assert_eq(wp_registry_create(rt, dir, &second, &err), WP_ECONFLICT);
  cr_assert(strstr(err.message, dir) != NULL, "names the directory: %s", err.message);
  char pid[32];
  snprintf(pid, sizeof pid, "pid %ld", (long)getpid());
  cr_assert(strstr(err.message, pid) != NULL, "names the holder: %s", err.message);
  wp_registry_destroy(first);
  cr_assert_eq(wp_registry_create(rt, dir, &second, &err), 0, "%s", err.message);
  wp_registry_destroy(second);
  wp_runtime_destroy(rt);
}
