#include "tradebus/error.h"

const char *tb_strerror(int err)
{
    switch (err) {
#define TB__ERR_MSG(name, value, msg)                                                              \
    case value:                                                                                    \
        return msg;
        TB_ERRNO_MAP(TB__ERR_MSG)
#undef TB__ERR_MSG
    }
    return "unknown error";
}

const char *tb_err_name(int err)
{
    switch (err) {
#define TB__ERR_NAME(name, value, msg)                                                             \
    case value:                                                                                    \
        return #name;
        TB_ERRNO_MAP(TB__ERR_NAME)
#undef TB__ERR_NAME
    }
    return "TB_E?";
}

int tb_err_is_transient(int err)
{
    return err == TB_ENOMEM || err == TB_EIO || err == TB_EFULL || err == TB_ETIMEOUT ||
           err == TB_ECONN;
}
