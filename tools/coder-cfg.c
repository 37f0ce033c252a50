/*
 * coder-cfg: resolves a Coder deployment's configuration, keeps its state
 * and serves Coder's General API.  This file only picks the subcommand.
 */
#include <stdio.h>
#include <string.h>

#include "core/deployment.h"
#include "tools/cmd.h"
#include "core/banned.h"

static const char usage[] =
    "usage: coder-cfg <command> [flags]\n"
    "\n"
    "commands:\n"
    "  server    serve Coder's General API (--help lists every option)\n"
    "  dump      print the resolved configuration and where each value\n"
    "            came from (--output json|yaml|table|env, --changed,\n"
    "            --show-secrets)\n"
    "  users     create and list users (users create --username U\n"
    "            --email E [--roles owner,auditor])\n"
    "  tokens    create, list and delete API tokens\n"
    "  version   print the Coder version this build presents\n";

int
main(int argc, char **argv, char **envp)
{
    const char *cmd = argc > 1 ? argv[1] : NULL;

    if (cmd == NULL || strcmp(cmd, "--help") == 0 ||
        strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage, cmd == NULL ? stderr : stdout);
        return cmd == NULL ? 2 : 0;
    }
    if (strcmp(cmd, "server") == 0)
        return cmd_server(argc - 2, argv + 2, envp);
    if (strcmp(cmd, "dump") == 0)
        return cmd_dump(argc - 2, argv + 2, envp);
    if (strcmp(cmd, "users") == 0)
        return cmd_users(argc - 2, argv + 2, envp);
    if (strcmp(cmd, "tokens") == 0)
        return cmd_tokens(argc - 2, argv + 2, envp);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("%s\n", deployment_version());
        return 0;
    }
    fprintf(stderr, "coder-cfg: unknown command \"%s\"\n\n%s", cmd, usage);
    return 2;
}
