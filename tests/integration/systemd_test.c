/*
 * greenwatchd under systemd's notification protocol: READY=1 once its bus
 * was tried, STATUS= with poll counts, WATCHDOG=1 while polls progress,
 * RELOADING=1 and READY=1 around a reload, STOPPING=1 on stop; pings go on
 * while a device is polled less often than the watchdog expects them, and
 * stop while a bus is wedged.  The test plays systemd's side: a datagram
 * socket named by NOTIFY_SOCKET.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
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
    unlink(addr.sun_path);  /* an earlier case's */
    notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (notify_fd < 0 || bind(notify_fd, (struct sockaddr *)&addr, sizeof addr) != 0)
        return -1;
    setenv("NOTIFY_SOCKET", addr.sun_path, 1);
    /* 0.4 s: the daemon pings at most every 0.2 s, when its loop wakes (at
     * least every 0.5 s). */
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

/* Pings counted over ms milliseconds. */
static int pings_within(int ms)
{
    int pings = 0;
    long long end = mono_ms() + ms;
    while (mono_ms() < end)
        notify_expect("WATCHDOG=1", (int)(end - mono_ms()), &pings);
    return pings;
}

/* A device polled every 5 s, with the watchdog expecting a ping every
 * 0.4 s: the bus waits for its next poll, which is not a wedge. */
static void test_quiet_site_pings(void)
{
    struct testdev dev = { 0 };
    struct proc d = { .pid = 0 };
    char config[512], text[1024];
    REQUIRE(notify_listen() == 0, out);
    REQUIRE(testdev_start(&dev, NULL) == 0, out);
    snprintf(text, sizeof text, CONFIG_HEAD
             "buses = ( { id = \"b\"; tcp = \"127.0.0.1:%d\"; timeout_ms = 200; } );\n"
             "devices = ( { id = \"d\"; bus = \"b\"; unit = 1; interval_s = 5;\n"
             "  points = ( { name = \"a\"; table = \"holding\"; address = 0; } ); } );\n", dev.port);
    REQUIRE(write_temp_file(config, sizeof config, text) == 0, out);
    REQUIRE(greenwatchd_start(&d, config) == 0, out);
    CU_ASSERT_TRUE(notify_expect("READY=1", 5000, NULL));
    /* One every 0.2 s if the loop woke that often; it waits up to 0.5 s
     * for a sample.  Without a poll in those 3 s, at least 5. */
    int pings = pings_within(3000);
    CU_ASSERT(pings >= 5);
    if (pings < 5)
        fprintf(stderr, "%d pings in 3 s\n", pings);
out:
    proc_stop(&d, NULL);
    testdev_stop(&dev);
    if (notify_fd >= 0)
        close(notify_fd);
    notify_fd = -1;
}

/* A server that accepts, takes the request and answers with a frame whose
 * byte count announces 250 bytes, and trickles them, one every 100 ms:
 * every byte arrives within libmodbus's byte timeout, so the read does not
 * time out and the bus is wedged for 25 s.  Returns the child's pid. */
static pid_t trickle_server(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t n = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 1) ||
        getsockname(fd, (struct sockaddr *)&a, &n))
        return -1;
    *port = ntohs(a.sin_port);
    pid_t pid = fork();
    if (pid != 0) {
        close(fd);
        return pid;
    }
    int c = accept(fd, NULL, NULL);
    unsigned char req[260], head[] = { 0, 1, 0, 0, 0, 253, 1, 3, 250 };
    if (c >= 0 && recv(c, req, sizeof req, 0) > 0) {
        head[0] = req[0];
        head[1] = req[1];
        for (size_t i = 0; i < sizeof head + 250; i++) {
            unsigned char b = i < sizeof head ? head[i] : 0;
            if (send(c, &b, 1, MSG_NOSIGNAL) != 1)
                break;
            usleep(100000);
        }
    }
    _exit(0);
}

static void test_wedged_bus_stops_pings(void)
{
    struct proc d = { .pid = 0 };
    char config[512], text[1024];
    int port = 0;
    pid_t server = -1;
    REQUIRE(notify_listen() == 0, out);
    REQUIRE((server = trickle_server(&port)) > 0, out);
    snprintf(text, sizeof text, CONFIG_HEAD
             "buses = ( { id = \"b\"; tcp = \"127.0.0.1:%d\"; timeout_ms = 200; } );\n"
             "devices = ( { id = \"d\"; bus = \"b\"; unit = 1; interval_s = 1;\n"
             "  points = ( { name = \"a\"; table = \"holding\"; address = 0; } ); } );\n", port);
    REQUIRE(write_temp_file(config, sizeof config, text) == 0, out);
    REQUIRE(greenwatchd_start(&d, config) == 0, out);
    CU_ASSERT_TRUE(notify_expect("READY=1", 5000, NULL));
    /* Stalled 0.2 s (half the watchdog) beyond the 0.2 s timeout after its
     * last request: from then on, no ping. */
    (void)pings_within(1500);
    CU_ASSERT_EQUAL(pings_within(3000), 0);
out:
    proc_stop(&d, NULL);
    if (server > 0) {
        kill(server, SIGTERM);
        waitpid(server, NULL, 0);
    }
    if (notify_fd >= 0)
        close(notify_fd);
    notify_fd = -1;
}

int main(void)
{
    static const struct itest_case cases[] = {
        { "READY, STATUS, WATCHDOG, RELOADING, STOPPING", test_notify_lifecycle },
        { "pings while the only device is polled every 5 s", test_quiet_site_pings },
        { "no ping while a bus is wedged", test_wedged_bus_stops_pings },
    };
    return itest_main("systemd notification", cases, sizeof cases / sizeof *cases);
}
