/* support.h - test helpers. */
#ifndef CAIRN_TEST_SUPPORT_H
#define CAIRN_TEST_SUPPORT_H

/* A fresh directory under $TMPDIR or /tmp (malloc'd path). */
char *cairn_test_tmpdir(const char *tag);
/* Removes a directory created by cairn_test_tmpdir. */
void cairn_test_rmrf(const char *dir);

#endif
