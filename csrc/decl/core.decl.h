/* The core shim's declarations: read by cffi's cdef and by the C compiler,
 * so they cannot drift apart. Only what is declared here crosses to Python. */
#ifndef LXCPY_CORE_DECL_H
#define LXCPY_CORE_DECL_H
void lxcpy_free(void *p);
void lxcpy_free_strv(char **v);

const char *lxcpy_version(void);
bool lxcpy_has_api_extension(const char *name);
bool lxcpy_config_item_supported(const char *key);
const char *lxcpy_global_config_item(const char *key);
int lxcpy_log_setup(const char *level);
int lxcpy_list(const char *lxcpath, int which, char ***names);

struct lxcpy_handle {
	struct lxc_container *c;
	int logfd;
};
struct lxcpy_handle *lxcpy_handle_new(const char *name, const char *lxcpath);
struct lxcpy_handle *lxcpy_handle_wrap(struct lxc_container *c);
void lxcpy_handle_free(struct lxcpy_handle *h);
int lxcpy_log_attach(struct lxcpy_handle *h);
const char *lxcpy_error_string(struct lxc_container *c);
int lxcpy_error_num(struct lxc_container *c);

bool lxcpy_is_defined(struct lxc_container *c);
bool lxcpy_is_running(struct lxc_container *c);
const char *lxcpy_state(struct lxc_container *c);
int lxcpy_init_pid(struct lxc_container *c);
char *lxcpy_config_file_name(struct lxc_container *c);

bool lxcpy_load_config(struct lxc_container *c, const char *alt_file);
bool lxcpy_save_config(struct lxc_container *c, const char *alt_file);
void lxcpy_clear_config(struct lxc_container *c);
bool lxcpy_set_config_item(struct lxc_container *c, const char *key, const char *value);
bool lxcpy_clear_config_item(struct lxc_container *c, const char *key);
int lxcpy_get_config_item(struct lxc_container *c, const char *key, char *buf, int len);
char *lxcpy_get_running_config_item(struct lxc_container *c, const char *key);
int lxcpy_get_keys(struct lxc_container *c, const char *prefix, char *buf, int len);

int lxcpy_create(struct lxc_container *c, const char *t, const char *bdevtype,
                 int flags, char **argv, int outfd, int *child);
int lxcpy_start(struct lxc_container *c, int useinit, char **argv, int *child);
bool lxcpy_stop(struct lxc_container *c);
bool lxcpy_shutdown(struct lxc_container *c, int timeout);
int lxcpy_reboot(struct lxc_container *c, int timeout);
bool lxcpy_freeze(struct lxc_container *c);
bool lxcpy_unfreeze(struct lxc_container *c);
bool lxcpy_wait(struct lxc_container *c, const char *state, int timeout);
bool lxcpy_destroy(struct lxc_container *c, bool with_snapshots);
bool lxcpy_rename(struct lxc_container *c, const char *newname);
struct lxc_container *lxcpy_clone(struct lxc_container *c, const char *newname,
                                  const char *lxcpath, int flags, const char *bdevtype);

#endif
