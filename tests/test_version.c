/* test_version.c - the version macros of ptune.h agree with each other and
 * with pt_version() of the library linked in. */
#include <stdio.h>
#include <string.h>

#include "ptune.h"
#include "test.h"

#define STR_(x) #x
#define STR(x) STR_(x)

int main(void) {
    const char *joined =
        STR(PTUNE_VERSION_MAJOR) "." STR(PTUNE_VERSION_MINOR) "." STR(PTUNE_VERSION_PATCH);
    printf("  PTUNE_VERSION_STRING %s, MAJOR.MINOR.PATCH %s, pt_version() %s\n",
           PTUNE_VERSION_STRING, joined, pt_version());
    CHECK(!strcmp(joined, PTUNE_VERSION_STRING), "the macros say %s, the string %s", joined,
          PTUNE_VERSION_STRING);
    CHECK(!strcmp(pt_version(), PTUNE_VERSION_STRING), "pt_version() %s, the header %s",
          pt_version(), PTUNE_VERSION_STRING);
    CHECK(PTUNE_VERSION_MAJOR >= 0 && PTUNE_VERSION_MINOR >= 0 && PTUNE_VERSION_PATCH >= 0,
          "negative version number");
    return t_done();
}
