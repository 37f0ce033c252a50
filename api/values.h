/*
 * values.h: answers derived from option values, shared by the server's
 * start-up checks (tools/cmd_server.c) and the handlers.
 *
 * Pure functions: nothing here touches the store or the network.
 */
#ifndef CODER_CFG_API_VALUES_H
#define CODER_CFG_API_VALUES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * Splits an SSH config option ("ForwardAgent yes", "ConnectTimeout=10")
 * at its first space or '='.  Returns false when it has neither, which
 * Coder refuses at start-up.
 */
bool values_ssh_split(const char *entry, size_t *key_len,
                      const char **value);

/*
 * The ssh_config_options object for entries[0..n): keys in byte order as
 * Go writes a map, a later duplicate replacing an earlier one, {} when
 * there are none.  NULL when an entry does not split or memory runs out.
 */
json_t *values_ssh_options(char *const *entries, size_t n);

/*
 * The enabled experiments as Coder reads them: in order, lower-cased,
 * "*" expanded to the safe list (empty in late 2025), never null.
 */
json_t *values_experiments(char *const *items, size_t n);

/* The safe (available) experiments: {"safe":[]} in late 2025. */
json_t *values_experiments_available(void);

/*
 * Coder's default configuration directory for envp: os.UserConfigDir()
 * plus "coderv2", i.e. $XDG_CONFIG_HOME/coderv2 or $HOME/.config/coderv2.
 * Returns false when neither variable is set (or the path is too long).
 */
bool values_default_config_dir(char *const *envp, char *out, size_t size);

/* The value of NAME in envp ("NAME=value"), or NULL. */
const char *values_env(char *const *envp, const char *name);

#endif
