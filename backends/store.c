/*
 * store.c: placeholder so that the build lists every file.
 */
#include "core/banned.h"
