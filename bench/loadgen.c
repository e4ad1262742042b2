/* A native load generator and echo server for the benchmark, so that neither the client nor
 * the backend is the bottleneck the figures measure (Python threads would be, at 50 clients).
 *
 *   loadgen echo PORT                       echo every byte on 127.0.0.1:PORT until killed
 *   loadgen rr PORT CLIENTS SECONDS SIZE    request/response: each client sends SIZE bytes on
 *                                           its own connection and waits for them back
 *   loadgen connect PORT CLIENTS SECONDS    new connections: connect, 64 B and its echo, close
 *   loadgen httpd PORT                      a minimal HTTP/1.1 server: each request's answer is
 *                                           200 with a 2-byte body, on a kept-alive connection
 *   loadgen http PORT CLIENTS SECONDS       HTTP/1.1 keep-alive: each client sends a GET on its
 *                                           own connection and waits for the whole response
 *
 * The load modes print one JSON line: {"ops", "seconds", "p50_us", "p99_us", "p999_us",
 * "max_us", "errors"} (the latencies of an operation: a round trip, or a whole connection).
 * Built by bench/versus.py with the system's cc; Linux only (epoll, one thread per client).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES 2000000

static int port, seconds, size;
static const char HTTP_REQUEST[] = "GET /item HTTP/1.1\r\nHost: bench\r\nUser-Agent: loadgen\r\n\r\n";
static const char HTTP_RESPONSE[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
static double deadline;
static uint32_t *samples;          /* latencies in microseconds, all clients */
static long sample_count, errors;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int dial(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int exchange(int fd, const char *out, char *in, int n) {
    if (write(fd, out, n) != n) return -1;
    for (int got = 0; got < n;) {
        ssize_t r = read(fd, in + got, n - got);
        if (r <= 0) return -1;
        got += r;
    }
    return memcmp(out, in, n) == 0 ? 0 : -1;
}

static void record(uint32_t *local, long count, long failed) {
    pthread_mutex_lock(&lock);
    for (long i = 0; i < count && sample_count < MAX_SAMPLES; i++) samples[sample_count++] = local[i];
    errors += failed;
    pthread_mutex_unlock(&lock);
}

static void *rr_client(void *arg) {
    (void)arg;
    char *out = malloc(size), *in = malloc(size);
    memset(out, 'x', size);
    uint32_t *local = malloc(sizeof(uint32_t) * (MAX_SAMPLES / 8));
    long count = 0, failed = 0;
    int fd = dial();
    if (fd < 0) failed++;
    while (fd >= 0 && now() < deadline) {
        double start = now();
        if (exchange(fd, out, in, size) < 0) {
            failed++;
            break;
        }
        if (count < MAX_SAMPLES / 8) local[count++] = (uint32_t)((now() - start) * 1e6);
    }
    if (fd >= 0) close(fd);
    record(local, count, failed);
    free(out), free(in), free(local);
    return NULL;
}

static void *http_client(void *arg) {
    (void)arg;
    int n = sizeof HTTP_RESPONSE - 1;
    char in[sizeof HTTP_RESPONSE];
    uint32_t *local = malloc(sizeof(uint32_t) * (MAX_SAMPLES / 8));
    long count = 0, failed = 0;
    int fd = dial();
    if (fd < 0) failed++;
    while (fd >= 0 && now() < deadline) {
        double start = now();
        if (write(fd, HTTP_REQUEST, sizeof HTTP_REQUEST - 1) != sizeof HTTP_REQUEST - 1) {
            failed++;
            break;
        }
        int got = 0;
        while (got < n) {
            ssize_t r = read(fd, in + got, n - got);
            if (r <= 0) break;
            got += r;
        }
        if (got < n || memcmp(in, HTTP_RESPONSE, n) != 0) {
            failed++;
            break;
        }
        if (count < MAX_SAMPLES / 8) local[count++] = (uint32_t)((now() - start) * 1e6);
    }
    if (fd >= 0) close(fd);
    record(local, count, failed);
    free(local);
    return NULL;
}

static void *connect_client(void *arg) {
    (void)arg;
    char out[64], in[64];
    memset(out, 'c', sizeof out);
    uint32_t *local = malloc(sizeof(uint32_t) * (MAX_SAMPLES / 8));
    long count = 0, failed = 0;
    while (now() < deadline) {
        double start = now();
        int fd = dial();
        if (fd < 0 || exchange(fd, out, in, sizeof out) < 0) {
            failed++;
            if (fd >= 0) close(fd);
            continue;
        }
        close(fd);
        if (count < MAX_SAMPLES / 8) local[count++] = (uint32_t)((now() - start) * 1e6);
    }
    record(local, count, failed);
    free(local);
    return NULL;
}

static int by_value(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static int load(void *(*client)(void *), int clients) {
    samples = malloc(sizeof(uint32_t) * MAX_SAMPLES);
    pthread_t *threads = calloc(clients, sizeof(pthread_t));
    double start = now();
    deadline = start + seconds;
    for (int i = 0; i < clients; i++) pthread_create(&threads[i], NULL, client, NULL);
    for (int i = 0; i < clients; i++) pthread_join(threads[i], NULL);
    double took = now() - start;
    qsort(samples, sample_count, sizeof(uint32_t), by_value);
    uint32_t p50 = sample_count ? samples[sample_count / 2] : 0;
    uint32_t p99 = sample_count ? samples[sample_count * 99 / 100] : 0;
    uint32_t p999 = sample_count ? samples[sample_count * 999 / 1000] : 0;
    uint32_t most = sample_count ? samples[sample_count - 1] : 0;
    printf("{\"ops\": %ld, \"seconds\": %.3f, \"p50_us\": %u, \"p99_us\": %u, "
           "\"p999_us\": %u, \"max_us\": %u, \"errors\": %ld}\n",
           sample_count, took, p50, p99, p999, most, errors);
    return 0;
}

/* httpd: how far each connection is into "\r\n\r\n", the end of a request's head */
static unsigned char head_end[65536];

static int answers(int fd, const char *data, ssize_t n) {
    static const char end[] = "\r\n\r\n";
    int count = 0;
    for (ssize_t i = 0; i < n; i++) {
        unsigned char at = head_end[fd];
        at = data[i] == end[at] ? at + 1 : (data[i] == '\r' ? 1 : 0);
        if (at == 4) count++, at = 0;
        head_end[fd] = at;
    }
    return count;
}

static int echo_server(int http) {
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(listener, 4096) < 0) {
        perror("echo server");
        return 1;
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = listener}, events[256];
    epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
    static char buffer[1 << 16];
    for (;;) {
        int n = epoll_wait(ep, events, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == listener) {
                int client;
                while ((client = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = client};
                    epoll_ctl(ep, EPOLL_CTL_ADD, client, &cev);
                }
                continue;
            }
            ssize_t r = read(fd, buffer, sizeof buffer);
            if (r > 0 && http) {
                /* a response per request whose head ended here (bodies: none in this load) */
                static char reply[1 << 16];
                int count = answers(fd, buffer, r), len = sizeof HTTP_RESPONSE - 1;
                if (count > (int)(sizeof reply) / len) count = sizeof reply / len;
                for (int k = 0; k < count; k++) memcpy(reply + k * len, HTTP_RESPONSE, len);
                for (ssize_t sent = 0, total = (ssize_t)count * len; sent < total;) {
                    ssize_t w = send(fd, reply + sent, total - sent, 0);
                    if (w > 0) sent += w;
                    else if (w < 0 && errno == EAGAIN) usleep(100);
                    else break;
                }
            } else if (r > 0) {
                /* a blocking write of what was read: an echo client reads as it goes */
                int flags = 0;
                for (ssize_t sent = 0; sent < r;) {
                    ssize_t w = send(fd, buffer + sent, r - sent, flags);
                    if (w > 0) sent += w;
                    else if (w < 0 && errno == EAGAIN) usleep(100);
                    else break;
                }
            } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                head_end[fd] = 0;
                close(fd);
            }
        }
    }
}

int main(int argc, char **argv) {
    if (argc >= 3 && strcmp(argv[1], "echo") == 0) {
        port = atoi(argv[2]);
        return echo_server(0);
    }
    if (argc >= 3 && strcmp(argv[1], "httpd") == 0) {
        port = atoi(argv[2]);
        return echo_server(1);
    }
    if (argc == 5 && strcmp(argv[1], "http") == 0) {
        port = atoi(argv[2]), seconds = atoi(argv[4]);
        return load(http_client, atoi(argv[3]));
    }
    if (argc == 6 && strcmp(argv[1], "rr") == 0) {
        port = atoi(argv[2]), seconds = atoi(argv[4]), size = atoi(argv[5]);
        return load(rr_client, atoi(argv[3]));
    }
    if (argc == 5 && strcmp(argv[1], "connect") == 0) {
        port = atoi(argv[2]), seconds = atoi(argv[4]);
        return load(connect_client, atoi(argv[3]));
    }
    fprintf(stderr, "usage: loadgen echo PORT | httpd PORT | rr PORT CLIENTS SECONDS SIZE | "
                    "connect PORT CLIENTS SECONDS | http PORT CLIENTS SECONDS\n");
    return 2;
}
