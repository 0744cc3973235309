#ifndef CAIRN_CXXHASH_SHIM_H
#define CAIRN_CXXHASH_SHIM_H
#include <xxhash.h>
#endif
