/*
 * greenwatchd under systemd's notification protocol: READY=1 once its bus
 * was tried, STATUS= with poll counts, WATCHDOG=1 while polls progress,
 * RELOADING=1 and READY=1 around a reload, STOPPING=1 on stop.  The test
 * plays systemd's side: a datagram socket named by NOTIFY_SOCKET.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <CUnit/Basic.h>
#include "itest.h"

static int notify_fd = -1;

/* Bind the socket greenwatchd will notify; export it as systemd does. */
static int notify_listen(void)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (temp_path(addr.sun_path, sizeof addr.sun_path, "notify") != 0)
        return -1;
    notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (notify_fd < 0 || bind(notify_fd, (struct sockaddr *)&addr, sizeof addr) != 0)
        return -1;
    setenv("NOTIFY_SOCKET", addr.sun_path, 1);
    setenv("WATCHDOG_USEC", "400000", 1);
    unsetenv("WATCHDOG_PID");
    return 0;
}

/* Wait up to timeout_ms for a message containing want; counts those seen. */
static bool notify_expect(const char *want, int timeout_ms, int *seen)
{
    long long deadline = mono_ms() + timeout_ms;
    char msg[512];
    while (mono_ms() < deadline) {
        struct pollfd pfd = { .fd = notify_fd, .events = POLLIN };
        if (poll(&pfd, 1, (int)(deadline - mono_ms())) <= 0)
            break;
        ssize_t n = recv(notify_fd, msg, sizeof msg - 1, 0);
        if (n <= 0)
            continue;
        msg[n] = '\0';
        if (strstr(msg, want)) {
            if (seen)
                (*seen)++;
            return true;
        }
    }
    return false;
}

static void test_notify_lifecycle(void)
{
    struct testdev dev = { 0 };
    struct proc d = { .pid = 0 };
    char config[512], text[1024];
    REQUIRE(notify_listen() == 0, out);
    REQUIRE(testdev_start(&dev, NULL) == 0, out);
    snprintf(text, sizeof text, CONFIG_HEAD
             "buses = ( { id = \"b\"; tcp = \"127.0.0.1:%d\"; timeout_ms = 200; } );\n"
             "devices = ( { id = \"d\"; bus = \"b\"; unit = 1; interval_s = 0.2;\n"
             "  points = ( { name = \"a\"; table = \"holding\"; address = 0; } ); } );\n", dev.port);
    REQUIRE(write_temp_file(config, sizeof config, text) == 0, out);
    REQUIRE(greenwatchd_start(&d, config) == 0, out);

    CU_ASSERT_TRUE(notify_expect("READY=1", 5000, NULL));
    CU_ASSERT_TRUE(notify_expect("STATUS=1 devices on 1 buses", 2000, NULL));
    int pings = 0;
    for (int i = 0; i < 3; i++)
        notify_expect("WATCHDOG=1", 2000, &pings);
    CU_ASSERT_EQUAL(pings, 3);

    CU_ASSERT_EQUAL(proc_kill(&d, SIGHUP), 0);
    CU_ASSERT_TRUE(notify_expect("RELOADING=1", 3000, NULL));
    CU_ASSERT_TRUE(notify_expect("READY=1", 5000, NULL));

    CU_ASSERT_EQUAL(proc_kill(&d, SIGTERM), 0);
    CU_ASSERT_TRUE(notify_expect("STOPPING=1", 5000, NULL));
    int status = -1;
    CU_ASSERT_EQUAL(proc_wait(&d, 10000, &status), 0);
    CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
out:
    proc_stop(&d, NULL);
    testdev_stop(&dev);
    if (notify_fd >= 0)
        close(notify_fd);
}

int main(void)
{
    static const struct itest_case cases[] = {
        { "READY, STATUS, WATCHDOG, RELOADING, STOPPING", test_notify_lifecycle },
    };
    return itest_main("systemd notification", cases, sizeof cases / sizeof *cases);
}
