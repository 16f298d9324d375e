#ifndef SURVEYCHARTS_CCAIRO_SHIM_H
#define SURVEYCHARTS_CCAIRO_SHIM_H
#include <cairo.h>
#include <pango/pangocairo.h>
#endif
