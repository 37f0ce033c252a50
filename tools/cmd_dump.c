/*
 * cmd_dump.c: placeholder until the command is written.
 */
#include <stdio.h>

#include "tools/cmd.h"
#include "core/banned.h"

int
cmd_dump(int argc, char **argv, char **envp)
{
    (void)argc;
    (void)argv;
    (void)envp;
    fputs("coder-cfg: dump is not available yet\n", stderr);
    return 1;
}
