/* unixserve SOCKET PROGRAM [ARG...]: listen on a unix socket and run PROGRAM for every connection, the
 * connection as its stdin and stdout (inetd for a unix socket). The test volume plugin's entrypoint: busybox
 * has no unix-socket server, so this static program (built by the test with gcc -static) stands in for one. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char *socket_path;

static void stop(int sig) {
    (void)sig;
    unlink(socket_path);
    _exit(0);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: unixserve SOCKET PROGRAM [ARG...]\n");
        return 2;
    }
    socket_path = argv[1];
    signal(SIGCHLD, SIG_IGN); /* children are reaped by the kernel */
    signal(SIGTERM, stop);    /* as pid 1 of its namespace it would ignore SIGTERM without a handler */
    signal(SIGINT, stop);
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    strncpy(address.sun_path, socket_path, sizeof address.sun_path - 1);
    int server = socket(AF_UNIX, SOCK_STREAM, 0);
    unlink(socket_path);
    if (server < 0 || bind(server, (struct sockaddr *)&address, sizeof address) < 0 || listen(server, 64) < 0) {
        perror("unixserve: listen");
        return 1;
    }
    fprintf(stderr, "unixserve: listening on %s\n", socket_path);
    for (;;) {
        int connection = accept(server, NULL, NULL);
        if (connection < 0) {
            if (errno == EINTR)
                continue;
            perror("unixserve: accept");
            return 1;
        }
        pid_t child = fork();
        if (child == 0) {
            close(server);
            dup2(connection, 0);
            dup2(connection, 1);
            close(connection);
            execv(argv[2], argv + 2);
            perror("unixserve: exec");
            _exit(127);
        }
        close(connection);
    }
}
