/*
 * cmd_admin.c: placeholder until the admin commands are written.
 */
#include <stdio.h>

#include "tools/cmd.h"
#include "core/banned.h"

int
cmd_users(int argc, char **argv, char **envp)
{
    (void)argc;
    (void)argv;
    (void)envp;
    fputs("coder-cfg: users is not available yet\n", stderr);
    return 1;
}

int
cmd_tokens(int argc, char **argv, char **envp)
{
    (void)argc;
    (void)argv;
    (void)envp;
    fputs("coder-cfg: tokens is not available yet\n", stderr);
    return 1;
}
