/* check: a tiny assertion kit for psrec's unit tests. Failures print file:line, the
 * expression and the values, keep going, and make main() return non-zero through
 * CHECK_DONE(). Checks are real code: they do not vanish under NDEBUG. */
#ifndef PSR_CHECK_H
#define PSR_CHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        check_count++;                                                                     \
        if (!(cond)) {                                                                     \
            check_failures++;                                                              \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);        \
        }                                                                                  \
    } while (0)

#define CHECK_INT(a, b)                                                                    \
    do {                                                                                   \
        long long a_ = (long long)(a), b_ = (long long)(b);                                \
        check_count++;                                                                     \
        if (a_ != b_) {                                                                    \
            check_failures++;                                                              \
            fprintf(stderr, "%s:%d: CHECK_INT failed: %s == %s (%lld vs %lld)\n", __FILE__, \
                    __LINE__, #a, #b, a_, b_);                                             \
        }                                                                                  \
    } while (0)

/* |a - b| <= atol + rtol * |b| */
#define CHECK_NEAR(a, b, atol, rtol)                                                       \
    do {                                                                                   \
        double a_ = (double)(a), b_ = (double)(b);                                         \
        check_count++;                                                                     \
        if (!(fabs(a_ - b_) <= (atol) + (rtol) * fabs(b_))) {                               \
            check_failures++;                                                              \
            fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s ~ %s (%.10g vs %.10g, diff %.3g)\n", \
                    __FILE__, __LINE__, #a, #b, a_, b_, a_ - b_);                          \
        }                                                                                  \
    } while (0)

/* substring `needle` must occur in string `hay` */
#define CHECK_CONTAINS(hay, needle)                                                        \
    do {                                                                                   \
        const char *h_ = (hay), *n_ = (needle);                                            \
        check_count++;                                                                     \
        if (!h_ || !strstr(h_, n_)) {                                                      \
            check_failures++;                                                              \
            fprintf(stderr, "%s:%d: CHECK_CONTAINS failed: \"%s\" not in \"%s\"\n", __FILE__, \
                    __LINE__, n_, h_ ? h_ : "(null)");                                     \
        }                                                                                  \
    } while (0)

#define CHECK_DONE()                                                                       \
    do {                                                                                   \
        printf("%d checks, %d failed\n", check_count, check_failures);                     \
        return check_failures ? 1 : 0;                                                     \
    } while (0)

#endif
