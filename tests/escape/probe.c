/*
 * Escape probes run inside the default sandbox by tests/escape.rs. Each
 * subcommand tries one attack and prints one line per attempt:
 *
 *     ESCAPED <what>      the attempt succeeded: containment is broken
 *     contained <what>: <errno text>
 *
 * and exits 0 once every attempt was made (the test fails on any ESCAPED
 * line, so a probe that crashes or is killed never counts as contained by
 * accident: the test also requires the "done" line).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/io_uring.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/un.h>
#include <stddef.h>
#include <time.h>
#include <unistd.h>

static int escaped;

/* Records the result of one attempt: `ok` true means the attack worked. */
static void report(int ok, const char *what)
{
    if (ok) {
        printf("ESCAPED %s\n", what);
        escaped = 1;
    } else {
        printf("contained %s: %s\n", what, strerror(errno));
    }
    fflush(stdout);
}

static void try_open(const char *path, int flags, const char *what)
{
    char buf[PATH_MAX + 64];
    errno = 0;
    int fd = open(path, flags | O_CLOEXEC);
    snprintf(buf, sizeof buf, "%s (open %s)", what, path);
    report(fd >= 0, buf);
    if (fd >= 0)
        close(fd);
}

static void try_write(const char *path, const char *data, const char *what)
{
    char buf[PATH_MAX + 64];
    errno = 0;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    ssize_t n = -1;
    if (fd >= 0) {
        n = write(fd, data, strlen(data));
        close(fd);
    }
    snprintf(buf, sizeof buf, "%s (write %s)", what, path);
    report(n >= 0, buf);
}

/* Every pid visible in this /proc. */
static int visible_pids(int *pids, int max)
{
    int n = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    if (!d)
        return 0;
    while ((e = readdir(d)) && n < max) {
        char *end;
        long p = strtol(e->d_name, &end, 10);
        if (*end == 0 && p > 0)
            pids[n++] = (int)p;
    }
    closedir(d);
    return n;
}

/* CVE-2019-5736: overwrite the host binary through /proc/<pid>/exe. */
static void proc_exe(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    int pids[256];
    char path[64];
    try_open("/proc/self/exe", O_WRONLY, "own exe writable");
    /* pid 1 is the sandbox's init, which runs the embedding program's binary. */
    try_open("/proc/1/exe", O_WRONLY, "init exe writable");
    try_open("/proc/1/exe", O_RDONLY, "init exe readable");
    errno = 0;
    char link[PATH_MAX];
    report(readlink("/proc/1/exe", link, sizeof link) >= 0, "init exe link readable");
    int n = visible_pids(pids, 256);
    for (int i = 0; i < n; i++) {
        if (pids[i] == getpid())
            continue;
        snprintf(path, sizeof path, "/proc/%d/exe", pids[i]);
        try_open(path, O_WRONLY, "other exe writable");
        snprintf(path, sizeof path, "/proc/%d/map_files", pids[i]);
        try_open(path, O_RDONLY | O_DIRECTORY, "other map_files");
    }
}

/* CVE-2024-21626 / CVE-2016-9962: descriptors and directories leading out
 * of the root. argv: the fd numbers the embedding process holds open. */
static void leaked_fds(int argc, char **argv)
{
    struct stat root, st;
    char buf[PATH_MAX], path[PATH_MAX];
    stat("/", &root);
    /* Only 0-2 are open (plus the directory stream used to list them). */
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int dfd = d ? dirfd(d) : -1;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        int fd = atoi(e->d_name);
        if (fd > 2 && fd != dfd) {
            snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
            ssize_t l = readlink(path, buf, 1024);
            buf[l > 0 ? l : 0] = 0;
            char what[PATH_MAX + 64];
            snprintf(what, sizeof what, "extra fd %d -> %s", fd, buf);
            errno = 0;
            report(1, what);
        }
    }
    if (d)
        closedir(d);
    for (int i = 1; i < argc; i++) {
        int fd = atoi(argv[i]);
        errno = 0;
        snprintf(buf, sizeof buf, "embedding process fd %d", fd);
        report(fcntl(fd, F_GETFD) >= 0, buf);
    }
    for (int fd = 3; fd < 1024; fd++) {
        errno = 0;
        if (fcntl(fd, F_GETFD) >= 0) {
            snprintf(buf, sizeof buf, "fd %d open", fd);
            report(1, buf);
        }
    }
    /* The working directory is inside the root: walking up ends at "/". */
    errno = 0;
    report(getcwd(path, sizeof path) == NULL, "getcwd unreachable");
    for (int i = 0; i < 64; i++)
        if (chdir("..") != 0)
            break;
    stat(".", &st);
    errno = 0;
    report(st.st_dev != root.st_dev || st.st_ino != root.st_ino, "cwd walks out of root");
    /* The magic links of this process and of init lead nowhere outside. */
    const char *links[] = {"/proc/self/cwd", "/proc/self/root", "/proc/1/cwd", "/proc/1/root"};
    for (unsigned i = 0; i < sizeof links / sizeof *links; i++) {
        errno = 0;
        int fd = open(links[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int out = 0;
        if (fd >= 0) {
            int up = openat(fd, "../../../../../../..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (up >= 0 && fstat(up, &st) == 0 &&
                (st.st_dev != root.st_dev || st.st_ino != root.st_ino))
                out = 1;
            if (up >= 0)
                close(up);
            close(fd);
        }
        snprintf(buf, sizeof buf, "%s leads out of root", links[i]);
        report(out, buf);
    }
    /* init's descriptors (its report channel, the caller's fds) stay hidden. */
    try_open("/proc/1/fd", O_RDONLY | O_DIRECTORY, "init fd directory");
    for (int fd = 0; fd < 64; fd++) {
        snprintf(path, sizeof path, "/proc/1/fd/%d", fd);
        errno = 0;
        int f = open(path, O_RDONLY | O_CLOEXEC);
        if (f >= 0) {
            snprintf(buf, sizeof buf, "init fd %d reopened", fd);
            report(1, buf);
            close(f);
        }
    }
}

/* CVE-2016-9962 and ptrace-class attacks: attach to or read the memory of
 * init (which shares the embedding process's memory) and of outside pids. */
static void ptrace_outside(int argc, char **argv)
{
    char buf[128], mem[16];
    int pids[64];
    int n = 0;
    pids[n++] = 1;
    for (int i = 1; i < argc && n < 64; i++)
        pids[n++] = atoi(argv[i]);
    for (int i = 0; i < n; i++) {
        int p = pids[i];
        errno = 0;
        snprintf(buf, sizeof buf, "PTRACE_ATTACH %d", p);
        long r = ptrace(PTRACE_ATTACH, p, 0, 0);
        report(r == 0, buf);
        if (r == 0)
            ptrace(PTRACE_DETACH, p, 0, 0);
        errno = 0;
        snprintf(buf, sizeof buf, "PTRACE_SEIZE %d", p);
        r = ptrace(PTRACE_SEIZE, p, 0, 0);
        report(r == 0, buf);
        if (r == 0)
            ptrace(PTRACE_DETACH, p, 0, 0);
        struct iovec local = {mem, sizeof mem};
        struct iovec remote = {(void *)0x400000, sizeof mem};
        errno = 0;
        snprintf(buf, sizeof buf, "process_vm_readv %d", p);
        /* EFAULT means the kernel let us in and only the address was bad. */
        r = process_vm_readv(p, &local, 1, &remote, 1, 0);
        report(r >= 0 || errno == EFAULT, buf);
        errno = 0;
        snprintf(buf, sizeof buf, "process_vm_writev %d", p);
        r = process_vm_writev(p, &local, 1, &remote, 1, 0);
        report(r >= 0 || errno == EFAULT, buf);
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/mem", p);
        try_open(path, O_RDONLY, "mem of another process");
        snprintf(path, sizeof path, "/proc/%d/environ", p);
        try_open(path, O_RDONLY, "environ of another process");
        errno = 0;
        snprintf(buf, sizeof buf, "pidfd_open %d", p);
        int fd = (int)syscall(SYS_pidfd_open, p, 0);
        int got = -1;
        if (fd >= 0) {
            /* A pidfd alone is harmless; stealing a descriptor is not. */
            got = (int)syscall(SYS_pidfd_getfd, fd, 0, 0);
            close(fd);
        }
        snprintf(buf, sizeof buf, "pidfd_getfd from %d", p);
        report(got >= 0, buf);
    }
}

/* kill(-1) and signals aimed at outside pids. argv: outside pids. */
static void signals(int argc, char **argv)
{
    char buf[128];
    for (int i = 1; i < argc; i++) {
        int p = atoi(argv[i]);
        errno = 0;
        snprintf(buf, sizeof buf, "kill(%d, SIGKILL)", p);
        report(kill(p, SIGKILL) == 0, buf);
        errno = 0;
        snprintf(buf, sizeof buf, "kill(-%d, SIGKILL)", p);
        report(kill(-p, SIGKILL) == 0, buf);
        errno = 0;
        snprintf(buf, sizeof buf, "pidfd_open(%d)", p);
        int fd = (int)syscall(SYS_pidfd_open, p, 0);
        report(fd >= 0, buf);
    }
    /* kill(-1) reaches every process of the sandbox the program may signal,
     * never the outside: the test checks its victims survive. */
    signal(SIGTERM, SIG_IGN);
    kill(-1, SIGTERM);
    kill(-1, SIGKILL);
    printf("kill(-1) sent\n");
}

/* Connect to the host's abstract unix socket named argv[1]. */
static void abstract_socket(int argc, char **argv)
{
    if (argc < 2)
        return;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t len = strlen(argv[1]);
    memcpy(a.sun_path + 1, argv[1], len);
    for (int type = SOCK_STREAM; type <= SOCK_DGRAM; type++) {
        int s = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
        errno = 0;
        int r = connect(s, (struct sockaddr *)&a, offsetof(struct sockaddr_un, sun_path) + 1 + len);
        report(r == 0, type == SOCK_STREAM ? "connect to host abstract stream socket"
                                            : "connect to host abstract datagram socket");
        close(s);
    }
}

/* Device nodes: create them, or open one planted by the host (argv[1]). */
static void devices(int argc, char **argv)
{
    errno = 0;
    report(mknod("/tmp/mem", S_IFCHR | 0666, makedev(1, 1)) == 0, "mknod char /tmp/mem");
    errno = 0;
    report(mknod("/tmp/sda", S_IFBLK | 0666, makedev(8, 0)) == 0, "mknod block /tmp/sda");
    errno = 0;
    report(mknod("/dev/mem", S_IFCHR | 0666, makedev(1, 1)) == 0, "mknod char /dev/mem");
    try_open("/dev/mem", O_RDONLY, "physical memory");
    try_open("/dev/kmsg", O_RDONLY, "kernel log");
    try_open("/dev/sda", O_RDONLY, "host disk");
    if (argc > 1)
        try_open(argv[1], O_RDWR, "host-made device node on a bind mount");
}

/* clock_settime / settimeofday / adjtimex. Sets the time to what it is, so
 * a failure of containment does no harm. */
static void clock_set(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    struct timespec ts;
    struct timeval tv;
    clock_gettime(CLOCK_REALTIME, &ts);
    errno = 0;
    report(clock_settime(CLOCK_REALTIME, &ts) == 0, "clock_settime(CLOCK_REALTIME)");
    gettimeofday(&tv, NULL);
    errno = 0;
    report(settimeofday(&tv, NULL) == 0, "settimeofday");
    struct timex tx = {0};
    adjtimex(&tx); /* read */
    tx.modes = ADJ_FREQUENCY;
    errno = 0;
    report(adjtimex(&tx) >= 0, "adjtimex(ADJ_FREQUENCY)");
    errno = 0;
    report(syscall(SYS_clock_adjtime, CLOCK_REALTIME, &tx) >= 0, "clock_adjtime");
}

/* The embedding process's environment: argv[1] is a string only it holds. */
static void environ_leak(int argc, char **argv)
{
    extern char **environ;
    if (argc < 2)
        return;
    const char *needle = argv[1];
    int found = 0;
    for (char **e = environ; *e; e++)
        if (strstr(*e, needle))
            found = 1;
    errno = 0;
    report(found, "secret in own environment");
    int pids[256];
    int n = visible_pids(pids, 255);
    pids[n++] = 1;
    for (int i = 0; i < n; i++) {
        char path[64], data[65536];
        if (pids[i] == getpid())
            continue;
        snprintf(path, sizeof path, "/proc/%d/environ", pids[i]);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t len = fd >= 0 ? read(fd, data, sizeof data - 1) : -1;
        if (fd >= 0)
            close(fd);
        int hit = 0;
        for (ssize_t j = 0; len > 0 && j < len; j += (ssize_t)strlen(data + j) + 1) {
            data[len] = 0;
            if (strstr(data + j, needle))
                hit = 1;
        }
        char what[128];
        snprintf(what, sizeof what, "secret in %s", path);
        errno = 0;
        report(hit, what);
        /* The caller's memory, through init (which shares it). */
        snprintf(path, sizeof path, "/proc/%d/mem", pids[i]);
        try_open(path, O_RDONLY, "memory of a process of the sandbox");
    }
}

/* TIOCSTI / TIOCSCTTY on the inherited terminal on fd 0. */
static void tiocsti(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    const char *cmd = "id > /tmp/pwned\n";
    if (!isatty(0)) {
        printf("fd 0 is not a terminal: nothing to try\n");
        exit(3);
    }
    errno = 0;
    int ok = 1;
    for (const char *c = cmd; *c; c++)
        if (ioctl(0, TIOCSTI, c) != 0)
            ok = 0;
    report(ok, "TIOCSTI on the inherited terminal");
    errno = 0;
    report(ioctl(0, TIOCSCTTY, 0) == 0, "TIOCSCTTY steal (force 0)");
    errno = 0;
    report(ioctl(0, TIOCSCTTY, 1) == 0, "TIOCSCTTY steal (force 1)");
    errno = 0;
    ok = 1;
    for (const char *c = cmd; *c; c++)
        if (ioctl(0, TIOCSTI, c) != 0)
            ok = 0;
    report(ok, "TIOCSTI after TIOCSCTTY");
    /* TIOCLINUX subcode 2 (set selection) and 3 (paste) on the terminal. */
    char sub = 3;
    errno = 0;
    report(ioctl(0, TIOCLINUX, &sub) == 0, "TIOCLINUX paste");
}

/* Entering other system-call ABIs: x32 and the 32-bit int 0x80 gate, used
 * to reach unshare(CLONE_NEWUSER), which the default profile denies. */
#if defined(__x86_64__)
/* One attempt through another ABI, in a child of its own: a filter that
 * kills the process (SIGSYS) for it must not end the whole probe. The child
 * exits 0 when the call worked (`ok` said so), 1 when it returned an error
 * (its errno as the low bits of the status is not needed: the report names
 * the attempt). */
static long abi_call(int which)
{
    long r;
    switch (which) {
    case 0:
        return syscall(0x40000000 | SYS_unshare, CLONE_NEWUSER);
    case 1:
        return syscall(0x40000000 | SYS_getpid);
    case 2: /* i386 unshare is 310 */
        asm volatile("int $0x80" : "=a"(r) : "a"(310L), "b"((long)CLONE_NEWUSER) : "memory");
        return r;
    default: /* i386 getpid is 20 */
        asm volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");
        return r;
    }
}

static void abi_attempt(int which, const char *what)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        printf("probe error: fork: %s\n", strerror(errno));
        exit(3);
    }
    if (pid == 0) {
        long r = abi_call(which);
        /* unshare succeeds with 0; getpid with a positive pid. */
        int worked = which % 2 == 0 ? r == 0 : r > 0;
        _exit(worked ? 0 : 1);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFSIGNALED(status)) {
        printf("contained %s: killed by signal %d%s\n", what, WTERMSIG(status),
               WTERMSIG(status) == SIGSYS ? " (SIGSYS)" : "");
        fflush(stdout);
        return;
    }
    errno = 0;
    report(WIFEXITED(status) && WEXITSTATUS(status) == 0, what);
}
#endif

static void syscall_abis(int argc, char **argv)
{
    (void)argc;
    (void)argv;
#if defined(__x86_64__)
    abi_attempt(0, "x32 unshare(CLONE_NEWUSER)");
    abi_attempt(1, "x32 getpid");
    abi_attempt(2, "int 0x80 unshare(CLONE_NEWUSER)");
    abi_attempt(3, "int 0x80 getpid");
#endif
}

/* New user namespaces inside the sandbox (and with them capabilities over
 * fresh mount, net, ... namespaces: a large kernel attack surface). */
static void nested_userns(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    errno = 0;
    report(unshare(CLONE_NEWUSER) == 0, "unshare(CLONE_NEWUSER)");
    errno = 0;
    report(unshare(CLONE_NEWNS) == 0, "unshare(CLONE_NEWNS)");
}

/* The kernel keyring: the caller's session keyring, and creating keys. */
static void keyring(int argc, char **argv)
{
    char buf[256];
    if (argc > 1) {
        errno = 0;
        long id = syscall(SYS_request_key, "user", argv[1], NULL, 0);
        long n = -1;
        if (id >= 0)
            n = syscall(SYS_keyctl, 11 /* KEYCTL_READ */, id, buf, sizeof buf);
        report(n >= 0, "read a key of the caller's session keyring");
    }
    errno = 0;
    report(syscall(SYS_add_key, "user", "stockade-escape", "x", 1, -3 /* session */) >= 0,
           "add_key to the session keyring");
    errno = 0;
    report(syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, NULL) >= 0,
           "keyctl(JOIN_SESSION_KEYRING)");
}

static void io_uring(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    errno = 0;
    int fd = (int)syscall(SYS_io_uring_setup, 4, &p);
    report(fd >= 0, "io_uring_setup");
}

/* /proc/sys, sysrq-trigger, core_pattern, and the sandbox's own cgroup. */
static void proc_writes(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    char cur[4096] = "";
    int fd = open("/proc/sys/kernel/core_pattern", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, cur, sizeof cur - 1);
        cur[n > 0 ? n : 0] = 0;
        close(fd);
    }
    /* Rewrites the current value: a failure of containment changes nothing. */
    try_write("/proc/sys/kernel/core_pattern", cur, "core_pattern");
    try_write("/proc/sysrq-trigger", "h", "sysrq-trigger");
    try_write("/proc/sys/kernel/sysrq", "0", "kernel.sysrq");
    try_write("/proc/sys/user/max_user_namespaces", "100000", "re-enable user namespaces");
    try_write("/proc/sys/kernel/unprivileged_userns_clone", "1", "re-enable user namespaces");
    try_write("/proc/sys/vm/drop_caches", "1", "drop_caches");
    try_write("/proc/sys/kernel/modprobe", "/tmp/x", "modprobe path");
    errno = 0;
    report(syscall(SYS_mount, "proc", "/proc", "proc", MS_REMOUNT, NULL) == 0, "remount /proc");
}

static void cgroup_writes(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    char line[4096] = "";
    int fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, line, sizeof line - 1);
        line[n > 0 ? n : 0] = 0;
        close(fd);
    }
    printf("cgroup: %s", line);
    const char *files[] = {"cgroup.procs", "cgroup.subtree_control", "memory.max", "pids.max",
                           "cgroup.max.descendants", "unified/cgroup.procs"};
    char path[256], pid[32];
    snprintf(pid, sizeof pid, "%d", getpid());
    for (unsigned i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "/sys/fs/cgroup/%s", files[i]);
        try_write(path, strstr(files[i], "procs") ? pid : "max", "own cgroup file");
    }
    mkdir("/tmp/cg", 0755);
    errno = 0;
    report(syscall(SYS_mount, "none", "/tmp/cg", "cgroup2", 0, NULL) == 0, "mount cgroup2");
    errno = 0;
    report(syscall(SYS_mount, "sysfs", "/tmp/cg", "sysfs", 0, NULL) == 0, "mount sysfs");
}

/* Prints the identity and capabilities (run setuid / with file caps). */
static void whoami(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    char line[256];
    FILE *f = fopen("/proc/self/status", "re");
    printf("uid %d euid %d\n", (int)getuid(), (int)geteuid());
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "Cap", 3) || !strncmp(line, "NoNewPrivs", 10))
            fputs(line, stdout);
    if (f)
        fclose(f);
}

/* Containers (CVE-2019-5736 and CVE-2016-9962 classes at entry): watches
 * the processes that enter the container after this one, which the
 * container's init starts for each exec and which hold a copy of the
 * embedding process's memory until they execute their program. Any whose
 * exe link names the embedding program (argv[1], a substring) or whose
 * memory opens before that is an escape. Runs for argv[2] milliseconds.
 * Pids in the container's pid namespace are allocated in order: the probe
 * polls the next few after the highest one it has seen, and catches up
 * with the namespace's last pid (from /proc/loadavg) when it falls behind. */
static void watch_entries(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "watch-entries NEEDLE MS\n");
        exit(2);
    }
    const char *needle = argv[1];
    long ms = atol(argv[2]);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t next = getpid() + 1;
    long polls = 0, links = 0, hits = 0;
    for (;;) {
        pid_t highest = 0;
        for (pid_t p = next; p < next + 8; p++) {
            char path[64], link[PATH_MAX];
            snprintf(path, sizeof path, "/proc/%d/exe", (int)p);
            ssize_t n = readlink(path, link, sizeof link - 1);
            polls++;
            if (n < 0)
                continue;
            link[n] = 0;
            links++;
            highest = p;
            if (strstr(link, needle)) {
                hits++;
                char what[PATH_MAX + 64];
                snprintf(what, sizeof what, "exe of an entering process: %s", link);
                if (hits <= 3)
                    report(1, what);
                snprintf(path, sizeof path, "/proc/%d/mem", (int)p);
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd >= 0) {
                    if (hits <= 3)
                        report(1, "memory of an entering process");
                    close(fd);
                }
            }
        }
        if (highest >= next)
            next = highest;
        /* Fallen behind (descheduled while several programs came and
         * went)? The last pid the namespace allocated is in /proc/loadavg. */
        if (polls % 4096 < 8) {
            FILE *f = fopen("/proc/loadavg", "re");
            long last = 0;
            if (f) {
                if (fscanf(f, "%*s %*s %*s %*s %ld", &last) != 1)
                    last = 0;
                fclose(f);
            }
            if (last > next + 6)
                next = (pid_t)last - 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >= ms)
            break;
    }
    errno = 0;
    char what[128];
    snprintf(what, sizeof what, "entering processes (%ld polls, %ld links read, %ld hits)",
             polls, links, hits);
    report(hits > 0, what);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*fn)(int, char **);
    } probes[] = {
        {"proc-exe", proc_exe},
        {"leaked-fds", leaked_fds},
        {"ptrace", ptrace_outside},
        {"signals", signals},
        {"abstract-socket", abstract_socket},
        {"devices", devices},
        {"clock", clock_set},
        {"environ", environ_leak},
        {"tiocsti", tiocsti},
        {"syscall-abis", syscall_abis},
        {"nested-userns", nested_userns},
        {"keyring", keyring},
        {"io-uring", io_uring},
        {"proc-writes", proc_writes},
        {"cgroup-writes", cgroup_writes},
        {"whoami", whoami},
        {"watch-entries", watch_entries},
    };
    const char *name = strrchr(argv[0], '/');
    name = name ? name + 1 : argv[0];
    /* Called by a subcommand, or as a renamed copy (setuid, file caps). */
    if (argc > 1 && strncmp(name, "escape-", 7) != 0) {
        name = argv[1];
        argv++;
        argc--;
    }
    for (unsigned i = 0; i < sizeof probes / sizeof *probes; i++) {
        if (!strcmp(probes[i].name, name)) {
            probes[i].fn(argc, argv);
            printf("done %s\n", name);
            return escaped;
        }
    }
    if (!strncmp(name, "escape-", 7)) {
        whoami(argc, argv);
        printf("done whoami\n");
        return 0;
    }
    fprintf(stderr, "unknown probe %s\n", name);
    return 2;
}
