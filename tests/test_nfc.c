/* test_nfc.c - pt_nfc_is_normalized (unicode_nfc.c) against Python's
 * unicodedata.is_normalized("NFC", ...) on tests/fixtures/bpe/nfc_cases.txt
 * (scripts/gen_nfc_cases.py). A text the check calls NFC must be NFC (0 false
 * accepts allowed); texts it cannot decide are refused, and their count is
 * printed (the price of not normalizing). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/io.h"
#include "tokenizers/unicode_nfc.h"
#include "test.h"

static int hexval(int c) {
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

int main(void) {
    char *text;
    size_t len;
    pt_status s = pt_read_file("tests/fixtures/bpe/nfc_cases.txt", &text, &len);
    CHECK(s == PT_OK, "read: %s", pt_last_error());
    if (s) return t_done();
    int n = 0, nfc = 0, false_accept = 0, false_refuse = 0, right = 0;
    for (char *line = text; line < text + len;) {
        char *nl = memchr(line, '\n', (size_t)(text + len - line));
        if (!nl) nl = text + len;
        char *tab = memchr(line, '\t', (size_t)(nl - line));
        if (tab) {
            unsigned char buf[256];
            size_t m = 0;
            for (char *h = line; h + 1 < tab && m < sizeof buf; h += 2)
                buf[m++] = (unsigned char)(hexval(h[0]) * 16 + hexval(h[1]));
            int want = tab[1] == '1';
            size_t at;
            int got = pt_nfc_is_normalized(buf, m, &at);
            n++, nfc += want;
            false_accept += got && !want;
            false_refuse += !got && want;
            right += got == want;
            if (got && !want && false_accept <= 5) {
                fprintf(stderr, "  false accept:");
                for (size_t k = 0; k < m; k++) fprintf(stderr, " %02x", buf[k]);
                fputc('\n', stderr);
            }
        }
        line = nl + 1;
    }
    printf("  NFC check (Unicode %s): %d texts (%d NFC), %d right, %d false accepts, %d NFC texts "
           "refused as undecided\n",
           pt_nfc_unicode_version, n, nfc, right, false_accept, false_refuse);
    CHECK(n >= 2000 && false_accept == 0, "%d false accepts", false_accept);
    CHECK(false_refuse * 10 <= nfc, "%d of %d NFC texts refused (more than 10%%)", false_refuse,
          nfc);
    size_t at = 99;
    CHECK(pt_nfc_is_normalized((const unsigned char *)"abc", 3, &at) == 1, "ascii");
    CHECK(pt_nfc_is_normalized((const unsigned char *)"xe\xcc\x81", 4, &at) == 0 && at == 2,
          "e + U+0301: at %zu", at);
    free(text);
    return t_done();
}
