#ifndef CAIRN_CLMDB_SHIM_H
#define CAIRN_CLMDB_SHIM_H
#include <lmdb.h>
/* statfs(2), for the file system type under a writable map. */
#include <sys/vfs.h>
#endif
