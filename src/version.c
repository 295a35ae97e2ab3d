/* SPDX-License-Identifier: GPL-3.0-only */
#include "masque/masque.h"

const char *masque_version(void)
{
    return MASQUE_VERSION_STRING;
}
