/* tmpdir.h — temporary directories of a test process, removed when it exits.
 *
 * bill_test_rm_at_exit(dir): remove `dir` and everything in it when the
 * process that called this exits (exit() or a return from main, so also a
 * Check test child after a failed assertion). A forked child that inherits
 * the list leaves its parent's directories alone. BILL_TEST_KEEP_DIRS=1 in
 * the environment keeps them all (to read a server's log after a run). */
#ifndef BILL_TEST_TMPDIR_H
#define BILL_TEST_TMPDIR_H

void bill_test_rm_at_exit(const char *dir);

/* Remove `dir` and everything in it now (an absent one is fine): 0, or -1
 * with the path that would not go said on stderr. */
int bill_test_rm_tree(const char *dir);

#endif
