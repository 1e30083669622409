/* tests/unit/test_mpi_procs.c - the launcher's leftover ranks
 * (server/mpirun.c): parsing /proc/PID/stat, and the descendants of the
 * launcher found in a fake /proc listing, matched on (pid, start time) so
 * that a pid reused by another process does not widen the kill set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "srv_mpi.h"

#define P(pid, ppid, start) {(pid), (ppid), (start), 'S'}

static int recorded(const srv_mpi_proc *v, size_t n, pid_t pid, unsigned long long start)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].pid == pid && v[i].start == start)
            return 1;
    return 0;
}

static void test_parse_stat(void **state)
{
    (void)state;
    srv_mpi_proc e;
    /* a name with blanks and parentheses; starttime is field 22 */
    const char *line = "4321 (a) (b c)) R 77 4321 4321 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 "
                       "3 0 987654321 12345 67 18446744073709551615\n";
    assert_int_equal(srv_mpi_parse_stat(line, 4321, &e), 0);
    assert_int_equal(e.pid, 4321);
    assert_int_equal(e.ppid, 77);
    assert_int_equal(e.state, 'R');
    assert_true(e.start == 987654321ULL);
    assert_int_equal(srv_mpi_parse_stat("12 (x) S 1 2 3", 12, &e), -1); /* cut short */
    assert_int_equal(srv_mpi_parse_stat("12 no name", 12, &e), -1);
}

/* launcher 100 -> orted 101 -> ranks 102, 103 (103 with a child 104);
 * 200 and its child 201 are someone else's */
static void test_descendants_tree(void **state)
{
    (void)state;
    const srv_mpi_proc root = P(100, 50, 1000);
    srv_mpi_proc all[] = {P(201, 200, 1500), P(104, 103, 1400), P(100, 50, 1000),
                          P(102, 101, 1200), P(200, 1, 900),    P(103, 101, 1300),
                          P(101, 100, 1100), P(1, 0, 1)};
    srv_mpi_proc v[8];
    size_t n = 0;
    srv_mpi_descendants(&root, all, 8, v, &n, 8);
    assert_int_equal(n, 4);
    for (pid_t p = 101; p <= 104; p++)
        assert_true(recorded(v, n, p, 1000 + 100 * (unsigned long long)(p - 100)));
    /* a second listing adds nothing twice */
    srv_mpi_descendants(&root, all, 8, v, &n, 8);
    assert_int_equal(n, 4);
    /* the cap is kept */
    n = 0;
    srv_mpi_descendants(&root, all, 8, v, &n, 2);
    assert_int_equal(n, 2);
}

/* A rank recorded earlier (101, started at 1100) exited and its pid went
 * to an unrelated process (101 started at 5000, under init) with a child
 * 300: neither is a descendant. The launcher's own pid reused (100 started
 * at 6000) does not make 400 one either. A new rank that took the pid of a
 * recorded rank that exited (103, now started at 1350 under 102) is. */
static void test_descendants_pid_reuse(void **state)
{
    (void)state;
    const srv_mpi_proc root = P(100, 50, 1000);
    srv_mpi_proc v[8] = {P(101, 100, 1100), P(102, 101, 1200), P(103, 102, 1250)};
    size_t n = 3;
    srv_mpi_proc all[] = {P(101, 1, 5000), P(300, 101, 5100), P(102, 1, 1200), P(103, 102, 1350),
                          P(1, 0, 1)};
    srv_mpi_descendants(&root, all, 5, v, &n, 8);
    assert_int_equal(n, 4);
    assert_true(recorded(v, n, 103, 1350));
    assert_false(recorded(v, n, 300, 5100));
    assert_false(recorded(v, n, 101, 5000));

    srv_mpi_proc none[4];
    size_t nn = 0;
    srv_mpi_proc reused[] = {P(100, 1, 6000), P(400, 100, 6100)};
    srv_mpi_descendants(&root, reused, 2, none, &nn, 4);
    assert_int_equal(nn, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_stat),
        cmocka_unit_test(test_descendants_tree),
        cmocka_unit_test(test_descendants_pid_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
