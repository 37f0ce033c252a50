/*
 * cmd.h: the subcommands of the coder-cfg binary.
 *
 * Each takes the arguments after its own name (argv[0] is the first of
 * them; argc may be 0) and the process environment, prints what it has to
 * say, and returns the process exit status: 0 success, 1 a run-time
 * failure (port in use, store cannot open), 2 bad input (flags, env, YAML).
 */
#ifndef CODER_CFG_CMD_H
#define CODER_CFG_CMD_H

int cmd_server(int argc, char **argv, char **envp);
int cmd_dump(int argc, char **argv, char **envp);
int cmd_users(int argc, char **argv, char **envp);
int cmd_tokens(int argc, char **argv, char **envp);

#endif
