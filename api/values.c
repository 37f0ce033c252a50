/*
 * values.c: SSH options and experiments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/values.h"
#include "core/jsonx.h"
#include "core/banned.h"

bool
values_ssh_split(const char *entry, size_t *key_len, const char **value)
{
    size_t at = strcspn(entry, " =");

    if (entry[at] == '\0')
        return false;
    *key_len = at;
    *value = entry + at + 1;
    return true;
}

json_t *
values_ssh_options(char *const *entries, size_t n)
{
    json_t *o = json_object();
    json_t *out = NULL;
    size_t i;

    if (o == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        const char *value;
        size_t klen;
        char *key;

        if (!values_ssh_split(entries[i], &klen, &value))
            goto out;
        key = strndup(entries[i], klen);
        if (key == NULL)
            goto out;
        json_object_set_new(o, key, jsonx_string(value));
        free(key);
    }
    out = jsonx_sorted_copy(o);
out:
    json_decref(o);
    return out;
}

static char *
lower_dup(const char *s)
{
    char *out = strdup(s);
    char *p;

    for (p = out; p != NULL && *p != '\0'; p++) {
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    }
    return out;
}

json_t *
values_experiments(char *const *items, size_t n)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; a != NULL && i < n; i++) {
        char *low;

        /* The safe list is empty, so "*" adds nothing. */
        if (strcmp(items[i], "*") == 0)
            continue;
        low = lower_dup(items[i]);
        if (low == NULL) {
            json_decref(a);
            return NULL;
        }
        json_array_append_new(a, jsonx_string(low));
        free(low);
    }
    return a;
}

json_t *
values_experiments_available(void)
{
    return json_pack("{s:[]}", "safe");
}

const char *
values_env(char *const *envp, const char *name)
{
    size_t len = strlen(name);

    for (; envp != NULL && *envp != NULL; envp++) {
        if (strncmp(*envp, name, len) == 0 && (*envp)[len] == '=')
            return *envp + len + 1;
    }
    return NULL;
}

bool
values_default_config_dir(char *const *envp, char *out, size_t size)
{
    const char *xdg = values_env(envp, "XDG_CONFIG_HOME");
    const char *home = values_env(envp, "HOME");
    int n;

    if (xdg != NULL && xdg[0] == '/')
        n = snprintf(out, size, "%s/coderv2", xdg);
    else if (home != NULL && home[0] != '\0')
        n = snprintf(out, size, "%s/.config/coderv2", home);
    else
        return false;
    return n > 0 && (size_t)n < size;
}
