/*
 * dump_store.h: `coder-cfg dump --from-store`, what a running deployment
 * uses, read from its store rather than resolved from this shell.
 *
 * The store is found as the server finds it: PostgreSQL when
 * --postgres-url / CODER_PG_CONNECTION_URL is set, otherwise LMDB under
 * --global-config / CODER_CONFIG_DIR (or Coder's default directory).
 * The command lists the replicas, shows the latest config snapshot of
 * each live one (or of --replica ID), and with more than one replica a
 * drift section naming every option whose value or secret fingerprint
 * differs between them.  --history lists every snapshot over time.
 * Secrets show only as set or not set, never their values.
 */
#ifndef CODER_CFG_DUMP_STORE_H
#define CODER_CFG_DUMP_STORE_H

#include <stdbool.h>

/*
 * True when dump's arguments argv[0..argc) ask for --from-store (as
 * "--from-store" or "--from-store=..." before any "--").
 */
bool dump_store_wanted(int argc, char *const *argv);

/* The command; arguments, environment and exit status as in cmd.h. */
int cmd_dump_store(int argc, char **argv, char **envp);

#endif
