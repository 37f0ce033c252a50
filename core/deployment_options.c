/*
 * deployment_options.c: placeholder so that the build lists every file.
 */
#include "banned.h"
