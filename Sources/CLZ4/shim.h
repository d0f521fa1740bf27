#ifndef EDDY_CLZ4_SHIM_H
#define EDDY_CLZ4_SHIM_H
#include <lz4.h>
#endif
