/*
 * The machine's ceiling for bench/ocsp: a single-threaded epoll server in C that reads one HTTP
 * request per connection (headers and Content-Length body), answers it with the bytes of a file and
 * closes the connection. It does no work per request, so no responder on one event loop can answer
 * connections faster on the same machine and load. Usage: answer-and-close <body-file>; prints its
 * port. Built by the benchmark with the system C compiler.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FDS 65536
#define REQUEST_MAX 16384

static char *pending[MAX_FDS];
static size_t filled[MAX_FDS];

/* Whole request: headers ended and as many body bytes as Content-Length says. */
static int complete(const char *buf, size_t len) {
  const char *end = memmem(buf, len, "\r\n\r\n", 4);
  if (!end) return 0;
  size_t body = 0;
  for (const char *p = buf; p < end; p = memchr(p, '\n', (size_t)(end - p)) + 1) {
    if (strncasecmp(p, "content-length:", 15) == 0) body = strtoul(p + 15, NULL, 10);
    if (!memchr(p, '\n', (size_t)(end - p))) break;
  }
  return len >= (size_t)(end + 4 - buf) + body;
}

static void finish(int ep, int fd) {
  epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
  close(fd);
  filled[fd] = 0;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  FILE *f = fopen(argv[1], "rb");
  if (!f) return 2;
  static char body[65536];
  size_t body_len = fread(body, 1, sizeof body, f);
  fclose(f);
  char *response = malloc(body_len + 256);
  int head = snprintf(response, 256,
                      "HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n",
                      body_len);
  memcpy(response + head, body, body_len);
  size_t response_len = (size_t)head + body_len;

  int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t addr_len = sizeof addr;
  if (bind(listener, (struct sockaddr *)&addr, sizeof addr) || listen(listener, 1024) ||
      getsockname(listener, (struct sockaddr *)&addr, &addr_len)) {
    perror("listen");
    return 1;
  }
  printf("%d\n", ntohs(addr.sin_port));
  fflush(stdout);

  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = listener};
  epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
  struct epoll_event events[256];
  for (;;) {
    int n = epoll_wait(ep, events, 256, -1);
    for (int i = 0; i < n; i++) {
      int fd = events[i].data.fd;
      if (fd == listener) {
        int c;
        while ((c = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          if (c >= MAX_FDS) { close(c); continue; }
          struct epoll_event e = {.events = EPOLLIN, .data.fd = c};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &e);
        }
        continue;
      }
      if (!pending[fd]) pending[fd] = malloc(REQUEST_MAX);
      ssize_t got = read(fd, pending[fd] + filled[fd], REQUEST_MAX - filled[fd]);
      if (got <= 0) { finish(ep, fd); continue; }
      filled[fd] += (size_t)got;
      if (complete(pending[fd], filled[fd]) || filled[fd] == REQUEST_MAX) {
        if (write(fd, response, response_len) < 0) perror("write");
        finish(ep, fd);
      }
    }
  }
}
