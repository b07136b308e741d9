#ifndef CCURL_SHIM_H
#define CCURL_SHIM_H

#include <curl/curl.h>

// curl_easy_setopt and curl_easy_getinfo are C variadics, which Swift cannot call.
// One typed, non-variadic wrapper per argument kind; `static inline` keeps this header-only.

typedef size_t (*ccurl_io_callback)(char *buffer, size_t size, size_t nitems, void *userdata);
typedef int (*ccurl_xferinfo_callback)(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
                                       curl_off_t ultotal, curl_off_t ulnow);

static inline CURLcode ccurl_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_setopt_off_t(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_setopt_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_setopt_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_setopt_io_callback(CURL *h, CURLoption o, ccurl_io_callback v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_setopt_xferinfo_callback(CURL *h, ccurl_xferinfo_callback v) {
    return curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, v);
}

static inline CURLcode ccurl_getinfo_long(CURL *h, CURLINFO i, long *out) { return curl_easy_getinfo(h, i, out); }
static inline CURLcode ccurl_getinfo_socket(CURL *h, curl_socket_t *out) {
    return curl_easy_getinfo(h, CURLINFO_ACTIVESOCKET, out);
}

// Macros built from expressions may not import into Swift: re-export them as typed constants.
static const long ccurl_global_all = CURL_GLOBAL_ALL;
static const size_t ccurl_readfunc_abort = CURL_READFUNC_ABORT;
static const curl_socket_t ccurl_socket_bad = CURL_SOCKET_BAD;
static const long ccurl_usessl_none = CURLUSESSL_NONE;
static const long ccurl_usessl_try = CURLUSESSL_TRY;
static const long ccurl_usessl_all = CURLUSESSL_ALL;

#endif
